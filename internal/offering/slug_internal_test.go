package offering

import (
	"testing"

	"pgregory.net/rapid"
)

// isSlug must agree with the pattern that validates new slugs.
func TestIsSlugMatchesPattern(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := rapid.OneOf(rapid.StringMatching(`[a-z0-9-]{0,42}`), rapid.String()).Draw(t, "s")
		if got, want := isSlug(s), slugPattern.MatchString(s); got != want {
			t.Fatalf("isSlug(%q) = %v, pattern says %v", s, got, want)
		}
	})
}

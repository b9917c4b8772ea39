package web_test

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
)

// A donor's typed name is never dropped by surprise: the wall choice
// comes before the name field, and the invoice page says before paying
// how the gift will show.
func TestDonorSeesTheWallChoiceBeforePaying(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newSite(t, d)
		createOffering(t, s, createBody)
		b := newBrowser(t, s)
		_, page, _ := b.get("/o/my-site")
		choice, name := strings.Index(page, `data-testid="wall-choice"`), strings.Index(page, `id="donor-name"`)
		if choice < 0 || name < 0 || choice > name {
			t.Fatalf("the wall choice (at %d) must come before the name field (at %d)", choice, name)
		}
		for _, tt := range []struct {
			public, want string
		}{
			{"", "the name you typed is kept private and not shown"},
			{"0", "the name you typed is kept private and not shown"},
			{"1", "On the donor wall as “Ann”"},
		} {
			form := url.Values{"amount": {"custom"}, "custom_amount": {"100"}, "name": {"Ann"}}
			if tt.public != "" {
				form.Set("public", tt.public)
			}
			status, _, hdr := b.post("/o/my-site", "/o/my-site/donate", form)
			if status != http.StatusSeeOther {
				t.Fatalf("donate: %d", status)
			}
			_, inv, _ := b.get(hdr.Get("Location"))
			if !strings.Contains(html.UnescapeString(inv), tt.want) {
				t.Fatalf("public=%q: the invoice page does not say %q", tt.public, tt.want)
			}
		}
	})
}

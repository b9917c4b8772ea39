package web_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/money"
	"github.com/keepalive/keepalive/web"
)

var presetInput = regexp.MustCompile(`name="amount" value="(\d+)"( checked)?`)

// Presets run from a tip to generous, in friendly numbers, each saying
// what it buys, with a modest one chosen — also for an offering whose
// day costs more than the largest donation.
func TestDonatePresetsAreFriendly(t *testing.T) {
	for _, tt := range []struct {
		name, burnPerHour string
		want              []string // preset sats, ascending
		checked           string
	}{
		{"240,000 sats a day", "10000000", []string{"2000", "200000", "2000000", "10000000"}, "2000"},
		{"2,400 sats a day", "100000", []string{"2000", "20000", "100000"}, "2000"},
		{"100 sats a day", "4167", []string{"100", "500", "2000"}, "2000"},
		{"more than the largest donation a day", "100000000000", []string{"2000"}, "2000"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newSite(t, dbtest.SQLite(t))
			createOffering(t, s, strings.Replace(createBody, `"burn_rate_msat_per_hour":1000000`, `"burn_rate_msat_per_hour":`+tt.burnPerHour, 1))
			_, page, _ := s.do(t, "GET", "/o/my-site", "")
			var got []string
			checked := ""
			for _, m := range presetInput.FindAllStringSubmatch(page, -1) {
				got = append(got, m[1])
				if m[2] != "" {
					checked = m[1]
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") || checked != tt.checked {
				t.Fatalf("presets %v (checked %q), want %v (checked %q)", got, checked, tt.want, tt.checked)
			}
			if n := strings.Count(page, `class="amount__buys">≈ `); n != len(tt.want) {
				t.Fatalf("%d presets say what they buy, want %d", n, len(tt.want))
			}
		})
	}
}

// With an operator's fixed price, each preset shows a fiat equivalent;
// without one (the default), none does and nothing is fetched.
func TestDonatePresetsShowFiatWhenPriced(t *testing.T) {
	price, err := money.ParseFiatPrice("USD:95000")
	if err != nil {
		t.Fatal(err)
	}
	priced := newSiteWith(t, dbtest.SQLite(t), func(d *web.Deps) { d.Fiat = price })
	createOffering(t, priced, createBody)
	_, page, _ := priced.do(t, "GET", "/o/my-site", "")
	if !strings.Contains(page, `data-testid="preset-fiat">≈ $1.90<`) {
		t.Fatalf("the 2,000-sat preset shows no ≈ $1.90: %v", regexp.MustCompile(`preset-fiat">[^<]*`).FindAllString(page, -1))
	}
	plain := newSite(t, dbtest.SQLite(t))
	createOffering(t, plain, createBody)
	if _, page, _ := plain.do(t, "GET", "/o/my-site", ""); strings.Contains(page, "preset-fiat") {
		t.Fatal("fiat shown with no price configured")
	}
}

package money

import "testing"

func TestFiatPrice(t *testing.T) {
	usd, err := ParseFiatPrice("USD:95000")
	if err != nil {
		t.Fatal(err)
	}
	chf, _ := ParseFiatPrice("chf:80000")
	for _, tt := range []struct {
		p    FiatPrice
		m    Msat
		want string
	}{
		{usd, 2_000 * MsatPerSat, "≈ $1.90"},
		{usd, 10_000 * MsatPerSat, "≈ $9.50"},
		{usd, 1 * MsatPerSat, "≈ $0.00"},
		{usd, 100_000_000 * MsatPerSat, "≈ $95,000.00"},
		{chf, 5_000 * MsatPerSat, "≈ 4.00 CHF"},
		{FiatPrice{}, 5_000 * MsatPerSat, ""},
	} {
		if got := tt.p.Approx(tt.m); got != tt.want {
			t.Errorf("%v.Approx(%d) = %q, want %q", tt.p, tt.m, got, tt.want)
		}
	}
	for _, bad := range []string{"USD", "USD:", "USD:-1", "US:95000", "USD:1.5", "U1D:5"} {
		if _, err := ParseFiatPrice(bad); err == nil {
			t.Errorf("ParseFiatPrice(%q) accepted", bad)
		}
	}
}

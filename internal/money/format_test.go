package money

import (
	"math"
	"strconv"
	"testing"

	"pgregory.net/rapid"
)

func TestFormat(t *testing.T) {
	tests := []struct {
		m         Msat
		str, sats string
		btc       string
	}{
		{0, "0 sats", "0", "0.00000000"},
		{1, "0.001 sats", "0.001", "0.00000000001"},
		{10, "0.01 sats", "0.01", "0.0000000001"},
		{1000, "1 sat", "1", "0.00000001"},
		{1500, "1.5 sats", "1.5", "0.000000015"},
		{2000, "2 sats", "2", "0.00000002"},
		{999_999, "999.999 sats", "999.999", "0.00000999999"},
		{1_000_000, "1,000 sats", "1,000", "0.00001000"},
		{2_100_000, "2,100 sats", "2,100", "0.00002100"},
		{2_100_500, "2,100.5 sats", "2,100.5", "0.000021005"},
		{1_234_500, "1,234.5 sats", "1,234.5", "0.000012345"},
		{1_234_560, "1,234.56 sats", "1,234.56", "0.0000123456"},
		{1_234_567, "1,234.567 sats", "1,234.567", "0.00001234567"},
		{100_000_000_000, "100,000,000 sats", "100,000,000", "1.00000000"},
		{123_456_789_012, "123,456,789.012 sats", "123,456,789.012", "1.23456789012"},
		{MaxMsat, "2,100,000,000,000,000 sats", "2,100,000,000,000,000", "21000000.00000000"},
		// Ledger balances can be negative or, in a bug, out of range; they
		// still print exactly.
		{-1000, "-1 sat", "-1", "-0.00000001"},
		{-2_100_500, "-2,100.5 sats", "-2,100.5", "-0.000021005"},
		{math.MaxInt64, "9,223,372,036,854,775.807 sats", "9,223,372,036,854,775.807", "92233720.36854775807"},
		{math.MinInt64, "-9,223,372,036,854,775.808 sats", "-9,223,372,036,854,775.808", "-92233720.36854775808"},
	}
	for _, tt := range tests {
		t.Run(strconv.FormatInt(int64(tt.m), 10), func(t *testing.T) {
			if got := tt.m.String(); got != tt.str {
				t.Errorf("String() = %q, want %q", got, tt.str)
			}
			if got := FormatSats(tt.m); got != tt.sats {
				t.Errorf("FormatSats() = %q, want %q", got, tt.sats)
			}
			if got := tt.m.BTC(); got != tt.btc {
				t.Errorf("BTC() = %q, want %q", got, tt.btc)
			}
		})
	}
}

// validMsat draws amounts over the whole range, with small ones (where the
// sub-sat digits and separators matter) as likely as large ones.
func validMsat() *rapid.Generator[Msat] {
	return rapid.Map(rapid.OneOf(
		rapid.Int64Range(0, 10_000),
		rapid.Int64Range(0, 10_000_000_000),
		rapid.Int64Range(0, int64(MaxMsat)),
		rapid.Int64Range(int64(MaxMsat)-10_000, int64(MaxMsat)),
	), func(n int64) Msat { return Msat(n) })
}

func TestFormatParseRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := validMsat().Draw(t, "m")
		for _, s := range []string{
			strconv.FormatInt(int64(m), 10) + " msat",
			m.String(),
			FormatSats(m),
			FormatSats(m) + " sat",
			m.BTC() + " BTC",
		} {
			if got, err := Parse(s); err != nil || got != m {
				t.Fatalf("Parse(%q) = %d, %v; want %d", s, got, err, m)
			}
		}
		if got, err := ParseMsat(strconv.FormatInt(int64(m), 10)); err != nil || got != m {
			t.Fatalf("ParseMsat(%d) = %d, %v", m, got, err)
		}
	})
}

func TestWholeSatsRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sats := rapid.Int64Range(0, int64(MaxMsat/MsatPerSat)).Draw(t, "sats")
		m := MustSats(sats)
		s := FormatSats(m) + " sat"
		if got, err := Parse(s); err != nil || got != m || got.Sats() != sats {
			t.Fatalf("Parse(%q) = %d, %v; want %d", s, got, err, m)
		}
	})
}

func TestDisplayIsWholeSats(t *testing.T) {
	for m, want := range map[Msat]string{
		0: "0 sats", 59: "0 sats", 1000: "1 sat", 1999: "1 sat", 18_927: "18 sats",
		34_999_941: "34,999 sats", 777_777_777: "777,777 sats", -1_500: "-1 sat",
	} {
		if got := m.Display(); got != want {
			t.Errorf("Msat(%d).Display() = %q, want %q", m, got, want)
		}
	}
}

func TestParseWholeSats(t *testing.T) {
	for in, want := range map[string]Msat{"1234": 1_234_000, "2,100 sats": 2_100_000, "1.000": 1000, "5000 msat": 5000 * 1000 / 1000} {
		if got, err := ParseWholeSats(in); err != nil || got != want {
			t.Errorf("ParseWholeSats(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"1234.5", "0.001", "1500 msat", "x"} {
		if _, err := ParseWholeSats(in); err == nil {
			t.Errorf("ParseWholeSats(%q) accepted", in)
		}
	}
}

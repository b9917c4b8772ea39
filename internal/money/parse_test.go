package money

import (
	"errors"
	"strconv"
	"testing"

	"github.com/keepalive/keepalive/internal/apperr"
)

var parseTests = []struct {
	in    string
	want  Msat
	cause error
}{
	// The forms people and clients use.
	{"2100 sat", 2_100_000, nil},
	{"2100sat", 2_100_000, nil},
	{"2,100 sats", 2_100_000, nil},
	{"2100000 msat", 2_100_000, nil},
	{"2100000msats", 2_100_000, nil},
	{"2100", 2_100_000, nil},
	{"0.00002100 btc", 2_100_000, nil},
	{"0.000021 BTC", 2_100_000, nil},
	{"  2100 SAT  ", 2_100_000, nil},
	{"2100\tSats\n", 2_100_000, nil},
	{"2100 MSat", 2100, nil},
	{"\u00a02100\u00a0sat", 2_100_000, nil},
	{"0", 0, nil},
	{"0 sats", 0, nil},
	{"007 sat", 7000, nil},
	{"1,000.5 sat", 1_000_500, nil},
	{"1,234,567", 1_234_567_000, nil},
	{"1 btc", 100_000_000_000, nil},
	{"1.23456789012 btc", 123_456_789_012, nil},
	// Sub-sat precision: up to 3 decimals in sats, 11 in BTC, none in msat;
	// zeros beyond that change nothing, so they are fine.
	{"1.5 sat", 1500, nil},
	{"1.5", 1500, nil},
	{"0.001 sat", 1, nil},
	{"1.5000 sat", 1500, nil},
	{"0.00000000001 btc", 1, nil},
	{"0.000000000010 btc", 1, nil},
	{"1.0 msat", 1, nil},
	{"1.0001 sat", 0, ErrPrecision},
	{"0.0005", 0, ErrPrecision},
	{"0.000000000001 btc", 0, ErrPrecision},
	{"1.5 msat", 0, ErrPrecision},
	// Bounds.
	{"21000000 btc", MaxMsat, nil},
	{"21,000,000 BTC", MaxMsat, nil},
	{"2100000000000000 sat", MaxMsat, nil},
	{"2100000000000000000 msat", MaxMsat, nil},
	{"2100000000000000001 msat", 0, ErrRange},
	{"2100000000000000.001 sat", 0, ErrRange},
	{"2100000000000001", 0, ErrRange},
	{"21000000.00000000001 btc", 0, ErrRange},
	{"21000001 btc", 0, ErrRange},
	{"9223372036854775807 msat", 0, ErrRange},
	{"9223372036854775808 msat", 0, ErrRange},
	{"18446744073709551616 msat", 0, ErrRange},
	{"99999999999999999999999999999 sat", 0, ErrRange},
	{"92233720368547758 btc", 0, ErrRange},
	{"-1 sat", 0, ErrRange},
	{"-0", 0, ErrRange},
	{" -5", 0, ErrRange},
	{"- 5 sat", 0, ErrRange},
	{"-99999999999 btc", 0, ErrRange},
	{"-", 0, ErrSyntax},
	{"--5", 0, ErrSyntax},
	{"-abc", 0, ErrSyntax},
	// Not amounts.
	{"", 0, ErrSyntax},
	{"   ", 0, ErrSyntax},
	{"sat", 0, ErrSyntax},
	{"abc", 0, ErrSyntax},
	{"1 sat msat", 0, ErrSyntax},
	{"1 sat sat", 0, ErrSyntax},
	{"1 btc sat", 0, ErrSyntax},
	{"1satmsat", 0, ErrSyntax},
	{"1 satoshi", 0, ErrSyntax},
	{"1 usd", 0, ErrSyntax},
	{"1 2 sat", 0, ErrSyntax},
	{"1 000 sat", 0, ErrSyntax},
	{"1,00 sat", 0, ErrSyntax},
	{"1,0000", 0, ErrSyntax},
	{",100", 0, ErrSyntax},
	{"1000,", 0, ErrSyntax},
	{"1,,000", 0, ErrSyntax},
	{"1234,567", 0, ErrSyntax},
	{"1.000,5", 0, ErrSyntax},
	{"1..5", 0, ErrSyntax},
	{"1.2.3", 0, ErrSyntax},
	{"1.", 0, ErrSyntax},
	{".5", 0, ErrSyntax},
	{".", 0, ErrSyntax},
	{"+5", 0, ErrSyntax},
	{"1e3", 0, ErrSyntax},
	{"0x10", 0, ErrSyntax},
	{"\u0661\u0662", 0, ErrSyntax},
	{"1 \u017fat", 0, ErrSyntax},
	{"5 sat\x00", 0, ErrSyntax},
	{"Infinity", 0, ErrSyntax},
	{"NaN", 0, ErrSyntax},
}

func TestParse(t *testing.T) {
	for _, tt := range parseTests {
		t.Run(strconv.Quote(tt.in), func(t *testing.T) {
			got, err := Parse(tt.in)
			wantErr(t, err, tt.cause)
			if got != tt.want {
				t.Fatalf("Parse(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseMessages(t *testing.T) {
	tests := []struct{ in, want string }{
		{"22000000 btc", "amount must be at most 21,000,000 BTC"},
		{"9223372036854775808 msat", "amount must be at most 21,000,000 BTC"},
		{"-1", "amount must not be negative"},
		{"", "amount is required"},
		{"5 eur", "amount unit must be sat, msat or btc"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := Parse(tt.in)
			if got := apperr.MessageOf(err); got != tt.want {
				t.Fatalf("Parse(%q) message = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseMsat(t *testing.T) {
	tests := []struct {
		in    string
		want  Msat
		cause error
	}{
		{"0", 0, nil},
		{"123", 123, nil},
		{"00012", 12, nil},
		{"2100000000000000000", MaxMsat, nil},
		{"2100000000000000001", 0, ErrRange},
		{"9223372036854775807", 0, ErrRange},
		{"9223372036854775808", 0, ErrRange},
		{"-1", 0, ErrRange},
		{"", 0, ErrSyntax},
		{"+1", 0, ErrSyntax},
		{" 1", 0, ErrSyntax},
		{"1 ", 0, ErrSyntax},
		{"1,000", 0, ErrSyntax},
		{"1.0", 0, ErrSyntax},
		{"1msat", 0, ErrSyntax},
		{"1 sat", 0, ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(strconv.Quote(tt.in), func(t *testing.T) {
			got, err := ParseMsat(tt.in)
			wantErr(t, err, tt.cause)
			if got != tt.want {
				t.Fatalf("ParseMsat(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

// checkParseFailure requires every failure to be a coded error with a known
// cause, so that the web layer never shows internal text.
func checkParseFailure(t *testing.T, in string, err error) {
	t.Helper()
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Code != apperr.Invalid {
		t.Fatalf("Parse(%q) error %v is not apperr.Invalid", in, err)
	}
	if !errors.Is(err, ErrRange) && !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrPrecision) {
		t.Fatalf("Parse(%q) error %v has no known cause", in, err)
	}
}

func FuzzParse(f *testing.F) {
	for _, tt := range parseTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		m, err := Parse(in)
		if err != nil {
			checkParseFailure(t, in, err)
			return
		}
		if !m.Valid() {
			t.Fatalf("Parse(%q) = %d, not Valid", in, m)
		}
		for _, again := range []string{
			strconv.FormatInt(int64(m), 10) + " msat",
			m.String(),
			m.BTC() + " btc",
		} {
			if got, err := Parse(again); err != nil || got != m {
				t.Fatalf("Parse(%q) = %d; Parse(%q) = %d, %v", in, m, again, got, err)
			}
		}
	})
}

func FuzzParseMsat(f *testing.F) {
	for _, s := range []string{"0", "123", "2100000000000000000", "9223372036854775808", "-1", "+1", "1e3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		m, err := ParseMsat(in)
		n, perr := strconv.ParseUint(in, 10, 64)
		ok := perr == nil && n <= uint64(MaxMsat)
		if ok != (err == nil) {
			t.Fatalf("ParseMsat(%q) = %d, %v; strconv says %d, %v", in, m, err, n, perr)
		}
		if err != nil {
			checkParseFailure(t, in, err)
			return
		}
		if uint64(m) != n {
			t.Fatalf("ParseMsat(%q) = %d, want %d", in, m, n)
		}
	})
}

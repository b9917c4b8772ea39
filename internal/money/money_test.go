package money

import (
	"errors"
	"math"
	"math/big"
	"testing"

	"github.com/keepalive/keepalive/internal/apperr"
	"pgregory.net/rapid"
)

// wantErr checks that err is an apperr.Invalid carrying cause, or nil when
// cause is nil.
func wantErr(t testing.TB, err, cause error) {
	t.Helper()
	if cause == nil {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("got no error, want %v", cause)
	}
	if !errors.Is(err, cause) {
		t.Fatalf("error %v does not wrap %v", err, cause)
	}
	if apperr.CodeOf(err) != apperr.Invalid {
		t.Fatalf("error %v has code %s, want %s", err, apperr.CodeOf(err), apperr.Invalid)
	}
	if apperr.MessageOf(err) == "" {
		t.Fatalf("error %v has no message for people", err)
	}
}

func TestFromSatsAndMsat(t *testing.T) {
	maxSats := int64(MaxMsat / MsatPerSat)
	tests := []struct {
		name  string
		sats  int64
		want  Msat
		cause error
	}{
		{"zero", 0, 0, nil},
		{"one", 1, 1000, nil},
		{"max", maxSats, MaxMsat, nil},
		{"above max", maxSats + 1, 0, ErrRange},
		{"would overflow when multiplied", math.MaxInt64 / 999, 0, ErrRange},
		{"int64 max", math.MaxInt64, 0, ErrRange},
		{"negative", -1, 0, ErrRange},
		{"int64 min", math.MinInt64, 0, ErrRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromSats(tt.sats)
			wantErr(t, err, tt.cause)
			if got != tt.want {
				t.Fatalf("FromSats(%d) = %d, want %d", tt.sats, got, tt.want)
			}
		})
	}

	msatTests := []struct {
		name  string
		msat  int64
		cause error
	}{
		{"zero", 0, nil},
		{"max", int64(MaxMsat), nil},
		{"above max", int64(MaxMsat) + 1, ErrRange},
		{"negative", -1, ErrRange},
		{"int64 max", math.MaxInt64, ErrRange},
	}
	for _, tt := range msatTests {
		t.Run("msat "+tt.name, func(t *testing.T) {
			got, err := FromMsat(tt.msat)
			wantErr(t, err, tt.cause)
			if tt.cause == nil && got != Msat(tt.msat) {
				t.Fatalf("FromMsat(%d) = %d", tt.msat, got)
			}
		})
	}
}

func TestMustSats(t *testing.T) {
	if got := MustSats(21); got != 21_000 {
		t.Fatalf("MustSats(21) = %d, want 21000", got)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("MustSats(-1) did not panic")
		}
	}()
	MustSats(-1)
}

func TestAddSub(t *testing.T) {
	tests := []struct {
		name     string
		a, b     Msat
		sum      Msat
		sumCause error
		diff     Msat
		subCause error
	}{
		{"zeros", 0, 0, 0, nil, 0, nil},
		{"small", 5, 3, 8, nil, 2, nil},
		{"sub below zero", 3, 5, 8, nil, 0, ErrRange},
		{"sum exactly max", MaxMsat - 1, 1, MaxMsat, nil, MaxMsat - 2, nil},
		{"sum above max", MaxMsat, 1, 0, ErrRange, MaxMsat - 1, nil},
		{"max minus max", MaxMsat, MaxMsat, 0, ErrRange, 0, nil},
		{"negative operand", -1, 1, 0, ErrRange, 0, ErrRange},
		{"operand above max", MaxMsat + 1, 0, 0, ErrRange, 0, ErrRange},
		{"int64 extremes", math.MaxInt64, math.MinInt64, 0, ErrRange, 0, ErrRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sum, err := Add(tt.a, tt.b)
			wantErr(t, err, tt.sumCause)
			if sum != tt.sum {
				t.Errorf("Add(%d, %d) = %d, want %d", tt.a, tt.b, sum, tt.sum)
			}
			diff, err := Sub(tt.a, tt.b)
			wantErr(t, err, tt.subCause)
			if diff != tt.diff {
				t.Errorf("Sub(%d, %d) = %d, want %d", tt.a, tt.b, diff, tt.diff)
			}
		})
	}
}

func TestMulDiv(t *testing.T) {
	tests := []struct {
		name     string
		a        Msat
		num, den int64
		want     Msat
		cause    error
	}{
		{"identity", 12345, 1, 1, 12345, nil},
		{"floors", 10, 1, 3, 3, nil},
		{"rate times seconds", 3_600_000, 1, 3600, 1000, nil},
		{"zero num", MaxMsat, 0, 7, 0, nil},
		{"product beyond int64", MaxMsat, math.MaxInt64, math.MaxInt64, MaxMsat, nil},
		{"ppm of max", MaxMsat, 999_999, 1_000_000, MaxMsat / 1_000_000 * 999_999, nil},
		{"result above max", MaxMsat, 2, 1, 0, ErrRange},
		{"quotient beyond 64 bits", MaxMsat, math.MaxInt64, 1, 0, ErrRange},
		{"zero den", 1, 1, 0, 0, ErrRange},
		{"negative den", 1, 1, -1, 0, ErrRange},
		{"negative num", 1, -1, 1, 0, ErrRange},
		{"negative amount", -1, 1, 1, 0, ErrRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := MulDiv(tt.a, tt.num, tt.den)
			wantErr(t, err, tt.cause)
			if got != tt.want {
				t.Fatalf("MulDiv(%d, %d, %d) = %d, want %d", tt.a, tt.num, tt.den, got, tt.want)
			}
		})
	}
}

func TestMulDivMatchesBigInt(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a := Msat(rapid.Int64Range(0, int64(MaxMsat)).Draw(t, "a"))
		num := rapid.Int64Range(0, math.MaxInt64).Draw(t, "num")
		den := rapid.Int64Range(1, math.MaxInt64).Draw(t, "den")
		want := new(big.Int).Mul(big.NewInt(int64(a)), big.NewInt(num))
		want.Quo(want, big.NewInt(den))
		got, err := MulDiv(a, num, den)
		if want.Cmp(big.NewInt(int64(MaxMsat))) > 0 {
			if !errors.Is(err, ErrRange) {
				t.Fatalf("MulDiv(%d, %d, %d) = %d, %v; want a range error", a, num, den, got, err)
			}
			return
		}
		if err != nil || int64(got) != want.Int64() {
			t.Fatalf("MulDiv(%d, %d, %d) = %d, %v; want %s", a, num, den, got, err, want)
		}
	})
}

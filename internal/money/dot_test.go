package money

import (
	"math"
	"math/big"
	"testing"

	"pgregory.net/rapid"
)

func TestDotDiv(t *testing.T) {
	tests := []struct {
		name    string
		amounts []Msat
		weights []uint64
		den     uint64
		want    Msat
		wantErr bool
	}{
		{"empty", nil, nil, 10000, 0, false},
		{"floor", []Msat{3}, []uint64{1}, 2, 1, false},
		// The sponsorship worked example's first charge, in msat:
		// (10000−6000)·8,000,000 + (6000−3000)·5,000,000 + 3000·2,000,000.
		{"vcg charge", []Msat{8_000_000, 5_000_000, 2_000_000}, []uint64{4000, 3000, 3000}, 10000, 5_300_000, false},
		// MaxMsat·10000 needs more than 64 bits before the division.
		{"wide product", []Msat{MaxMsat, MaxMsat}, []uint64{6000, 4000}, 10000, MaxMsat, false},
		{"above max", []Msat{MaxMsat, 1}, []uint64{1, 1}, 1, 0, true},
		{"quotient over 64 bits", []Msat{MaxMsat}, []uint64{math.MaxUint64}, 1, 0, true},
		{"negative amount", []Msat{-1}, []uint64{1}, 1, 0, true},
		{"zero divisor", []Msat{1}, []uint64{1}, 0, 0, true},
		{"length mismatch", []Msat{1}, nil, 1, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DotDiv(tt.amounts, tt.weights, tt.den)
			if (err != nil) != tt.wantErr {
				t.Fatalf("DotDiv() error = %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("DotDiv() = %d, want %d", got, tt.want)
			}
		})
	}
}

// TestDotDivMatchesBig checks the 128-bit arithmetic against math/big.
func TestDotDivMatchesBig(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(0, 12).Draw(t, "n")
		amounts := make([]Msat, n)
		weights := make([]uint64, n)
		want := new(big.Int)
		for i := range n {
			amounts[i] = Msat(rapid.Int64Range(0, int64(MaxMsat)).Draw(t, "amount"))
			weights[i] = rapid.Uint64Range(0, 1<<20).Draw(t, "weight")
			want.Add(want, new(big.Int).Mul(big.NewInt(int64(amounts[i])), new(big.Int).SetUint64(weights[i])))
		}
		den := rapid.Uint64Range(1, math.MaxUint64).Draw(t, "den")
		want.Quo(want, new(big.Int).SetUint64(den))
		got, err := DotDiv(amounts, weights, den)
		if want.Cmp(big.NewInt(int64(MaxMsat))) > 0 {
			if err == nil {
				t.Fatalf("DotDiv = %d, want an error for %s", got, want)
			}
			return
		}
		if err != nil || int64(got) != want.Int64() {
			t.Fatalf("DotDiv = %d, %v; want %s", got, err, want)
		}
	})
}

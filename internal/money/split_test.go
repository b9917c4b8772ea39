package money

import (
	"errors"
	"math"
	"math/big"
	"slices"
	"strconv"
	"testing"

	"pgregory.net/rapid"
)

func TestSplit(t *testing.T) {
	tests := []struct {
		name    string
		total   Msat
		weights []uint64
		want    []Msat
	}{
		{"one party takes all", 1001, []uint64{7}, []Msat{1001}},
		{"even", 9, []uint64{1, 1, 1}, []Msat{3, 3, 3}},
		{"earlier index wins ties", 10, []uint64{1, 1, 1}, []Msat{4, 3, 3}},
		{"two ties", 11, []uint64{1, 1, 1}, []Msat{4, 4, 3}},
		// 100·(1,2,3)/6 = 16.67, 33.33, 50: the largest remainder, not the
		// first party, gets the spare msat.
		{"largest remainder", 100, []uint64{1, 2, 3}, []Msat{17, 33, 50}},
		{"remainder to the last", 100, []uint64{3, 2, 1}, []Msat{50, 33, 17}},
		{"zero weight gets nothing", 5, []uint64{0, 1, 0, 1}, []Msat{0, 3, 0, 2}},
		{"zero total", 0, []uint64{1, 2}, []Msat{0, 0}},
		{"max total", MaxMsat, []uint64{1, 1, 1}, []Msat{MaxMsat / 3, MaxMsat / 3, MaxMsat / 3}},
		// The weight sum exceeds 64 bits: 128-bit sums and division.
		{"huge weights", 10, []uint64{math.MaxUint64, math.MaxUint64, 1}, []Msat{5, 5, 0}},
		{"huge weights, odd", 7, []uint64{math.MaxUint64, math.MaxUint64 - 1, math.MaxUint64}, []Msat{3, 2, 2}},
		{"max total, huge weights", MaxMsat, []uint64{math.MaxUint64, math.MaxUint64}, []Msat{MaxMsat / 2, MaxMsat / 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Split(tt.total, tt.weights)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("Split(%d, %v) = %v, want %v", tt.total, tt.weights, got, tt.want)
			}
		})
	}
}

func TestSplitErrors(t *testing.T) {
	tests := []struct {
		name    string
		total   Msat
		weights []uint64
	}{
		{"no parties", 10, nil},
		{"all weights zero", 10, []uint64{0, 0}},
		{"negative total", -1, []uint64{1}},
		{"total above max", MaxMsat + 1, []uint64{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := Split(tt.total, tt.weights); err == nil {
				t.Fatalf("Split(%d, %v) = %v, want an error", tt.total, tt.weights, got)
			}
		})
	}
}

func TestSplitCapped(t *testing.T) {
	tests := []struct {
		name     string
		total    Msat
		weights  []uint64
		caps     []Msat
		want     []Msat
		leftover Msat
	}{
		{"no cap binds", 100, []uint64{1, 2, 3}, []Msat{100, 100, 100}, []Msat{17, 33, 50}, 0},
		{"cap reached exactly", 100, []uint64{1, 1}, []Msat{50, 50}, []Msat{50, 50}, 0},
		{"one capped, excess to the other", 100, []uint64{1, 1}, []Msat{10, 1000}, []Msat{10, 90}, 0},
		// 90 left for weights 1 and 2 after the cap: 30 and 60.
		{"excess re-split by weight", 100, []uint64{1, 1, 2}, []Msat{10, 1000, 1000}, []Msat{10, 30, 60}, 0},
		// First round 25 each: only the first is over. Second round 45 for
		// three: 15 each, now the second is over. Then 40 for two: 20 each.
		{"cascade", 100, []uint64{1, 1, 1, 1}, []Msat{10, 12, 1000, 1000}, []Msat{10, 12, 39, 39}, 0},
		{"everyone capped", 100, []uint64{1, 3}, []Msat{10, 20}, []Msat{10, 20}, 70},
		{"cap zero gets nothing", 100, []uint64{5, 1}, []Msat{0, 1000}, []Msat{0, 100}, 0},
		{"all caps zero", 100, []uint64{1, 1}, []Msat{0, 0}, []Msat{0, 0}, 100},
		{"zero weight gets nothing", 100, []uint64{0, 1}, []Msat{1000, 30}, []Msat{0, 30}, 70},
		{"no parties", 100, nil, nil, []Msat{}, 100},
		{"zero total", 0, []uint64{1, 1}, []Msat{5, 5}, []Msat{0, 0}, 0},
		{"caps above max are no cap", MaxMsat, []uint64{1, 1}, []Msat{math.MaxInt64, 1}, []Msat{MaxMsat - 1, 1}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, leftover, err := SplitCapped(tt.total, tt.weights, tt.caps)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) || leftover != tt.leftover {
				t.Fatalf("SplitCapped(%d, %v, %v) = %v, %d; want %v, %d",
					tt.total, tt.weights, tt.caps, got, leftover, tt.want, tt.leftover)
			}
		})
	}
}

func TestSplitCappedErrors(t *testing.T) {
	tests := []struct {
		name    string
		total   Msat
		weights []uint64
		caps    []Msat
	}{
		{"negative cap", 10, []uint64{1, 1}, []Msat{5, -1}},
		{"caps and weights differ", 10, []uint64{1, 1}, []Msat{5}},
		{"negative total", -1, []uint64{1}, []Msat{5}},
		{"total above max", MaxMsat + 1, []uint64{1}, []Msat{5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := SplitCapped(tt.total, tt.weights, tt.caps); err == nil {
				t.Fatalf("SplitCapped(%d, %v, %v): want an error", tt.total, tt.weights, tt.caps)
			}
		})
	}
}

// drawWeights draws 1 to 40 weights, small, large, zero and near 2^64
// alike, with at least one above zero.
func drawWeights(t *rapid.T) []uint64 {
	w := rapid.SliceOfN(rapid.OneOf(
		rapid.Uint64Range(0, 3),
		rapid.Uint64Range(0, 1_000_000),
		rapid.Uint64(),
		rapid.Uint64Range(math.MaxUint64-3, math.MaxUint64),
	), 1, 40).Draw(t, "weights")
	if !slices.ContainsFunc(w, func(x uint64) bool { return x > 0 }) {
		w[0] = 1
	}
	return w
}

func bigSum(weights []uint64) *big.Int {
	sum := new(big.Int)
	for _, w := range weights {
		sum.Add(sum, new(big.Int).SetUint64(w))
	}
	return sum
}

// exactShare returns floor(total·w/W) and its remainder.
func exactShare(total Msat, w uint64, sum *big.Int) (q Msat, r *big.Int) {
	p := new(big.Int).Mul(big.NewInt(int64(total)), new(big.Int).SetUint64(w))
	qq, rr := new(big.Int).QuoRem(p, sum, new(big.Int))
	return Msat(qq.Int64()), rr
}

func TestSplitProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		weights := drawWeights(t)
		total := validMsat().Draw(t, "total")
		parts, err := Split(total, weights)
		if err != nil {
			t.Fatal(err)
		}
		sum := bigSum(weights)
		var given Msat
		rems := make([]*big.Int, len(weights))
		bumped := make([]bool, len(weights))
		for i, w := range weights {
			given += parts[i]
			q, r := exactShare(total, w, sum)
			rems[i] = r
			// Within 1 msat of total·w/W: its floor, or one more when
			// there is a fraction.
			switch {
			case parts[i] == q:
			case parts[i] == q+1 && r.Sign() > 0:
				bumped[i] = true
			default:
				t.Fatalf("part %d = %d, exact share %d + %s/%s", i, parts[i], q, r, sum)
			}
		}
		if given != total {
			t.Fatalf("parts %v sum to %d, want %d", parts, given, total)
		}
		for i := range weights {
			for j := range weights {
				if weights[i] > weights[j] && parts[i] < parts[j] {
					t.Fatalf("weight %d got %d, less than weight %d got %d", weights[i], parts[i], weights[j], parts[j])
				}
				// The spare msat went to the largest remainders, earlier
				// index first.
				if bumped[i] && !bumped[j] {
					c := rems[i].Cmp(rems[j])
					if c < 0 || (c == 0 && i > j) {
						t.Fatalf("party %d (remainder %s) got a spare msat before party %d (remainder %s)", i, rems[i], j, rems[j])
					}
				}
			}
		}
	})
}

func TestSplitCappedProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		weights := drawWeights(t)
		total := validMsat().Draw(t, "total")
		caps := make([]Msat, len(weights))
		for i := range caps {
			caps[i] = Msat(rapid.OneOf(
				rapid.Int64Range(0, 100),
				rapid.Int64Range(0, int64(total)),
				rapid.Just(int64(math.MaxInt64)),
			).Draw(t, "cap"+strconv.Itoa(i)))
		}
		parts, leftover, err := SplitCapped(total, weights, caps)
		if err != nil {
			t.Fatal(err)
		}
		sum := bigSum(weights)
		given := leftover
		for i, p := range parts {
			given += p
			if p < 0 || p > caps[i] {
				t.Fatalf("part %d = %d, cap %d", i, p, caps[i])
			}
			if weights[i] == 0 && p != 0 {
				t.Fatalf("zero weight %d got %d", i, p)
			}
			// Caps never make an uncapped party worse off.
			if q, _ := exactShare(total, weights[i], sum); p < caps[i] && p < q {
				t.Fatalf("uncapped part %d = %d, below its uncapped share %d", i, p, q)
			}
			if leftover > 0 && weights[i] > 0 && p != caps[i] {
				t.Fatalf("leftover %d while party %d is below its cap (%d < %d)", leftover, i, p, caps[i])
			}
		}
		if leftover < 0 || given != total {
			t.Fatalf("parts %v + leftover %d = %d, want %d", parts, leftover, given, total)
		}
		// Water level: uncapped parties share at one level per weight, give
		// or take an msat each, and no capped party's cap is above it.
		for i := range parts {
			if weights[i] == 0 || parts[i] >= caps[i] {
				continue
			}
			wi := new(big.Int).SetUint64(weights[i])
			for j := range parts {
				if weights[j] == 0 || caps[j] == 0 {
					continue
				}
				wj := new(big.Int).SetUint64(weights[j])
				pi, pj := big.NewInt(int64(parts[i])), big.NewInt(int64(parts[j]))
				if parts[j] < caps[j] {
					d := new(big.Int).Sub(new(big.Int).Mul(pi, wj), new(big.Int).Mul(pj, wi))
					if d.Abs(d).Cmp(new(big.Int).Add(wi, wj)) >= 0 {
						t.Fatalf("uncapped %d (w %d) got %d, uncapped %d (w %d) got %d: not one level", i, wi, pi, j, wj, pj)
					}
				} else {
					// The level L is below (part_i+1)/w_i, a clipped cap is
					// below L·w_j and one merely reached is below L·w_j+1.
					lhs := new(big.Int).Mul(big.NewInt(int64(caps[j])), wi)
					rhs := new(big.Int).Mul(new(big.Int).Add(pi, big.NewInt(1)), wj)
					rhs.Add(rhs, wi)
					if lhs.Cmp(rhs) >= 0 {
						t.Fatalf("capped %d (cap %d, w %d) above the level of uncapped %d (%d, w %d)", j, caps[j], wj, i, pi, wi)
					}
				}
			}
		}
	})
}

func TestSplitCappedWithoutBindingCapsIsSplit(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		weights := drawWeights(t)
		total := validMsat().Draw(t, "total")
		caps := make([]Msat, len(weights))
		for i := range caps {
			caps[i] = Msat(rapid.Int64Range(int64(total), math.MaxInt64).Draw(t, "cap"+strconv.Itoa(i)))
		}
		want, err := Split(total, weights)
		if err != nil {
			t.Fatal(err)
		}
		got, leftover, err := SplitCapped(total, weights, caps)
		if err != nil || leftover != 0 || !slices.Equal(got, want) {
			t.Fatalf("SplitCapped = %v, %d, %v; Split = %v", got, leftover, err, want)
		}
	})
}

func TestDivModMatchesBigInt(t *testing.T) {
	two64 := new(big.Int).Lsh(big.NewInt(1), 64)
	toBig := func(x u128) *big.Int {
		b := new(big.Int).SetUint64(x.hi)
		return b.Mul(b, two64).Add(b, new(big.Int).SetUint64(x.lo))
	}
	rapid.Check(t, func(t *rapid.T) {
		word := rapid.OneOf(rapid.Uint64(), rapid.Uint64Range(0, 3), rapid.Uint64Range(math.MaxUint64-3, math.MaxUint64))
		x := u128{word.Draw(t, "xhi"), word.Draw(t, "xlo")}
		v := u128{word.Draw(t, "vhi"), word.Draw(t, "vlo")}
		if v.isZero() || (v.hi == 0 && x.hi >= v.lo) {
			t.Skip("quotient does not fit in 64 bits")
		}
		q, r := x.divMod(v)
		wantQ, wantR := new(big.Int).QuoRem(toBig(x), toBig(v), new(big.Int))
		if !wantQ.IsUint64() || wantQ.Uint64() != q || toBig(r).Cmp(wantR) != 0 {
			t.Fatalf("%v / %v = %d rem %v; want %s rem %s", x, v, q, r, wantQ, wantR)
		}
	})
}

func TestSplitErrorsAreNotForPeople(t *testing.T) {
	_, err := Split(1, []uint64{0})
	if !errors.Is(err, errZeroWeights) {
		t.Fatalf("Split with zero weights: %v", err)
	}
}

func benchWeights(n int) []uint64 {
	w := make([]uint64, n)
	// Deterministic, varied weights: principal amounts in msat.
	x := uint64(88172645463325252)
	for i := range w {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		w[i] = x % 1_000_000_000_000
	}
	return w
}

func BenchmarkSplit1000(b *testing.B) {
	w := benchWeights(1000)
	for b.Loop() {
		if _, err := Split(MaxMsat-12345, w); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSplitCapped1000 caps all but one party in the first round and
// the last in the second, leaving a leftover.
func BenchmarkSplitCapped1000(b *testing.B) {
	w := make([]uint64, 1000)
	caps := make([]Msat, 1000)
	for i := range w {
		w[i] = 1
		caps[i] = Msat(i + 1)
	}
	for b.Loop() {
		if _, _, err := SplitCapped(1_000_000, w, caps); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSelectFirstMatchesSort: the selection gives the same first k as a
// full sort, ties included (many equal values, beyond the small-range
// cut-off).
func TestSelectFirstMatchesSort(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		vals := rapid.SliceOfN(rapid.IntRange(0, 5), 0, 300).Draw(t, "vals")
		k := rapid.IntRange(0, len(vals)).Draw(t, "k")
		less := func(a, b int) bool {
			if vals[a] != vals[b] {
				return vals[a] > vals[b]
			}
			return a < b
		}
		got := seq(len(vals))
		selectFirst(got, k, less)
		want := seq(len(vals))
		slices.SortFunc(want, func(a, b int) int {
			if less(a, b) {
				return -1
			}
			return 1
		})
		g, w := slices.Clone(got[:k]), want[:k]
		slices.Sort(g)
		w = slices.Clone(w)
		slices.Sort(w)
		if !slices.Equal(g, w) {
			t.Fatalf("first %d: %v, want %v", k, g, w)
		}
	})
}

package invest

import (
	"math/big"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/keepalive/keepalive/internal/money"
)

func genStakes(t *rapid.T, share int) []stake {
	n := rapid.IntRange(0, 40).Draw(t, "n")
	stakes := make([]stake, n)
	for i := range stakes {
		p := money.Msat(rapid.OneOf(rapid.Int64Range(1, 1_000), rapid.Int64Range(1, int64(money.MaxMsat)/64)).Draw(t, "principal"))
		stakes[i] = stake{id: int64(i + 1), principal: p, shareBps: share,
			room: money.Msat(rapid.Int64Range(0, int64(p)*2).Draw(t, "room"))}
	}
	return stakes
}

// TestAllocateProperties: the split's promises, on random rounds.
func TestAllocateProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		share := rapid.IntRange(0, MaxShareBps).Draw(t, "share")
		stakes := genStakes(t, share)
		r := money.Msat(rapid.OneOf(rapid.Int64Range(1, 10_000), rapid.Int64Range(1, int64(money.MaxMsat))).Draw(t, "r"))
		parts, investors, err := allocate(r, stakes)
		if err != nil {
			t.Fatal(err)
		}
		p := money.Msat(0)
		if len(stakes) > 0 {
			p, _ = money.MulDiv(r, int64(share), MaxShareBps)
		}
		var sum money.Msat
		everyoneCapped := true
		for i, part := range parts {
			if part < 0 || part > stakes[i].room {
				t.Fatalf("stake %d: part %d, room %d", i, part, stakes[i].room)
			}
			if part < stakes[i].room {
				everyoneCapped = false
			}
			sum += part
		}
		// Parts sum to what investors get; the rest of P is left over only
		// when everyone is capped, and R − investors is the runway's.
		if sum != investors || investors > p || investors > r {
			t.Fatalf("parts sum %d, investors %d, P %d, R %d", sum, investors, p, r)
		}
		if investors < p && !everyoneCapped {
			t.Fatalf("%d of P=%d left over while someone could take more", p-investors, p)
		}
		// Pro rata within 1 msat when no one is capped.
		if investors == p && len(stakes) > 0 {
			var w big.Int
			for _, s := range stakes {
				w.Add(&w, big.NewInt(int64(s.principal)))
			}
			capped := false
			for i, s := range stakes {
				exact := new(big.Int).Mul(big.NewInt(int64(p)), big.NewInt(int64(s.principal)))
				exact.Quo(exact, &w) // floor of the exact share
				if parts[i] == s.room && parts[i] < money.Msat(exact.Int64())+1 {
					capped = true
				}
			}
			if !capped {
				for i, s := range stakes {
					exact := new(big.Int).Mul(big.NewInt(int64(p)), big.NewInt(int64(s.principal)))
					exact.Quo(exact, &w)
					if d := int64(parts[i]) - exact.Int64(); d < 0 || d > 1 {
						t.Fatalf("stake %d: part %d, exact share floor %d", i, parts[i], exact.Int64())
					}
				}
			}
		}
		// Permuting the input changes each part by at most the tie-broken msat.
		perm := rapid.Permutation(seqTo(len(stakes))).Draw(t, "perm")
		shuffled := make([]stake, len(stakes))
		for i, j := range perm {
			shuffled[i] = stakes[j]
		}
		parts2, investors2, err := allocate(r, shuffled)
		if err != nil {
			t.Fatal(err)
		}
		if investors2 != investors {
			t.Fatalf("investors %d, permuted %d", investors, investors2)
		}
		for i, j := range perm {
			if d := parts2[i] - parts[j]; d < -1 || d > 1 {
				t.Fatalf("stake %d: part %d, permuted %d", j, parts[j], parts2[i])
			}
		}
	})
}

// TestAllocateMixedShares: investments made on different shares weigh
// principal × share, and P follows.
func TestAllocateMixedShares(t *testing.T) {
	stakes := []stake{
		{id: 1, principal: 1_000, shareBps: 5000, room: 10_000},
		{id: 2, principal: 1_000, shareBps: 2500, room: 10_000},
	}
	parts, investors, err := allocate(1_000, stakes)
	if err != nil {
		t.Fatal(err)
	}
	// Σ p·s / (10000 Σ p) = 7500·1000/(2·10^7) → P = floor(1000 × 0.375) = 375, split 2:1.
	if investors != 375 || !slices.Equal(parts, []money.Msat{250, 125}) {
		t.Fatalf("parts %v, investors %d", parts, investors)
	}
}

// TestAllocateTiesGoToEarlierInvestment: equal remainders go to the
// stake listed first (earlier investment, then id).
func TestAllocateTiesGoToEarlierInvestment(t *testing.T) {
	stakes := []stake{{id: 7, principal: 1, shareBps: 10000, room: 10}, {id: 3, principal: 1, shareBps: 10000, room: 10},
		{id: 5, principal: 1, shareBps: 10000, room: 10}}
	parts, _, err := allocate(4, stakes)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(parts, []money.Msat{2, 1, 1}) {
		t.Fatalf("parts %v, want [2 1 1]", parts)
	}
}

func seqTo(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// BenchmarkSplitMillion is the pure split of one revenue event among
// 1,000,000 investments; BenchmarkSortMillion, its yardstick, sorts
// 1,000,000 int64 (docs/benchmarks.md).
func BenchmarkSplitMillion(b *testing.B) {
	stakes := make([]stake, 1_000_000)
	for i := range stakes {
		p := money.Msat(1_000_000 + (int64(i)*7919)%100_000_000)
		stakes[i] = stake{id: int64(i + 1), principal: p, shareBps: 5000, room: p * 3 / 2}
	}
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := allocate(money.MustSats(1_234_567), stakes); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSortMillion(b *testing.B) {
	src := make([]int64, 1_000_000)
	for i := range src {
		src[i] = (int64(i) * 2654435761) % 1_000_000_007
	}
	buf := make([]int64, len(src))
	b.ResetTimer()
	for b.Loop() {
		copy(buf, src)
		slices.Sort(buf)
	}
}

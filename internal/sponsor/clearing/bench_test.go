package clearing

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/keepalive/keepalive/internal/money"
)

// BenchmarkClearMillionBids clears 1,000,000 bids spread over 100,000
// offering-periods (10 each, 3 slots) and, in the same run, sorts
// 1,000,000 int64: the yardstick of docs/benchmarks.md. It reports both
// times per iteration and their ratio (goal ≤ 3).
func BenchmarkClearMillionBids(b *testing.B) {
	const periods, perPeriod = 100_000, 10
	rng := rand.New(rand.NewPCG(1, 2))
	auctions := make([]Auction, periods)
	for p := range auctions {
		bs := make([]Bid, perPeriod)
		for i := range bs {
			bs[i] = Bid{
				ID:        fmt.Sprintf("%08x%02d", p, i),
				Amount:    money.Msat(1_000_000 + rng.Int64N(100_000_000)),
				SettledAt: t0.Add(time.Duration(rng.Int64N(int64(7 * 24 * time.Hour)))),
			}
		}
		auctions[p] = Auction{Slots: 3, Weights: []int{10000, 6000, 3000}, Reserve: 5_000_000, Bids: bs}
	}
	ints := make([]int64, periods*perPeriod)
	for i := range ints {
		ints[i] = rng.Int64()
	}
	var clearing, sorting time.Duration
	for b.Loop() {
		start := time.Now()
		for _, a := range auctions {
			if _, err := Clear(a); err != nil {
				b.Fatal(err)
			}
		}
		clearing += time.Since(start)
		s := slices.Clone(ints)
		start = time.Now()
		slices.Sort(s)
		sorting += time.Since(start)
	}
	b.ReportMetric(float64(clearing.Milliseconds())/float64(b.N), "clear-ms/op")
	b.ReportMetric(float64(sorting.Milliseconds())/float64(b.N), "sort-ms/op")
	b.ReportMetric(float64(clearing)/float64(sorting), "clear/sort")
}

package clearing

import (
	"fmt"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/keepalive/keepalive/internal/money"
)

// drawAuction draws a small auction: up to 4 slots, up to 6 bids with
// amounts from a narrow or a wide range (narrow ones tie often), settled
// at times that sometimes coincide.
func drawAuction(t *rapid.T) Auction {
	k := rapid.IntRange(1, 4).Draw(t, "slots")
	weights := make([]int, k)
	weights[0] = FullWeight
	equal := rapid.Bool().Draw(t, "equal weights")
	for j := 1; j < k; j++ {
		weights[j] = weights[j-1]
		if !equal {
			weights[j] = rapid.IntRange(1, weights[j-1]).Draw(t, "weight")
		}
	}
	maxAmount := rapid.SampledFrom([]int64{20, 1_000_000, 1_000_000_000_000}).Draw(t, "scale")
	reserve := money.Msat(rapid.Int64Range(0, maxAmount).Draw(t, "reserve"))
	n := rapid.IntRange(0, 6).Draw(t, "bids")
	bs := make([]Bid, n)
	for i := range bs {
		bs[i] = Bid{
			ID:        fmt.Sprintf("bid%d", rapid.IntRange(0, 99).Draw(t, "id")*10+i), // unique, in random order
			Amount:    money.Msat(rapid.Int64Range(1, maxAmount).Draw(t, "amount")),
			SettledAt: t0.Add(time.Duration(rapid.IntRange(0, 3).Draw(t, "settled")) * time.Second),
		}
	}
	return Auction{Slots: k, Weights: weights, Reserve: reserve, Bids: bs}
}

// bestWelfare is the welfare-maximising assignment by brute force: each
// slot goes to a distinct bidder (slot j is worth w_j·v to a bidder of
// value v) or stays with the seller, to whom it is worth w_j·reserve. The
// bidder at index skip takes no part. In basis-point msat.
func bestWelfare(a Auction, skip int) int64 {
	used := make([]bool, len(a.Bids))
	var best func(j int) int64
	best = func(j int) int64 {
		if j == a.Slots {
			return 0
		}
		w := int64(a.Weights[j])
		top := w*int64(a.Reserve) + best(j+1)
		for i, b := range a.Bids {
			if i == skip || used[i] {
				continue
			}
			used[i] = true
			top = max(top, w*int64(b.Amount)+best(j+1))
			used[i] = false
		}
		return top
	}
	return best(0)
}

func indexOf(a Auction, id string) int {
	for i, b := range a.Bids {
		if b.ID == id {
			return i
		}
	}
	panic("no bid " + id)
}

// TestClearIsVCG: the engine's assignment maximises welfare, and each
// winner's charge is the VCG payment found by brute force (what the
// others lose by its presence), floored to the msat.
func TestClearIsVCG(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a := drawAuction(t)
		o, err := Clear(a)
		if err != nil {
			t.Fatal(err)
		}
		best := bestWelfare(a, -1)
		var welfare int64
		for j := range a.Slots {
			w := int64(a.Weights[j])
			if j < len(o.Winners) {
				welfare += w * int64(a.Bids[indexOf(a, o.Winners[j].Bid)].Amount)
			} else {
				welfare += w * int64(a.Reserve)
			}
		}
		if welfare != best {
			t.Fatalf("assignment welfare %d, brute force finds %d (outcome %+v)", welfare, best, o)
		}
		for _, win := range o.Winners {
			i := indexOf(a, win.Bid)
			own := int64(a.Weights[win.Slot-1]) * int64(a.Bids[i].Amount)
			othersWithout := bestWelfare(a, i)
			othersWith := best - own
			if want := money.Msat((othersWithout - othersWith) / FullWeight); win.Charge != want {
				t.Fatalf("slot %d charged %d msat, VCG says %d (outcome %+v)", win.Slot, win.Charge, want, o)
			}
		}
	})
}

// TestClearBounds: nobody pays more than its bid, nor more than the slot is
// worth to it (w·bid), nor less than w·reserve; losers get everything
// back; each bid appears exactly once in the outcome.
func TestClearBounds(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a := drawAuction(t)
		o, err := Clear(a)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for j, win := range o.Winners {
			b := a.Bids[indexOf(a, win.Bid)]
			w := int64(a.Weights[win.Slot-1])
			switch {
			case win.Slot != j+1:
				t.Fatalf("winner %d has slot %d", j, win.Slot)
			case b.Amount < a.Reserve:
				t.Fatalf("bid %d below reserve %d won", b.Amount, a.Reserve)
			case win.Charge > b.Amount || win.Charge+win.Refund != b.Amount:
				t.Fatalf("bid %d: charge %d refund %d", b.Amount, win.Charge, win.Refund)
			case int64(win.Charge) > w*int64(b.Amount)/FullWeight:
				t.Fatalf("slot %d (w %d) worth %d to bid %d, charged %d", win.Slot, w, w*int64(b.Amount)/FullWeight, b.Amount, win.Charge)
			case int64(win.Charge) < w*int64(a.Reserve)/FullWeight:
				t.Fatalf("slot %d (w %d) charged %d, below w·reserve %d", win.Slot, w, win.Charge, a.Reserve)
			}
			seen[win.Bid] = true
		}
		for _, l := range o.Losers {
			if l.Refund != a.Bids[indexOf(a, l.Bid)].Amount {
				t.Fatalf("loser %s refunded %d", l.Bid, l.Refund)
			}
			seen[l.Bid] = true
		}
		if len(seen) != len(a.Bids) || len(o.Winners)+len(o.Losers) != len(a.Bids) {
			t.Fatalf("%d bids in, %d winners and %d losers out", len(a.Bids), len(o.Winners), len(o.Losers))
		}
		if equalWeights(a.Weights) {
			// The uniform price: the highest losing qualifying bid, or the reserve.
			price := a.Reserve
			for _, l := range o.Losers {
				if amt := a.Bids[indexOf(a, l.Bid)].Amount; amt >= a.Reserve {
					price = max(price, amt)
				}
			}
			for _, win := range o.Winners {
				if win.Charge != price {
					t.Fatalf("equal weights: slot %d pays %d, want %d", win.Slot, win.Charge, price)
				}
			}
		}
	})
}

func equalWeights(w []int) bool {
	for _, x := range w {
		if x != w[0] {
			return false
		}
	}
	return true
}

// slotOf is id's slot, or slots+1 when it lost, with its charge.
func slotOf(a Auction, o Outcome, id string) (int, money.Msat) {
	for _, w := range o.Winners {
		if w.Bid == id {
			return w.Slot, w.Charge
		}
	}
	return a.Slots + 1, 0
}

// TestRaiseNeverLowersSlot: bidding more never moves a bid down.
func TestRaiseNeverLowersSlot(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a := drawAuction(t)
		if len(a.Bids) == 0 {
			t.Skip("no bids")
		}
		i := rapid.IntRange(0, len(a.Bids)-1).Draw(t, "raised")
		before, err := Clear(a)
		if err != nil {
			t.Fatal(err)
		}
		raised := a
		raised.Bids = append([]Bid(nil), a.Bids...)
		raised.Bids[i].Amount += money.Msat(rapid.Int64Range(1, 2*int64(raised.Bids[i].Amount)).Draw(t, "raise"))
		after, err := Clear(raised)
		if err != nil {
			t.Fatal(err)
		}
		id := a.Bids[i].ID
		s0, _ := slotOf(a, before, id)
		s1, _ := slotOf(raised, after, id)
		if s1 > s0 {
			t.Fatalf("raising %s moved it from slot %d to %d", id, s0, s1)
		}
	})
}

// utility is what a sponsor of true value v gains from an outcome, in
// basis-point msat: the slot's worth to it less its charge.
func utility(a Auction, o Outcome, id string, v money.Msat) int64 {
	s, charge := slotOf(a, o, id)
	if s > a.Slots {
		return 0
	}
	return int64(a.Weights[s-1])*int64(v) - FullWeight*int64(charge)
}

// TestTruthfulBiddingIsBest: against random rivals, a sponsor who bids its
// true value does at least as well as with any other bid. Charges are
// floored to the msat, so a misreport that lands on another slot could
// gain from the rounding alone; the test allows that, and only that: less
// than 1 msat (10000 basis-point msat). Rapid finds such cases (a sponsor
// of value 1 msat gains 1/10000 msat by bidding 2), so the strict version
// is false; with unfloored charges it holds, since they are the VCG
// payments TestClearIsVCG checks.
func TestTruthfulBiddingIsBest(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a := drawAuction(t)
		top := money.Msat(1)
		for _, b := range a.Bids {
			top = max(top, b.Amount)
		}
		value := money.Msat(rapid.Int64Range(1, 2*int64(top)).Draw(t, "value"))
		me := Bid{ID: "me", Amount: value, SettledAt: t0.Add(time.Duration(rapid.IntRange(0, 3).Draw(t, "my time")) * time.Second)}
		truthful := a
		truthful.Bids = append(append([]Bid(nil), a.Bids...), me)
		lie := truthful
		lie.Bids = append([]Bid(nil), truthful.Bids...)
		lie.Bids[len(lie.Bids)-1].Amount = money.Msat(rapid.Int64Range(1, 3*int64(top)).Draw(t, "misreport"))
		ot, err := Clear(truthful)
		if err != nil {
			t.Fatal(err)
		}
		ol, err := Clear(lie)
		if err != nil {
			t.Fatal(err)
		}
		ut, ul := utility(truthful, ot, "me", value), utility(lie, ol, "me", value)
		if ul-ut >= FullWeight {
			t.Fatalf("value %d: bidding %d gains %d bps·msat over the truth (%d vs %d)", value, lie.Bids[len(lie.Bids)-1].Amount, ul-ut, ul, ut)
		}
		if ut < 0 {
			t.Fatalf("truthful bidding loses money: %d", ut)
		}
	})
}

package clearing

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/money"
)

var t0 = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func sat(n int64) money.Msat { return money.MustSats(n) }

// bids makes bids "a", "b", … settled a minute apart, in the given order.
func bids(amounts ...money.Msat) []Bid {
	out := make([]Bid, len(amounts))
	for i, a := range amounts {
		out[i] = Bid{ID: string(rune('a' + i)), Amount: a, SettledAt: t0.Add(time.Duration(i) * time.Minute)}
	}
	return out
}

// TestWorkedExample is the example of docs/sponsorship.md.
func TestWorkedExample(t *testing.T) {
	got, err := Clear(Auction{
		Slots: 3, Weights: []int{10000, 6000, 3000}, Reserve: sat(1000),
		Bids: bids(sat(10000), sat(8000), sat(5000), sat(2000)),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := Outcome{
		Winners: []Winner{
			{Slot: 1, Bid: "a", Charge: sat(5300), Refund: sat(4700)},
			{Slot: 2, Bid: "b", Charge: sat(2100), Refund: sat(5900)},
			{Slot: 3, Bid: "c", Charge: sat(600), Refund: sat(4400)},
		},
		Losers: []Loser{{Bid: "d", Refund: sat(2000)}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Clear() =\n %+v\nwant\n %+v", got, want)
	}
}

func TestClear(t *testing.T) {
	equal3 := []int{10000, 10000, 10000}
	tests := []struct {
		name    string
		auction Auction
		winners []Winner
		losers  []Loser
	}{
		{
			name:    "no bids clears to nothing",
			auction: Auction{Slots: 3, Weights: equal3, Reserve: sat(1000)},
			winners: []Winner{}, losers: []Loser{},
		},
		{
			name:    "one bid pays the reserve",
			auction: Auction{Slots: 3, Weights: []int{10000, 6000, 3000}, Reserve: sat(1000), Bids: bids(sat(5000))},
			winners: []Winner{{Slot: 1, Bid: "a", Charge: sat(1000), Refund: sat(4000)}},
			losers:  []Loser{},
		},
		{
			name:    "equal weights: every winner pays the highest losing bid",
			auction: Auction{Slots: 3, Weights: equal3, Reserve: sat(1000), Bids: bids(sat(9000), sat(7000), sat(6000), sat(4000), sat(3000))},
			winners: []Winner{
				{Slot: 1, Bid: "a", Charge: sat(4000), Refund: sat(5000)},
				{Slot: 2, Bid: "b", Charge: sat(4000), Refund: sat(3000)},
				{Slot: 3, Bid: "c", Charge: sat(4000), Refund: sat(2000)},
			},
			losers: []Loser{{Bid: "d", Refund: sat(4000)}, {Bid: "e", Refund: sat(3000)}},
		},
		{
			name:    "equal weights, fewer bids than slots: the reserve",
			auction: Auction{Slots: 3, Weights: equal3, Reserve: sat(1000), Bids: bids(sat(9000), sat(7000))},
			winners: []Winner{
				{Slot: 1, Bid: "a", Charge: sat(1000), Refund: sat(8000)},
				{Slot: 2, Bid: "b", Charge: sat(1000), Refund: sat(6000)},
			},
			losers: []Loser{},
		},
		{
			name:    "below the reserve loses and sets no price",
			auction: Auction{Slots: 2, Weights: []int{10000, 5000}, Reserve: sat(1000), Bids: bids(sat(999), sat(3000))},
			winners: []Winner{{Slot: 1, Bid: "b", Charge: sat(1000), Refund: sat(2000)}},
			losers:  []Loser{{Bid: "a", Refund: sat(999)}},
		},
		{
			name:    "a bid equal to the reserve qualifies",
			auction: Auction{Slots: 1, Weights: []int{10000}, Reserve: sat(1000), Bids: bids(sat(1000))},
			winners: []Winner{{Slot: 1, Bid: "a", Charge: sat(1000), Refund: 0}},
			losers:  []Loser{},
		},
		{
			name: "ties: earlier settlement, then id",
			auction: Auction{Slots: 2, Weights: []int{10000, 5000}, Reserve: sat(1), Bids: []Bid{
				{ID: "z", Amount: sat(100), SettledAt: t0.Add(time.Second)},
				{ID: "y", Amount: sat(100), SettledAt: t0.Add(2 * time.Second)},
				{ID: "x", Amount: sat(100), SettledAt: t0.Add(time.Second)},
			}},
			winners: []Winner{
				{Slot: 1, Bid: "x", Charge: sat(100), Refund: 0},
				{Slot: 2, Bid: "z", Charge: sat(50), Refund: sat(50)},
			},
			losers: []Loser{{Bid: "y", Refund: sat(100)}},
		},
		{
			// (10000−3333)·7 + 3333·5 = 63,334 bps·msat → 6 msat, floored.
			name:    "charges are floored to the msat",
			auction: Auction{Slots: 2, Weights: []int{10000, 3333}, Reserve: 5, Bids: bids(9, 7)},
			winners: []Winner{
				{Slot: 1, Bid: "a", Charge: 6, Refund: 3},
				{Slot: 2, Bid: "b", Charge: 1, Refund: 6},
			},
			losers: []Loser{},
		},
		{
			name:    "the largest amounts need 128 bits",
			auction: Auction{Slots: 2, Weights: []int{10000, 9999}, Reserve: money.MaxMsat - 2, Bids: bids(money.MaxMsat, money.MaxMsat-1)},
			winners: []Winner{
				// ((10000−9999)·(Max−1) + 9999·(Max−2)) / 10000
				{Slot: 1, Bid: "a", Charge: 2_099_999_999_999_999_998, Refund: 2},
				// 9999·(Max−2) / 10000
				{Slot: 2, Bid: "b", Charge: 2_099_789_999_999_999_998, Refund: 210_000_000_000_001},
			},
			losers: []Loser{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := fmt.Sprint(tt.auction.Bids)
			got, err := Clear(tt.auction)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Winners, tt.winners) {
				t.Errorf("winners = %+v, want %+v", got.Winners, tt.winners)
			}
			if !reflect.DeepEqual(got.Losers, tt.losers) {
				t.Errorf("losers = %+v, want %+v", got.Losers, tt.losers)
			}
			if after := fmt.Sprint(tt.auction.Bids); after != before {
				t.Errorf("Clear changed its input: %s, was %s", after, before)
			}
		})
	}
}

func TestClearRejects(t *testing.T) {
	ok := Auction{Slots: 2, Weights: []int{10000, 5000}, Reserve: 1000}
	tests := []struct {
		name   string
		modify func(a *Auction)
	}{
		{"no slots", func(a *Auction) { a.Slots, a.Weights = 0, nil }},
		{"too many slots", func(a *Auction) { a.Slots, a.Weights = 11, EqualWeights(11) }},
		{"weights missing", func(a *Auction) { a.Weights = []int{10000} }},
		{"top weight not 10000", func(a *Auction) { a.Weights = []int{9000, 5000} }},
		{"increasing weights", func(a *Auction) { a.Weights = []int{10000, 10001} }},
		{"zero weight", func(a *Auction) { a.Weights = []int{10000, 0} }},
		{"negative reserve", func(a *Auction) { a.Reserve = -1 }},
		{"reserve too large", func(a *Auction) { a.Reserve = money.MaxMsat + 1 }},
		{"bid without id", func(a *Auction) { a.Bids = []Bid{{Amount: 5000}} }},
		{"duplicate bid", func(a *Auction) { a.Bids = []Bid{{ID: "a", Amount: 5000}, {ID: "a", Amount: 6000}} }},
		{"zero bid", func(a *Auction) { a.Bids = []Bid{{ID: "a", Amount: 0}} }},
		{"bid too large", func(a *Auction) { a.Bids = []Bid{{ID: "a", Amount: money.MaxMsat + 1}} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := ok
			tt.modify(&a)
			_, err := Clear(a)
			if apperr.CodeOf(err) != apperr.Invalid {
				t.Errorf("Clear() error = %v, want an invalid error", err)
			}
		})
	}
	if _, err := Clear(ok); err != nil {
		t.Errorf("the unmodified auction fails: %v", err)
	}
}

func TestDuplicateIDManyBids(t *testing.T) {
	bs := make([]Bid, 40)
	for i := range bs {
		bs[i] = Bid{ID: fmt.Sprint(i), Amount: 1}
	}
	if _, dup := duplicateID(bs); dup {
		t.Fatal("distinct ids reported as duplicate")
	}
	bs[39].ID = "7"
	if id, dup := duplicateID(bs); !dup || id != "7" {
		t.Fatalf("duplicateID = %q, %v", id, dup)
	}
}

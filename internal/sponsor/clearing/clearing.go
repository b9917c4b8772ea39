// Package clearing owns the sponsorship auction's rules: given a period's
// slots, position weights, reserve and paid bids, it says who wins which
// slot, what each winner is charged and what everyone gets back. It is a
// pure function over its input, with no database and no clock, so anyone
// can run it on a published clearing record and check the site's result
// (see the `keepalive clearing` command).
//
// The price is the VCG payment for position auctions. Bids at or above the
// reserve qualify and are ranked by amount, ties by earlier settlement,
// then by id. With b_j the j-th highest qualifying bid (the reserve where
// fewer than j qualify), weights w_1..w_K in basis points and w_{K+1} = 0,
// winner i pays
//
//	c_i = floor( Σ_{j=i..K} (w_j − w_{j+1}) · b_{j+1} / 10000 )
//
// which is what the others lose by its presence: nobody pays more than its
// bid or less than its weight × the reserve, and bidding one's true value
// is the best strategy.
package clearing

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/money"
)

const (
	// MaxSlots is the most slots a period may have.
	MaxSlots = 10
	// FullWeight is the top slot's weight: weights are in basis points of it.
	FullWeight = 10000
)

// Bid is a paid bid: what the top slot is worth to its sponsor.
type Bid struct {
	ID        string     `json:"id"`
	Amount    money.Msat `json:"amount_msat"`
	SettledAt time.Time  `json:"settled_at"`
}

// Auction is one period's input.
type Auction struct {
	Slots   int        `json:"slots"`
	Weights []int      `json:"weights_bps"`
	Reserve money.Msat `json:"reserve_msat"`
	Bids    []Bid      `json:"bids"`
}

// Display is what a winner shows during its period. The engine only
// carries it from input to output in records.
type Display struct {
	Name    string `json:"name"`
	URL     string `json:"url"`
	Tagline string `json:"tagline,omitempty"`
}

// Winner is a bid that won a slot (1 is the top).
type Winner struct {
	Slot    int        `json:"slot"`
	Bid     string     `json:"bid"`
	Charge  money.Msat `json:"charge_msat"`
	Refund  money.Msat `json:"refund_msat"`
	Display *Display   `json:"display,omitempty"`
}

// Loser is a bid that won nothing: it gets all of it back.
type Loser struct {
	Bid    string     `json:"bid"`
	Refund money.Msat `json:"refund_msat"`
}

// Outcome is what clearing decides: winners by slot, losers by rank.
type Outcome struct {
	Winners []Winner `json:"winners"`
	Losers  []Loser  `json:"losers"`
}

// Record is a cleared period as published: the input and the outcome.
type Record struct {
	Auction
	Outcome
}

// Validate reports what is wrong with an auction's terms or bids, as an
// apperr.Invalid error.
func (a Auction) Validate() error {
	if err := ValidateTerms(a.Slots, a.Weights, a.Reserve); err != nil {
		return err
	}
	for _, b := range a.Bids {
		if b.ID == "" {
			return apperr.New(apperr.Invalid, "every bid needs an id")
		}
		if b.Amount <= 0 || !b.Amount.Valid() {
			return apperr.New(apperr.Invalid, "bid %q: amount must be between 1 msat and 21,000,000 BTC", b.ID)
		}
	}
	if id, dup := duplicateID(a.Bids); dup {
		return apperr.New(apperr.Invalid, "bid %q appears twice", id)
	}
	return nil
}

// ValidateTerms checks a period's terms: 1 to MaxSlots slots, one weight
// per slot with FullWeight = w_1 ≥ w_2 ≥ … ≥ w_K > 0, and a valid reserve.
func ValidateTerms(slots int, weights []int, reserve money.Msat) error {
	if slots < 1 || slots > MaxSlots {
		return apperr.New(apperr.Invalid, "slots must be between 1 and %d", MaxSlots)
	}
	if len(weights) != slots {
		return apperr.New(apperr.Invalid, "weights_bps needs one weight per slot (%d), got %d", slots, len(weights))
	}
	if weights[0] != FullWeight {
		return apperr.New(apperr.Invalid, "the top slot's weight must be %d", FullWeight)
	}
	for j := 1; j < slots; j++ {
		if weights[j] > weights[j-1] {
			return apperr.New(apperr.Invalid, "weights must not increase from one slot to the next")
		}
	}
	if weights[slots-1] <= 0 {
		return apperr.New(apperr.Invalid, "every weight must be positive")
	}
	if !reserve.Valid() {
		return apperr.New(apperr.Invalid, "reserve must be between 0 and 21,000,000 BTC")
	}
	return nil
}

// duplicateID finds an id used twice. Most periods have a handful of
// bids, for which comparing pairs is cheaper than building a map.
func duplicateID(bids []Bid) (string, bool) {
	if len(bids) <= 32 {
		for i := range bids {
			for j := range i {
				if bids[i].ID == bids[j].ID {
					return bids[i].ID, true
				}
			}
		}
		return "", false
	}
	seen := make(map[string]struct{}, len(bids))
	for _, b := range bids {
		if _, dup := seen[b.ID]; dup {
			return b.ID, true
		}
		seen[b.ID] = struct{}{}
	}
	return "", false
}

// EqualWeights returns k weights of FullWeight, the default.
func EqualWeights(k int) []int {
	w := make([]int, k)
	for i := range w {
		w[i] = FullWeight
	}
	return w
}

// Rank orders bids best first: by amount, then earlier settlement, then id.
func Rank(a, b Bid) int {
	if c := cmp.Compare(b.Amount, a.Amount); c != 0 {
		return c
	}
	if c := a.SettledAt.Compare(b.SettledAt); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// Clear decides an auction. The caller's bids are left as they were.
func Clear(a Auction) (Outcome, error) {
	if err := a.Validate(); err != nil {
		return Outcome{}, err
	}
	ranked := slices.Clone(a.Bids)
	slices.SortFunc(ranked, Rank)
	qualifying := 0
	for qualifying < len(ranked) && ranked[qualifying].Amount >= a.Reserve {
		qualifying++
	}
	k := a.Slots
	n := min(k, qualifying)

	// b[j] is b_{j+1}, w[j] is w_{j+1} (0-based), for j = 0..K; w[K] = 0.
	var bArr [MaxSlots + 1]money.Msat
	var dArr [MaxSlots + 1]uint64
	b := bArr[:k+1]
	for j := range b {
		if j < qualifying {
			b[j] = ranked[j].Amount
		} else {
			b[j] = a.Reserve
		}
	}
	d := dArr[:k]
	for j := range d {
		next := 0
		if j+1 < k {
			next = a.Weights[j+1]
		}
		d[j] = uint64(a.Weights[j] - next)
	}

	out := Outcome{Winners: make([]Winner, n), Losers: make([]Loser, len(ranked)-n)}
	for i := range n {
		// c_i = Σ_{j=i..K} (w_j − w_{j+1}) · b_{j+1}, in 0-based terms
		// d[i..k-1] · b[i+1..k].
		charge, err := money.DotDiv(b[i+1:k+1], d[i:k], FullWeight)
		if err != nil {
			return Outcome{}, fmt.Errorf("clearing: charge for slot %d: %w", i+1, err)
		}
		if charge > ranked[i].Amount { // the weights and order forbid it; a bug if seen
			return Outcome{}, fmt.Errorf("clearing: charge %d above bid %d for slot %d", charge, ranked[i].Amount, i+1)
		}
		out.Winners[i] = Winner{Slot: i + 1, Bid: ranked[i].ID, Charge: charge, Refund: ranked[i].Amount - charge}
	}
	for i, l := range ranked[n:] {
		out.Losers[i] = Loser{Bid: l.ID, Refund: l.Amount}
	}
	return out, nil
}

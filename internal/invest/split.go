package invest

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"math/bits"
	"strconv"
	"strings"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/invest/internal/store"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/money"
	"github.com/keepalive/keepalive/internal/offering"
)

// RevenueEvent is money an offering earned that its investors share in.
type RevenueEvent struct {
	OfferingID int64
	Amount     money.Msat // R
	// Key makes the event happen once: "revenue:<payment_hash>",
	// "clear:<offering>:<period>:<bid>"… Its transfers are keyed
	// <Key>/investment/<id> and <Key>/runway.
	Key string
	// From is the ledger account the money comes from: ledger.Lightning
	// for a settled revenue invoice, ledger.OfferingEarned(id),
	// ledger.OfferingEscrow(id)…
	From string
	Memo string
}

// Distribution is where a revenue event's money went: Investors + Runway
// is the event's amount.
type Distribution struct {
	EventID   int64
	Investors money.Msat
	Runway    money.Msat
	Parts     []Share // one per investment that got anything, in tie-break order
}

// ErrKeyReused means a revenue event key came back with another amount,
// offering or source.
var ErrKeyReused = errors.New("invest: revenue event key reused with different terms")

// Distribute splits ev inside the caller's transaction tx, once per key:
// P = floor(R × share / 10000) goes to the offering's active investments
// pro rata to principal, each capped at what it may still earn (water-
// filling, largest remainder, 128-bit, ties by earlier investment then
// id), to investment/<id>/payable; the rest, and what capped investments
// could not take, goes to the offering's runway. An investment whose
// returns reach its cap is capped. Distributing the same key again
// returns the first distribution and moves nothing.
//
// Investments made on different shares each weigh principal × share, and
// P is R × Σ(principal × share) / (10000 × Σ principal): with one share
// for all, this is exactly the rule above.
func (s *Service) Distribute(ctx context.Context, tx db.Tx, ev RevenueEvent) (Distribution, error) {
	switch {
	case ev.Amount <= 0 || !ev.Amount.Valid():
		return Distribution{}, apperr.New(apperr.Invalid, "A revenue event is a positive amount of at most 21 million BTC.")
	case ev.Key == "" || len(ev.Key) > 200:
		return Distribution{}, apperr.New(apperr.Invalid, "A revenue event needs a key of at most 200 bytes.")
	case ev.From == "" || ev.From == ledger.OfferingRunway(ev.OfferingID):
		return Distribution{}, apperr.New(apperr.Invalid, "A revenue event needs an account the money comes from, other than the runway.")
	}
	if err := store.LockRound(ctx, tx, ev.OfferingID); err != nil {
		return Distribution{}, err
	}
	if prev, ok, err := store.EventByKey(ctx, tx, ev.Key); err != nil {
		return Distribution{}, err
	} else if ok {
		if prev.OfferingID != ev.OfferingID || prev.AmountMsat != ev.Amount || prev.SourceAccount != ev.From {
			return Distribution{}, apperr.Wrap(ErrKeyReused, apperr.Conflict, "revenue event %q was posted with other terms", ev.Key)
		}
		return s.distributionOf(ctx, tx, prev)
	}
	stakes, err := s.activeStakes(ctx, tx, ev.OfferingID)
	if err != nil {
		return Distribution{}, err
	}
	parts, investors, err := allocate(ev.Amount, stakes)
	if err != nil {
		return Distribution{}, err
	}
	d := Distribution{Investors: investors, Runway: ev.Amount - investors}
	for i, p := range parts {
		if p > 0 {
			d.Parts = append(d.Parts, Share{InvestmentID: stakes[i].id, Amount: p})
		}
	}
	e := Event{OfferingID: ev.OfferingID, Key: ev.Key, SourceAccount: ev.From, AmountMsat: ev.Amount,
		InvestorsMsat: d.Investors, RunwayMsat: d.Runway, Investments: len(d.Parts), Memo: ev.Memo, CreatedAt: s.Now()}
	if err := store.InsertEvent(ctx, tx, &e); err != nil {
		return Distribution{}, err
	}
	d.EventID = e.ID
	// The runway first: it locks the offering's row before any payable,
	// in the order every other writer of the offering takes.
	if d.Runway > 0 {
		if _, err := s.offerings.CreditRunway(ctx, tx, ev.OfferingID, offering.Credit{
			Key: ev.Key + "/runway", Debit: ev.From, Amount: d.Runway, Memo: memoOr(ev.Memo, "revenue to runway"),
		}); err != nil {
			return Distribution{}, err
		}
	}
	if err := s.payShares(ctx, tx, ev, d.Parts); err != nil {
		return Distribution{}, err
	}
	if err := store.AddReturns(ctx, tx, d.Parts); err != nil {
		return Distribution{}, err
	}
	if s.notifier != nil {
		if err := s.notifier.RevenueDistributed(ctx, tx, ev.OfferingID, e); err != nil {
			return Distribution{}, err
		}
	}
	return d, nil
}

// payShares posts each share from the event's source to its payable.
func (s *Service) payShares(ctx context.Context, tx db.Tx, ev RevenueEvent, parts []Share) error {
	if len(parts) == 0 {
		return nil
	}
	entries := make([]ledger.Entry, len(parts))
	for i, p := range parts {
		entries[i] = ledger.Entry{Key: shareKey(ev.Key, p.InvestmentID), Debit: ev.From,
			Credit: ledger.InvestmentPayable(p.InvestmentID), Amount: p.Amount, Memo: memoOr(ev.Memo, "revenue share")}
	}
	return s.ledger.In(tx).PostMany(ctx, entries)
}

func shareKey(eventKey string, investmentID int64) string {
	return eventKey + "/investment/" + strconv.FormatInt(investmentID, 10)
}

func memoOr(memo, fallback string) string {
	if memo == "" {
		return fallback
	}
	return memo
}

// stake is what the split needs of one active investment, in tie-break
// order (earlier activation, then id).
type stake struct {
	id        int64
	principal money.Msat
	shareBps  int
	room      money.Msat // cap − returned: what it may still earn
}

// activeStakes reads the offering's active investments, in tie-break
// order, inside tx.
func (s *Service) activeStakes(ctx context.Context, tx db.Tx, offeringID int64) ([]stake, error) {
	rows, err := store.ActiveStakes(ctx, tx, offeringID)
	if err != nil {
		return nil, err
	}
	out := make([]stake, len(rows))
	for i, r := range rows {
		out[i] = stake{id: r.ID, principal: r.Principal, shareBps: r.ShareBps, room: r.Room}
	}
	return out, nil
}

// allocate is the split of a revenue event of r among stakes: the parts
// (by stake) and what investors get in all; r minus that is the
// runway's. It is a pure function, property-tested and benchmarked alone.
func allocate(r money.Msat, stakes []stake) (parts []money.Msat, investors money.Msat, err error) {
	if len(stakes) == 0 {
		return nil, 0, nil
	}
	p, weights, err := investorsPart(r, stakes)
	if err != nil {
		return nil, 0, err
	}
	rooms := make([]money.Msat, len(stakes))
	for i, st := range stakes {
		rooms[i] = max(st.room, 0)
	}
	parts, left, err := money.SplitCapped(p, weights, rooms)
	if err != nil {
		return nil, 0, fmt.Errorf("invest: split %d among %d: %w", p, len(stakes), err)
	}
	return parts, p - left, nil
}

// investorsPart returns P, the investors' part of r, and each stake's
// weight: principal × share / g, with g the shares' greatest common
// divisor, so that with one share for all the weights are the principals.
func investorsPart(r money.Msat, stakes []stake) (money.Msat, []uint64, error) {
	g := 0
	for _, st := range stakes {
		g = gcd(g, st.shareBps)
	}
	weights := make([]uint64, len(stakes))
	if g == 0 {
		return 0, weights, nil // every share is zero
	}
	if uniform(stakes) { // the common case, without big numbers
		for i, st := range stakes {
			weights[i] = uint64(st.principal)
		}
		p, err := money.MulDiv(r, int64(g), MaxShareBps)
		return p, weights, err
	}
	num, den := new(big.Int), new(big.Int) // Σ principal × share, Σ principal × 10000
	var t big.Int
	for i, st := range stakes {
		hi, lo := bits.Mul64(uint64(st.principal), uint64(st.shareBps/g))
		if hi != 0 {
			return 0, nil, fmt.Errorf("invest: weight of investment %d overflows 64 bits", st.id)
		}
		weights[i] = lo
		num.Add(num, t.Mul(big.NewInt(int64(st.principal)), big.NewInt(int64(st.shareBps))))
		den.Add(den, t.Mul(big.NewInt(int64(st.principal)), big.NewInt(MaxShareBps)))
	}
	if den.Sign() == 0 {
		return 0, weights, nil
	}
	num.Mul(num, big.NewInt(int64(r)))
	num.Quo(num, den)
	return money.Msat(num.Int64()), weights, nil // <= r
}

func uniform(stakes []stake) bool {
	for _, st := range stakes[1:] {
		if st.shareBps != stakes[0].shareBps {
			return false
		}
	}
	return true
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// distributionOf reads back what an earlier event distributed.
func (s *Service) distributionOf(ctx context.Context, tx db.Tx, e Event) (Distribution, error) {
	d := Distribution{EventID: e.ID, Investors: e.InvestorsMsat, Runway: e.RunwayMsat}
	prefix := e.Key + "/investment/"
	ts, err := s.ledger.In(tx).TransfersWithPrefix(ctx, prefix)
	if err != nil {
		return Distribution{}, err
	}
	for _, t := range ts {
		id, err := strconv.ParseInt(strings.TrimPrefix(t.Key, prefix), 10, 64)
		if err != nil {
			return Distribution{}, fmt.Errorf("invest: share key %s: %w", t.Key, err)
		}
		d.Parts = append(d.Parts, Share{InvestmentID: id, Amount: t.Amount})
	}
	return d, nil
}

package sponsor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/money"
	"github.com/keepalive/keepalive/internal/offering"
	"github.com/keepalive/keepalive/internal/sponsor/clearing"
	"github.com/keepalive/keepalive/internal/sponsor/internal/store"
)

// RunClearing clears every period that is due, every interval, until ctx
// is done; one replica at a time. A period missed while the site was down
// is cleared on the first round after it comes back.
func (s *Service) RunClearing(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.db.WithLease(ctx, "sponsor-clearing", func(ctx context.Context) error {
			_, err := s.ClearDue(ctx)
			return err
		}); err != nil && ctx.Err() == nil {
			s.log.Error("sponsor clearing", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ClearDue clears the periods that started at least ClearDelay ago and
// still have open bids, and returns how many it cleared.
func (s *Service) ClearDue(ctx context.Context) (int, error) {
	due, err := store.DuePeriods(ctx, s.db, s.Now().Add(-s.cfg.ClearDelay), 100)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range due {
		// Payments the node settled in time but the site has not credited
		// yet (it was down, or its settlement stream is catching up) are
		// credited first, so that they count.
		hashes, err := store.OpenBidInvoices(ctx, s.db, p.OfferingID, p.PeriodStart)
		if err != nil {
			return n, err
		}
		if err := s.payments.SettleIfPaid(ctx, hashes); err != nil {
			return n, fmt.Errorf("sponsor: payments of %d at %s: %w", p.OfferingID, FormatStart(p.PeriodStart), err)
		}
		_, cleared, err := s.ClearPeriod(ctx, p.OfferingID, p.PeriodStart)
		if err != nil {
			return n, fmt.Errorf("sponsor: clear %d at %s: %w", p.OfferingID, FormatStart(p.PeriodStart), err)
		}
		if cleared {
			n++
		}
	}
	return n, nil
}

// Record is a cleared period as published.
type Record struct {
	Offering string    `json:"offering"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	clearing.Record
	ClearedAt time.Time `json:"cleared_at"`
}

// ClearPeriod decides a period and moves its money, in one transaction:
// the period's record, every bid's outcome and every transfer commit
// together or not at all. A period cleared before is left alone (cleared
// is false); so is a period that has not started.
//
// Money per winner, out of the offering's escrow: the platform fee to
// platform/fees, the rest of its charge to the revenue split, and bid −
// charge to the bid's refund. Losers' bids go to their refunds.
func (s *Service) ClearPeriod(ctx context.Context, offeringID int64, start time.Time) (Record, bool, error) {
	start = start.UTC()
	if s.Now().Before(start) {
		return Record{}, false, apperr.New(apperr.Conflict, "The period from %s has not started.", FormatStart(start))
	}
	o, err := s.offerings.GetByID(ctx, offeringID)
	if err != nil {
		return Record{}, false, err
	}
	st, err := s.Settings(ctx, offeringID)
	if err != nil {
		return Record{}, false, err
	}
	var rec Record
	err = s.db.Tx(ctx, func(tx db.Tx) error {
		bids, err := store.PeriodBids(ctx, tx, offeringID, start)
		if err != nil {
			return err
		}
		if done, err := store.Cleared(ctx, tx, offeringID, start); err != nil || done {
			if err == nil {
				err = errAlreadyCleared
			}
			return err
		}
		if rec, err = s.decide(o, st, start, bids); err != nil {
			return err
		}
		data, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		row := store.Period{OfferingID: offeringID, PeriodStart: start, PeriodEnd: rec.End, Record: string(data), ClearedAt: rec.ClearedAt}
		if err := store.InsertPeriod(ctx, tx, row); err != nil {
			if errors.Is(err, db.ErrDuplicate) {
				return errAlreadyCleared
			}
			return err
		}
		if err := s.settle(ctx, tx, offeringID, start, bids, rec.Outcome); err != nil {
			return err
		}
		if s.events != nil && len(rec.Winners) > 0 {
			return s.events.SponsorshipStarted(ctx, tx, offeringID, start, rec.End, rec.Winners)
		}
		return nil
	})
	if errors.Is(err, errAlreadyCleared) {
		return Record{}, false, nil
	}
	if err != nil {
		return Record{}, false, err
	}
	return rec, true, nil
}

// decide runs the auction over the period's paid bids.
func (s *Service) decide(o offering.Offering, st Settings, start time.Time, bids []Bid) (Record, error) {
	a := clearing.Auction{Slots: st.Slots, Weights: st.Weights, Reserve: st.Reserve, Bids: []clearing.Bid{}}
	displays := map[string]*Display{}
	end := st.Period.Next(start)
	for _, b := range bids {
		if b.State != BidActive || b.Amount <= 0 {
			continue
		}
		a.Bids = append(a.Bids, clearing.Bid{ID: b.PublicID, Amount: b.Amount, SettledAt: b.SettledAt.UTC()})
		displays[b.PublicID] = &Display{Name: b.DisplayName, URL: b.DisplayURL, Tagline: b.DisplayTagline}
		end = b.PeriodEnd // the period as bid for, whatever the terms say now
	}
	out, err := clearing.Clear(a)
	if err != nil {
		return Record{}, err
	}
	for i := range out.Winners {
		out.Winners[i].Display = displays[out.Winners[i].Bid]
	}
	return Record{Offering: o.Slug, Start: start, End: end.UTC(), Record: clearing.Record{Auction: a, Outcome: out}, ClearedAt: s.Now()}, nil
}

// settle posts the period's transfers and writes each bid's outcome.
func (s *Service) settle(ctx context.Context, tx db.Tx, offeringID int64, start time.Time, bids []Bid, out clearing.Outcome) error {
	byPublic := make(map[string]Bid, len(bids))
	for _, b := range bids {
		byPublic[b.PublicID] = b
	}
	escrow := ledger.OfferingEscrow(offeringID)
	key := func(b Bid) string { return fmt.Sprintf("clear:%d:%s:%d", offeringID, FormatStart(start), b.ID) }
	var entries []ledger.Entry
	add := func(k, credit string, amount money.Msat, memo string) {
		if amount > 0 {
			entries = append(entries, ledger.Entry{Key: k, Debit: escrow, Credit: credit, Amount: amount, Memo: memo})
		}
	}
	now := s.Now()
	for _, w := range out.Winners {
		b := byPublic[w.Bid]
		fee, err := money.MulDiv(w.Charge, int64(s.cfg.PlatformFeeBps), clearing.FullWeight)
		if err != nil {
			return err
		}
		add(key(b)+":fee", ledger.PlatformFees, fee, "platform fee on a sponsorship")
		if revenue := w.Charge - fee; revenue > 0 {
			if err := s.revenue.Distribute(ctx, tx, RevenueEvent{OfferingID: offeringID, Amount: revenue, Key: key(b), From: escrow,
				Memo: fmt.Sprintf("sponsorship, slot %d from %s", w.Slot, FormatStart(start))}); err != nil {
				return err
			}
		}
		add(key(b)+":refund", ledger.BidRefund(b.ID), w.Refund, "change of a winning bid")
		if err := store.Won(ctx, tx, b.ID, w.Slot, w.Charge, now); err != nil {
			return err
		}
	}
	losers := make([]int64, 0, len(out.Losers))
	for _, lo := range out.Losers {
		b := byPublic[lo.Bid]
		add(key(b), ledger.BidRefund(b.ID), lo.Refund, "losing bid")
		losers = append(losers, b.ID)
	}
	if err := s.ledger.In(tx).PostMany(ctx, entries); err != nil {
		return err
	}
	if err := store.CloseBids(ctx, tx, losers, BidLost, now); err != nil {
		return err
	}
	return store.CloseUnpaid(ctx, tx, offeringID, start, now)
}

// PeriodRecord returns a cleared period's published record. A period that
// started with no bids is an empty record; one not cleared yet is
// NotFound.
func (s *Service) PeriodRecord(ctx context.Context, o offering.Offering, name string) (Record, error) {
	st, err := s.Settings(ctx, o.ID)
	if err != nil {
		return Record{}, err
	}
	start, err := ParseStart(st.Period, name)
	if err != nil {
		return Record{}, err
	}
	if rec, ok, err := s.storedRecord(ctx, o.ID, start); err != nil || ok {
		return rec, err
	}
	if s.Now().Before(start) {
		return Record{}, apperr.New(apperr.NotFound, "The period from %s has not started: it is cleared when it starts.", name)
	}
	counts, err := store.BidCounts(ctx, s.db, o.ID, start, start)
	if err != nil {
		return Record{}, err
	}
	if counts[start.Unix()] > 0 {
		return Record{}, apperr.New(apperr.NotFound, "The period from %s is being cleared; try again in a minute.", name)
	}
	// No open bids: either the period had none, or its clearing committed
	// (closing them and storing the record at once) between the first
	// read and the count. Only a second look tells; without it a reader
	// could be shown an empty record of a period that had bids.
	if rec, ok, err := s.storedRecord(ctx, o.ID, start); err != nil || ok {
		return rec, err
	}
	rec, err := s.decide(o, st, start, nil)
	return rec, err
}

// storedRecord reads a cleared period's record, if it has one.
func (s *Service) storedRecord(ctx context.Context, offeringID int64, start time.Time) (Record, bool, error) {
	row, ok, err := store.PeriodOf(ctx, s.db, offeringID, start)
	if err != nil || !ok {
		return Record{}, false, err
	}
	var rec Record
	if err := json.Unmarshal([]byte(row.Record), &rec); err != nil {
		return Record{}, false, fmt.Errorf("sponsor: record of %d at %s: %w", offeringID, FormatStart(start), err)
	}
	return rec, true, nil
}

// Shown is a winner as shown during its period.
type Shown struct {
	OfferingID int64
	Slot       int
	Weight     int // basis points, for prominence
	Display    Display
	Start, End time.Time
}

// Showing returns the winners shown now on an offering (0: on every
// offering), by offering then slot.
func (s *Service) Showing(ctx context.Context, offeringID int64) ([]Shown, error) {
	bids, err := store.WinnersAt(ctx, s.db, offeringID, s.Now())
	if err != nil {
		return nil, err
	}
	return s.shown(ctx, bids)
}

// PastSponsors returns winners of periods that have ended, newest first.
func (s *Service) PastSponsors(ctx context.Context, limit int) ([]Shown, error) {
	bids, err := store.PastWinners(ctx, s.db, s.Now(), limit)
	if err != nil {
		return nil, err
	}
	return s.shown(ctx, bids)
}

func (s *Service) shown(ctx context.Context, bids []Bid) ([]Shown, error) {
	out := make([]Shown, 0, len(bids))
	weights := map[int64][]int{}
	for _, b := range bids {
		w, ok := weights[b.OfferingID]
		if !ok {
			st, err := s.Settings(ctx, b.OfferingID)
			if err != nil {
				return nil, err
			}
			w, weights[b.OfferingID] = st.Weights, st.Weights
		}
		slot := 0
		if b.Slot != nil {
			slot = *b.Slot
		}
		weight := clearing.FullWeight
		if slot >= 1 && slot <= len(w) {
			weight = w[slot-1]
		}
		out = append(out, Shown{OfferingID: b.OfferingID, Slot: slot, Weight: weight, Start: b.PeriodStart, End: b.PeriodEnd,
			Display: Display{Name: b.DisplayName, URL: b.DisplayURL, Tagline: b.DisplayTagline}})
	}
	return out, nil
}

// RunwayRevenue is the revenue door with no investors: all of it buys
// runway. It stands in until the investors' split is wired.
type RunwayRevenue struct {
	Offerings interface {
		CreditRunway(ctx context.Context, tx db.Tx, offeringID int64, c offering.Credit) (offering.Offering, error)
	}
}

// Distribute credits the whole event to the offering's runway.
func (r RunwayRevenue) Distribute(ctx context.Context, tx db.Tx, ev RevenueEvent) error {
	_, err := r.Offerings.CreditRunway(ctx, tx, ev.OfferingID, offering.Credit{Key: ev.Key, Debit: ev.From, Amount: ev.Amount, Memo: ev.Memo})
	return err
}

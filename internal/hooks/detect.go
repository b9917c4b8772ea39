package hooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/funding"
	"github.com/keepalive/keepalive/internal/hooks/internal/store"
	"github.com/keepalive/keepalive/internal/money"
	"github.com/keepalive/keepalive/internal/offering"
)

// stateNone is last_state for an offering never funded: offering.Status
// calls it expired, but nothing expired.
const stateNone = "none"

func lastStateOf(st offering.Status) string {
	if st.FundedUntil.IsZero() {
		return stateNone
	}
	return string(st.State)
}

// change is what the detector does to one webhook.
type change struct {
	events  []Event
	state   string
	lowSent bool
}

// transition compares what a webhook last saw with the status now. It is
// pure: the rules of the package doc, in one place.
func transition(prev string, lowSent bool, st offering.Status, threshold int64) change {
	c := change{state: lastStateOf(st), lowSent: lowSent}
	was := func(states ...offering.State) bool {
		for _, s := range states {
			if prev == string(s) {
				return true
			}
		}
		return false
	}
	switch c.state {
	case string(offering.Alive):
		if was(offering.Grace, offering.Expired) {
			c.events = append(c.events, Revived)
		}
	case string(offering.Expired):
		if was(offering.Alive, offering.Grace) {
			c.events = append(c.events, Expired)
		}
	}
	if st.State == offering.Alive && st.RunwaySeconds < threshold {
		if !lowSent {
			c.events = append(c.events, RunwayLow)
			c.lowSent = true
		}
	} else {
		c.lowSent = false
	}
	return c
}

// Detect compares every live webhook's offering with what the webhook last
// saw and enqueues the events, including credits not yet enqueued. It is
// idempotent; Run calls it every poll interval.
func (s *Service) Detect(ctx context.Context) error {
	rows, err := store.LiveWebhooks(ctx, s.db)
	if err != nil {
		return fmt.Errorf("hooks: %w", err)
	}
	var errs []error
	for _, r := range rows {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := s.detectOne(ctx, r); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Credited enqueues funded for a credited invoice, and whatever the credit
// changed (revived, the end of a low runway), for every webhook of its
// offering, and wakes the sender. Feed it funding's Subscribe channel (Run
// does); missing a call only delays the events to the next Detect.
func (s *Service) Credited(ctx context.Context, inv funding.Invoice) error {
	if inv.State != funding.InvoiceSettled {
		return nil
	}
	rows, err := store.WebhooksOf(ctx, s.db, inv.OfferingID)
	if err != nil {
		return fmt.Errorf("hooks: %w", err)
	}
	var errs []error
	for _, r := range rows {
		if err := s.detectOne(ctx, r); err != nil {
			errs = append(errs, err)
		}
	}
	if len(rows) > 0 {
		s.poke()
	}
	return errors.Join(errs...)
}

func (s *Service) poke() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *Service) detectOne(ctx context.Context, r store.Webhook) error {
	slug, err := s.slugOf(ctx, r.OfferingID)
	if err != nil {
		return fmt.Errorf("hooks: webhook %d: %w", r.ID, err)
	}
	st, err := s.offerings.Status(ctx, slug)
	if err != nil {
		return fmt.Errorf("hooks: webhook %d: %w", r.ID, err)
	}
	w := webhookOf(r)
	if w.Subscribes(Funded) {
		if err := s.catchUpFunded(ctx, r, st); err != nil {
			return err
		}
	}
	c := transition(r.LastState, r.LowSent, st, r.RunwayLowSeconds)
	if c.state == r.LastState && c.lowSent == r.LowSent && len(c.events) == 0 {
		return nil
	}
	now := s.clock()
	expiredAt := now
	if slices.Contains(c.events, Expired) && w.Subscribes(Expired) {
		// When it really expired, which may be while the site was down.
		o, err := s.offerings.GetByID(ctx, r.OfferingID)
		if err != nil {
			return fmt.Errorf("hooks: webhook %d: %w", r.ID, err)
		}
		if t := st.FundedUntil.Add(time.Duration(o.GraceSeconds) * time.Second); t.Before(now) {
			expiredAt = t
		}
	}
	return s.db.Tx(ctx, func(tx db.Tx) error {
		// Guarded by the state it was computed from: a run that lost the
		// race changes nothing and sees the new state next time.
		moved, err := store.MoveState(ctx, tx, r, c.state, c.lowSent)
		if err != nil || !moved {
			return err
		}
		for _, e := range c.events {
			if !w.Subscribes(e) {
				continue
			}
			at := now
			if e == Expired {
				at = expiredAt
			}
			key := fmt.Sprintf("%s:%d", e, st.FundedUntil.UnixMilli())
			if err := s.enqueue(ctx, tx, r.ID, e, key, newPayload(e, at, st, nil)); err != nil {
				return err
			}
		}
		return nil
	})
}

// catchUpFunded enqueues funded for the offering's invoices settled since
// the webhook was created (within FundedLookback) that have none yet.
func (s *Service) catchUpFunded(ctx context.Context, r store.Webhook, st offering.Status) error {
	// lnd reports settle times in whole seconds: a payment settled in the
	// second the webhook was made may read as just before it.
	since := r.CreatedAt.Truncate(time.Second)
	if floor := s.clock().Add(-FundedLookback); since.Before(floor) {
		since = floor
	}
	// Funding lists the credits page by page; the webhook's deliveries say
	// which of them already have a message. At most 100 are enqueued a
	// run, as the rest will be the next time.
	const page, perRun = 200, 100
	enqueued := 0
	var after funding.Credit
	for enqueued < perRun {
		credits, err := s.credits.CreditsSince(ctx, r.OfferingID, since, after, page)
		if err != nil {
			return fmt.Errorf("hooks: credits for webhook %d: %w", r.ID, err)
		}
		keys := make([]string, len(credits))
		for i, c := range credits {
			keys[i] = "funded:" + c.PaymentHash
		}
		have, err := store.KeysEnqueued(ctx, s.db, r.ID, keys)
		if err != nil {
			return fmt.Errorf("hooks: %w", err)
		}
		for _, c := range credits {
			if slices.Contains(have, "funded:"+c.PaymentHash) || enqueued == perRun {
				continue
			}
			p := newPayload(Funded, c.SettledAt, st, &credit{amount: c.Paid, hash: c.PaymentHash})
			if err := s.enqueue(ctx, s.db, r.ID, Funded, "funded:"+c.PaymentHash, p); err != nil {
				return err
			}
			enqueued++
		}
		if len(credits) < page {
			return nil
		}
		after = credits[len(credits)-1]
	}
	return nil
}

// enqueue adds a message unless the webhook already has one for key.
// c is the pool or the transaction the event belongs to.
func (s *Service) enqueue(ctx context.Context, c db.Conn, webhookID int64, e Event, key string, payload []byte) error {
	msgID, err := s.newMsgID()
	if err != nil {
		return err
	}
	now := s.clock()
	row := store.Delivery{MsgID: msgID, WebhookID: webhookID, Event: string(e), EventKey: key, Payload: string(payload),
		State: string(Pending), NextAttemptAt: now, CreatedAt: now}
	if err := store.Enqueue(ctx, c, row); err != nil {
		return fmt.Errorf("hooks: %w", err)
	}
	return nil
}

type credit struct {
	amount money.Msat
	hash   string
}

// Payload is the JSON body of every message, as Standard Webhooks
// suggests: type, timestamp, data.
type Payload struct {
	Type      Event       `json:"type"`
	Timestamp string      `json:"timestamp"` // RFC 3339, when it happened
	Data      PayloadData `json:"data"`
}

// PayloadData is the offering's status when the event was detected.
type PayloadData struct {
	Offering      string      `json:"offering"` // slug
	State         string      `json:"state"`    // alive, grace, expired
	FundedUntil   *string     `json:"funded_until"`
	RunwaySeconds int64       `json:"runway_seconds"`
	AmountMsat    *money.Msat `json:"amount_msat,omitempty"`  // funded only
	PaymentHash   string      `json:"payment_hash,omitempty"` // funded only
}

func newPayload(e Event, at time.Time, st offering.Status, c *credit) []byte {
	p := Payload{Type: e, Timestamp: at.UTC().Format(time.RFC3339),
		Data: PayloadData{Offering: st.Slug, State: string(st.State), RunwaySeconds: st.RunwaySeconds}}
	if !st.FundedUntil.IsZero() {
		f := st.FundedUntil.UTC().Format(time.RFC3339)
		p.Data.FundedUntil = &f
	}
	if c != nil {
		p.Data.AmountMsat, p.Data.PaymentHash = &c.amount, c.hash
	}
	b, err := json.Marshal(p)
	if err != nil {
		panic(err) // plain strings and numbers: cannot fail
	}
	return b
}

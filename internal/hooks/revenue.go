package hooks

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/hooks/internal/store"
	"github.com/keepalive/keepalive/internal/invest"
	"github.com/keepalive/keepalive/internal/money"
)

// RevenueDistributed is sent for every revenue event shared among an
// offering's investors and runway. Unlike the status events it is
// recorded as it happens: enqueued in the distribution's transaction,
// keyed by the event, so it is sent exactly once.
const RevenueDistributed Event = "revenue_distributed"

var _ invest.Notifier = (*Service)(nil)

// RevenuePayload is the body of a revenue_distributed message.
type RevenuePayload struct {
	Type      Event       `json:"type"`
	Timestamp string      `json:"timestamp"`
	Data      RevenueData `json:"data"`
}

// RevenueData says how one revenue event was shared.
type RevenueData struct {
	Offering      string     `json:"offering"`
	EventID       int64      `json:"event_id"`
	AmountMsat    money.Msat `json:"amount_msat"`
	InvestorsMsat money.Msat `json:"investors_msat"`
	RunwayMsat    money.Msat `json:"runway_msat"`
	Investments   int        `json:"investments"`
}

// RevenueDistributed enqueues revenue_distributed for every webhook of
// the offering that subscribes to it, inside tx.
func (s *Service) RevenueDistributed(ctx context.Context, tx db.Tx, offeringID int64, ev invest.Event) error {
	return s.enqueueRecorded(ctx, tx, offeringID, RevenueDistributed, "revenue:"+ev.Key, func(slug string) any {
		return RevenuePayload{Type: RevenueDistributed, Timestamp: ev.CreatedAt.UTC().Format(time.RFC3339),
			Data: RevenueData{Offering: slug, EventID: ev.ID, AmountMsat: ev.AmountMsat, InvestorsMsat: ev.InvestorsMsat,
				RunwayMsat: ev.RunwayMsat, Investments: ev.Investments}}
	})
}

// enqueueRecorded enqueues an event recorded as it happens (not a status
// transition) for every webhook of the offering that subscribes to it,
// inside tx, under key: sent once however often the caller runs. The
// payload, from the offering's slug, is made once, and only when some
// webhook wants it.
func (s *Service) enqueueRecorded(ctx context.Context, tx db.Tx, offeringID int64, event Event, key string, payload func(slug string) any) error {
	rows, err := store.WebhooksOf(ctx, tx, offeringID)
	if err != nil {
		return fmt.Errorf("hooks: %w", err)
	}
	var body []byte
	for _, r := range rows {
		if !webhookOf(r).Subscribes(event) {
			continue
		}
		if body == nil {
			slug, err := s.slugOf(ctx, offeringID)
			if err != nil {
				return err
			}
			if body, err = json.Marshal(payload(slug)); err != nil {
				return fmt.Errorf("hooks: %s payload: %w", event, err)
			}
			tx.AfterCommit(s.poke)
		}
		if err := s.enqueue(ctx, tx, r.ID, event, key, body); err != nil {
			return err
		}
	}
	return nil
}

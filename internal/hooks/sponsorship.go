package hooks

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/hooks/internal/store"
	"github.com/keepalive/keepalive/internal/money"
	"github.com/keepalive/keepalive/internal/sponsor"
	"github.com/keepalive/keepalive/internal/sponsor/clearing"
)

// SponsorshipStarted is sent when a sponsorship period with winners
// starts (is cleared). Like revenue_distributed it is recorded as it
// happens: enqueued in the clearing's transaction, keyed by the period,
// so it is sent exactly once however often clearing runs.
const SponsorshipStarted Event = "sponsorship_started"

var _ sponsor.Events = (*Service)(nil)

// SponsorshipPayload is the body of a sponsorship_started message.
type SponsorshipPayload struct {
	Type      Event           `json:"type"`
	Timestamp string          `json:"timestamp"`
	Data      SponsorshipData `json:"data"`
}

// SponsorshipData is a started period and its winners, as published in
// the period's clearing record.
type SponsorshipData struct {
	Offering string          `json:"offering"`
	Start    string          `json:"start"`
	End      string          `json:"end"`
	Winners  []SponsorWinner `json:"winners"`
}

// SponsorWinner is one winning bid: its slot, charge and display.
type SponsorWinner struct {
	Slot    int               `json:"slot"`
	Bid     string            `json:"bid"`
	Charge  money.Msat        `json:"charge_msat"`
	Display *clearing.Display `json:"display,omitempty"`
}

// SponsorshipStarted enqueues sponsorship_started for every webhook of
// the offering that subscribes to it, inside tx.
func (s *Service) SponsorshipStarted(ctx context.Context, tx db.Tx, offeringID int64, start, end time.Time, winners []clearing.Winner) error {
	rows, err := store.WebhooksOf(ctx, tx, offeringID)
	if err != nil {
		return fmt.Errorf("hooks: %w", err)
	}
	var payload []byte
	for _, r := range rows {
		if !webhookOf(r).Subscribes(SponsorshipStarted) {
			continue
		}
		if payload == nil {
			slug, err := s.slugOf(ctx, offeringID)
			if err != nil {
				return err
			}
			data := SponsorshipData{Offering: slug, Start: sponsor.FormatStart(start), End: sponsor.FormatStart(end), Winners: []SponsorWinner{}}
			for _, w := range winners {
				data.Winners = append(data.Winners, SponsorWinner{Slot: w.Slot, Bid: w.Bid, Charge: w.Charge, Display: w.Display})
			}
			if payload, err = json.Marshal(SponsorshipPayload{Type: SponsorshipStarted, Timestamp: data.Start, Data: data}); err != nil {
				return fmt.Errorf("hooks: sponsorship payload: %w", err)
			}
		}
		key := fmt.Sprintf("sponsorship:%d:%s", offeringID, sponsor.FormatStart(start))
		if err := s.enqueue(ctx, tx, r.ID, SponsorshipStarted, key, payload); err != nil {
			return err
		}
		tx.AfterCommit(s.poke)
	}
	return nil
}

package hooks

import (
	"context"
	"fmt"
	"time"

	"github.com/keepalive/keepalive/internal/db"
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
	key := fmt.Sprintf("sponsorship:%d:%s", offeringID, sponsor.FormatStart(start))
	return s.enqueueRecorded(ctx, tx, offeringID, SponsorshipStarted, key, func(slug string) any {
		data := SponsorshipData{Offering: slug, Start: sponsor.FormatStart(start), End: sponsor.FormatStart(end), Winners: []SponsorWinner{}}
		for _, w := range winners {
			data.Winners = append(data.Winners, SponsorWinner{Slot: w.Slot, Bid: w.Bid, Charge: w.Charge, Display: w.Display})
		}
		return SponsorshipPayload{Type: SponsorshipStarted, Timestamp: data.Start, Data: data}
	})
}

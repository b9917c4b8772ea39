package invest

import (
	"context"
	"fmt"
	"github.com/keepalive/keepalive/internal/invest/internal/store"
	"strings"
)

// LedgerNotes names, for an offering's public ledger, the transfers among
// ids that were an investment's principal or a revenue event's runway
// part: "investment · 100,000 sats" (with the investor's name only when
// public) and "revenue event · 10,000 sats · 5,000 sats to 2 investors ·
// 5,000 sats to the runway". Other ids are left out. It reads only the
// transfers and rows of those ids, so a page costs the same however long
// the offering has lived.
func (s *Service) LedgerNotes(ctx context.Context, offeringID int64, ids []int64) (map[int64]string, error) {
	moves, err := s.ledger.MovementsByID(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("invest: ledger notes of %d: %w", offeringID, err)
	}
	byEvent, byHash := map[string]int64{}, map[string]int64{}
	for _, m := range moves {
		switch {
		case strings.HasSuffix(m.Key, "/runway"): // a revenue event's runway part, if it is one
			byEvent[strings.TrimSuffix(m.Key, "/runway")] = m.ID
		case strings.HasPrefix(m.Key, "invoice:"):
			byHash[strings.TrimPrefix(m.Key, "invoice:")] = m.ID
		}
	}
	events, invs, err := store.ByKeys(ctx, s.db, offeringID, keysOf(byEvent), keysOf(byHash))
	if err != nil {
		return nil, err
	}
	notes := make(map[int64]string, len(events)+len(invs))
	for _, e := range events {
		notes[byEvent[e.Key]] = "revenue event · " + e.AmountMsat.Display() + " · " + e.InvestorsMsat.Display() + " to " +
			plural(e.Investments, "investor") + " · " + e.RunwayMsat.Display() + " to the runway"
	}
	for _, inv := range invs {
		note := "investment · " + inv.PrincipalMsat.Display()
		if inv.Public && inv.Name != "" {
			note += " · " + inv.Name
		}
		notes[byHash[inv.PaymentHash]] = note
	}
	return notes, nil
}

func keysOf(m map[string]int64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

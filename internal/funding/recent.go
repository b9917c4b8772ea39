package funding

import (
	"context"
	"time"

	"github.com/keepalive/keepalive/internal/funding/internal/store"
	"github.com/keepalive/keepalive/internal/money"
)

// RecentCredits returns an offering's latest settled invoices, newest
// first, for its owner's dashboard; sealed sponsor bids are not among them.
func (s *Service) RecentCredits(ctx context.Context, offeringID int64, limit int) ([]Invoice, error) {
	if limit <= 0 || limit > 100 {
		limit = 10
	}
	return store.Settled(ctx, s.db, offeringID, PurposeBid, limit)
}

// Credit is a settled invoice as other packages see it.
type Credit struct {
	ID          int64
	PaymentHash string
	Paid        money.Msat
	SettledAt   time.Time
}

// CreditsSince returns up to limit of the offering's invoices settled at
// or after since, in settlement order, starting after the credit after
// (zero: from the first).
func (s *Service) CreditsSince(ctx context.Context, offeringID int64, since time.Time, after Credit, limit int) ([]Credit, error) {
	rows, err := store.SettledSince(ctx, s.db, offeringID, since, after.ID, after.SettledAt, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Credit, len(rows))
	for i, r := range rows {
		out[i] = Credit{ID: r.ID, PaymentHash: r.PaymentHash, Paid: r.PaidMsat, SettledAt: r.SettledAt.UTC()}
	}
	return out, nil
}

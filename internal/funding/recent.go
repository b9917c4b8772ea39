package funding

import (
	"context"
	"fmt"
	"time"

	"github.com/keepalive/keepalive/internal/money"
)

// RecentCredits returns an offering's latest settled invoices, newest
// first, for its owner's dashboard.
func (s *Service) RecentCredits(ctx context.Context, offeringID int64, limit int) ([]Invoice, error) {
	if limit <= 0 || limit > 100 {
		limit = 10
	}
	var out []Invoice
	err := s.db.Gorm(ctx).Where("offering_id = ? AND state = ?", offeringID, InvoiceSettled).
		Order("settled_at DESC, id DESC").Limit(limit).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("funding: recent credits of %d: %w", offeringID, err)
	}
	return out, nil
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
	q := s.db.Gorm(ctx).Where("offering_id = ? AND state = ? AND settled_at >= ?", offeringID, InvoiceSettled, since)
	if after.ID != 0 {
		q = q.Where("(settled_at > ? OR (settled_at = ? AND id > ?))", after.SettledAt, after.SettledAt, after.ID)
	}
	var rows []Invoice
	if err := q.Select("id", "payment_hash", "paid_msat", "settled_at").Order("settled_at, id").Limit(limit).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("funding: credits of %d since %s: %w", offeringID, since.Format(time.RFC3339), err)
	}
	out := make([]Credit, len(rows))
	for i, r := range rows {
		out[i] = Credit{ID: r.ID, PaymentHash: r.PaymentHash, Paid: r.PaidMsat, SettledAt: r.SettledAt.UTC()}
	}
	return out, nil
}

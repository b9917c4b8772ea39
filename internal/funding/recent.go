package funding

import (
	"context"
	"fmt"
)

// RecentCredits returns an offering's latest settled invoices, newest
// first, for its owner's dashboard; sealed sponsor bids are not among them.
func (s *Service) RecentCredits(ctx context.Context, offeringID int64, limit int) ([]Invoice, error) {
	if limit <= 0 || limit > 100 {
		limit = 10
	}
	var out []Invoice
	err := s.db.Gorm(ctx).Where("offering_id = ? AND state = ? AND purpose <> ?", offeringID, InvoiceSettled, PurposeBid).
		Order("settled_at DESC, id DESC").Limit(limit).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("funding: recent credits of %d: %w", offeringID, err)
	}
	return out, nil
}

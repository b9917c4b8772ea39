package offering

import (
	"context"
	"time"
)

// AccrueAll posts the consumption of every offering that has runway left,
// so owners' earned balances are current. It returns how many offerings
// it accrued.
func (s *Service) AccrueAll(ctx context.Context) (int, error) {
	var ids []int64
	err := s.db.Gorm(ctx).Table("offerings").
		Joins("JOIN accounts ON accounts.id = offerings.runway_account_id").
		Where("accounts.credits_posted - accounts.debits_posted > 0").
		Pluck("offerings.id", &ids).Error
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		if _, err := s.Accrue(ctx, id); err != nil {
			s.log.Error("accrual failed", "offering", id, "err", err)
			continue
		}
		n++
	}
	return n, nil
}

// RunAccrual runs AccrueAll every interval until ctx is done, on one
// replica at a time.
func (s *Service) RunAccrual(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		ran, err := s.db.WithLease(ctx, "accrual", func(ctx context.Context) error {
			_, err := s.AccrueAll(ctx)
			return err
		})
		if err != nil && ctx.Err() == nil {
			s.log.Error("accrual job", "err", err, "ran", ran)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

package offering

import (
	"context"
	"time"

	"github.com/keepalive/keepalive/internal/offering/internal/store"
)

// AccrueAll posts the day's consumption line of every offering that has
// runway left and no accrual posted yet this UTC day, and returns how
// many it posted. Between those lines nothing is written as time passes:
// reads compute consumption from the last posting (see SettleAccrual), so
// the ledger grows with money, at most one accrual a day for an idle
// offering, not one a minute.
func (s *Service) AccrueAll(ctx context.Context) (int, error) {
	today := s.Now().Format(time.DateOnly)
	ids, err := store.IDsToAccrue(ctx, s.db, today)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		consumed, err := s.Accrue(ctx, id)
		if err != nil {
			s.log.Error("accrual failed", "offering", id, "err", err)
			continue
		}
		if consumed > 0 {
			n++
		}
	}
	return n, nil
}

// RunAccrual looks every interval for offerings whose day's line is not
// posted yet (AccrueAll) until ctx is done, on one replica at a time.
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

package offering

import (
	"context"
	"time"

	"github.com/keepalive/keepalive/internal/notify"
)

// ShareStatus makes every status change this replica makes drop the
// cached status on every replica at once, through h; the function it
// returns follows the other replicas' changes until ctx is done (run it
// in its own goroutine). Call it before the service is used.
func (s *Service) ShareStatus(h *notify.Hub) func(ctx context.Context) {
	changes, stop := h.Subscribe(notify.StatusChanged)
	s.cache.publish = func(slug string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := h.Publish(ctx, notify.StatusChanged, slug); err != nil {
			// Other replicas see the change when their entry expires.
			s.log.Warn("status change not announced", "slug", slug, "err", err)
		}
	}
	return func(ctx context.Context) {
		defer stop()
		for {
			select {
			case <-ctx.Done():
				return
			case slug := <-changes:
				if slug == notify.Recheck {
					s.cache.clear()
				} else {
					s.cache.drop(slug)
				}
			}
		}
	}
}

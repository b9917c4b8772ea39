package funding

import (
	"context"
	"sync"
	"time"

	"github.com/keepalive/keepalive/internal/notify"
)

// SetHub makes settlements known to every replica through h (a PostgreSQL
// hub when several replicas share the database). Without it they are
// known in this process only. Call it before the service is used.
func (s *Service) SetHub(h *notify.Hub) { s.live = h }

// Settlements returns a channel of the payment hashes credited by any
// replica, and a function to stop. A key of notify.Recheck means events
// may have been missed: read what you wait for from the database again.
func (s *Service) Settlements() (<-chan string, func()) {
	return s.live.Subscribe(notify.InvoiceSettled)
}

// CreditedHere returns the invoice as this replica credited it, when it
// did so lately (its last justCreditedKept credits): a request waiting
// here for the payment answers from it without reading the invoice back.
// An invoice credited elsewhere, or long ago, is read from the database.
func (s *Service) CreditedHere(paymentHash string) (Invoice, bool) {
	return s.credited.get(paymentHash)
}

// justCredited holds the latest invoices this replica credited, as
// committed (a credited invoice does not change again).
type justCredited struct {
	mu    sync.Mutex
	byKey map[string]Invoice
	order []string // oldest first
}

const justCreditedKept = 1024

func (j *justCredited) add(inv Invoice) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.byKey == nil {
		j.byKey = make(map[string]Invoice, justCreditedKept)
	}
	if len(j.order) == justCreditedKept {
		delete(j.byKey, j.order[0])
		j.order = j.order[1:]
	}
	j.byKey[inv.PaymentHash] = inv
	j.order = append(j.order, inv.PaymentHash)
}

func (j *justCredited) get(paymentHash string) (Invoice, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	inv, ok := j.byKey[paymentHash]
	return inv, ok
}

// announce tells every replica that an invoice was credited. The credit
// is committed already: a failure here only delays pages, which re-check.
func (s *Service) announce(ctx context.Context, paymentHash string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.live.Publish(ctx, notify.InvoiceSettled, paymentHash); err != nil {
		s.log.Warn("settlement not announced; pages will see it on their next check", "payment_hash", paymentHash, "err", err)
	}
}

// queued wakes the payout worker, on whichever replica holds it.
func (s *Service) queued(ctx context.Context) {
	s.Kick()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.live.Publish(ctx, notify.PayoutQueued, ""); err != nil {
		s.log.Warn("payout not announced; the worker finds it on its next round", "err", err)
	}
}

// FollowPayouts makes payouts queued on any replica wake this replica's
// payout worker (which runs only where the payouts lease is held); the
// function it returns does so until ctx is done.
func (s *Service) FollowPayouts() func(ctx context.Context) {
	queued, stop := s.live.Subscribe(notify.PayoutQueued)
	return func(ctx context.Context) {
		defer stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-queued:
				s.Kick()
			}
		}
	}
}

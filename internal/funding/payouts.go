package funding

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/funding/internal/store"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/lightning"
	"github.com/keepalive/keepalive/internal/money"
	"github.com/keepalive/keepalive/internal/offering"
)

// PayoutState is where a payout stands.
type PayoutState = store.PayoutState

const (
	PayoutPending   = store.PayoutPending
	PayoutSucceeded = store.PayoutSucceeded
	PayoutFailed    = store.PayoutFailed
)

// Payout is one payment the site sends out of a payable account.
type Payout = store.Payout

// Resolver turns a Lightning Address or LNURL-pay into a BOLT11 invoice
// for exactly amount, checked against the LNURL's metadata.
type Resolver interface {
	Resolve(ctx context.Context, destination string, amount money.Msat) (string, error)
}

// Fee budget of a payout: 0.5% of the amount, at least 5 sats. Whatever
// of it is not spent stays in the payable account.
const (
	minFeeLimit       money.Msat = 5_000
	feeLimitDivisor              = 200 // 0.5%
	payTimeout                   = 60 * time.Second
	minPayout         money.Msat = 1_000
	payoutRetryPeriod            = 10 * time.Second
)

// FeeLimit is the routing fee budget for a payment of amount.
func FeeLimit(amount money.Msat) money.Msat {
	f := amount/feeLimitDivisor + min(amount%feeLimitDivisor, 1) // rounded up, without overflow
	if f < minFeeLimit {
		return minFeeLimit
	}
	return f
}

// MaxPayable is the largest whole number of sats that, with its fee
// budget, fits in available; zero when nothing fits. Payouts are whole
// sats, as people see them: the sub-sat remainder stays for later.
func MaxPayable(available money.Msat) money.Msat {
	if available <= minFeeLimit {
		return 0
	}
	amount := available - minFeeLimit
	// available·200/201 without overflowing int64 near 21M BTC.
	if byShare, err := money.MulDiv(available, feeLimitDivisor, feeLimitDivisor+1); err == nil && byShare < amount {
		amount = byShare
	}
	for amount > 0 && amount+FeeLimit(amount) > available {
		amount--
	}
	return amount / money.MsatPerSat * money.MsatPerSat
}

// payer sends payouts. It is part of Service; its own fields keep the
// in-flight bookkeeping apart.
type payer struct {
	resolver Resolver
	kick     chan struct{}
	mu       sync.Mutex
	inflight map[string]bool
	wg       sync.WaitGroup // payouts being finished
}

// SetResolver sets how Lightning Addresses and LNURLs are paid.
func (s *Service) SetResolver(r Resolver) { s.payer.resolver = r }

// WithdrawEarned pays an offering's whole earned balance, brought up to
// this moment, less the fee budget, to destination: a BOLT11 invoice (its
// amount, if it has one, must fit), a Lightning Address or an LNURL-pay.
func (s *Service) WithdrawEarned(ctx context.Context, o offering.Offering, destination string) (Payout, error) {
	if _, err := s.offerings.Accrue(ctx, o.ID); err != nil {
		return Payout{}, err
	}
	source := ledger.OfferingEarned(o.ID)
	acct, err := s.ledger.Account(ctx, source)
	if err != nil {
		return Payout{}, err
	}
	return s.Pay(ctx, source, &o.ID, acct.Available(), destination)
}

// Pay records a payout of up to available from the source account to
// destination, reserves it in the ledger, and hands it to the payout
// worker. Nothing is written when the destination is bad or the money
// is not there.
func (s *Service) Pay(ctx context.Context, source string, offeringID *int64, available money.Msat, destination string) (Payout, error) {
	destination = strings.TrimSpace(destination)
	if destination == "" {
		return Payout{}, apperr.InvalidFields(map[string]string{"destination": "Give a Lightning invoice or a Lightning Address."})
	}
	if len(destination) > 2048 {
		return Payout{}, apperr.InvalidFields(map[string]string{"destination": "That destination is too long."})
	}
	max := MaxPayable(available)
	if max < minPayout {
		return Payout{}, apperr.New(apperr.Conflict, "There is nothing to withdraw yet (the balance must cover at least 1 sat and the routing fee budget).")
	}
	pr, amount, err := s.invoiceFor(ctx, destination, max)
	if err != nil {
		return Payout{}, err
	}
	decoded, err := s.node.DecodePaymentRequest(ctx, pr)
	if err != nil {
		return Payout{}, apperr.Wrap(err, apperr.Unprocessable, "That is not a Lightning invoice for this network.")
	}
	now := s.now().UTC()
	if !decoded.ExpiresAt().After(now.Add(10 * time.Second)) {
		return Payout{}, apperr.New(apperr.Unprocessable, "That invoice has expired.")
	}
	if decoded.AmountMsat > 0 {
		if amount > 0 && decoded.AmountMsat != amount {
			return Payout{}, apperr.New(apperr.Unprocessable, "The invoice is for %s, not the %s asked for.", decoded.AmountMsat, amount)
		}
		amount = decoded.AmountMsat
	} else if amount == 0 {
		amount = max
	}
	if amount < minPayout {
		// Each payout costs a routing fee budget and a row; dust invoices
		// (a wallet may ask for 1 msat) would spend them for nothing.
		return Payout{}, apperr.New(apperr.Unprocessable, "The invoice is for %s; a withdrawal is at least %s.", amount, minPayout)
	}
	feeLimit := FeeLimit(amount)
	if amount > max || amount+feeLimit > available {
		return Payout{}, apperr.New(apperr.Conflict, "The invoice is for %s, more than the %s that can be withdrawn now.", amount, max)
	}
	p := Payout{
		PaymentHash: decoded.PaymentHash.String(), PaymentRequest: pr, SourceAccount: source, OfferingID: offeringID,
		Destination: displayDestination(destination), AmountMsat: amount, FeeLimitMsat: feeLimit, State: PayoutPending, CreatedAt: now,
	}
	err = s.db.Tx(ctx, func(tx db.Tx) error {
		paid := apperr.New(apperr.Conflict, "That invoice has already been paid or is being paid.")
		if exists, err := store.PayoutExists(ctx, tx, p.PaymentHash); err != nil {
			return err
		} else if exists {
			return paid
		}
		if err := store.InsertPayout(ctx, tx, &p); err != nil {
			if errors.Is(err, db.ErrDuplicate) {
				return paid
			}
			return err
		}
		l := s.ledger.In(tx)
		if err := l.Lock(ctx, source, ledger.Lightning, ledger.RoutingFees); err != nil {
			return err
		}
		if _, err := l.Reserve(ctx, ledger.Entry{Key: "payout:" + p.PaymentHash, Debit: source, Credit: ledger.Lightning, Amount: amount, Memo: "payout"}); err != nil {
			return err
		}
		_, err := l.Reserve(ctx, ledger.Entry{Key: "payout-fee:" + p.PaymentHash, Debit: source, Credit: ledger.RoutingFees, Amount: feeLimit, Memo: "routing fee budget"})
		return err
	})
	if err != nil {
		return Payout{}, err
	}
	s.queued(ctx)
	return p, nil
}

// invoiceFor returns the invoice to pay for destination, and the amount
// it was asked for (zero for a BOLT11 the caller gave).
func (s *Service) invoiceFor(ctx context.Context, destination string, max money.Msat) (string, money.Msat, error) {
	lower := strings.ToLower(destination)
	lower = strings.TrimPrefix(lower, "lightning:")
	if strings.HasPrefix(lower, "ln") && !strings.HasPrefix(lower, "lnurl") {
		return lower, 0, nil
	}
	if s.payer.resolver == nil {
		return "", 0, apperr.New(apperr.Unprocessable, "Only Lightning invoices can be paid here.")
	}
	if !strings.Contains(lower, "@") && !strings.HasPrefix(lower, "lnurl") {
		return "", 0, apperr.InvalidFields(map[string]string{"destination": "Give a Lightning invoice (lnbc…), a Lightning Address (name@host) or an LNURL."})
	}
	pr, err := s.payer.resolver.Resolve(ctx, lower, max)
	if err != nil {
		if apperr.CodeOf(err) == apperr.Internal {
			return "", 0, apperr.Wrap(err, apperr.Unprocessable, "That Lightning Address did not give us an invoice.")
		}
		return "", 0, err
	}
	// The resolver checked the invoice against what it asked for (it may
	// ask for less when the recipient takes less).
	return pr, 0, nil
}

func displayDestination(d string) string {
	if strings.Contains(d, "@") {
		return d
	}
	if len(d) > 24 {
		return d[:16] + "…" + d[len(d)-6:]
	}
	return d
}

// Kick wakes the payout worker.
func (s *Service) Kick() {
	select {
	case s.payer.kick <- struct{}{}:
	default:
	}
}

// RunPayouts finishes pending payouts until ctx is done: new ones as they
// are kicked, and every pending one, also those left by a crash, every
// few seconds. Only one replica runs it at a time.
func (s *Service) RunPayouts(ctx context.Context) {
	t := time.NewTicker(payoutRetryPeriod)
	defer t.Stop()
	for {
		ran, err := s.db.WithLease(ctx, "payouts", func(ctx context.Context) error {
			for {
				if err := s.ProcessPending(ctx); err != nil {
					s.log.Error("pending payouts", "err", err)
				}
				select {
				case <-ctx.Done():
					s.payer.wg.Wait() // the lease is kept until every payout in flight is booked or left
					return nil
				case <-s.payer.kick:
				case <-t.C:
				}
			}
		})
		if err != nil && ctx.Err() == nil {
			s.log.Error("payout worker", "err", err)
		}
		wait := payoutRetryPeriod
		if !ran {
			wait = db.LeaseRetry // another replica holds it: ask again soon, in case it died
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// ProcessPending starts finishing every pending payout not already being
// finished.
func (s *Service) ProcessPending(ctx context.Context) error {
	pending, err := store.PendingPayouts(ctx, s.db)
	if err != nil {
		return err
	}
	for _, p := range pending {
		s.payer.mu.Lock()
		busy := s.payer.inflight[p.PaymentHash]
		if !busy {
			s.payer.inflight[p.PaymentHash] = true
		}
		s.payer.mu.Unlock()
		if busy {
			continue
		}
		s.payer.wg.Add(1)
		go func(p Payout) {
			defer s.payer.wg.Done()
			defer func() {
				s.payer.mu.Lock()
				delete(s.payer.inflight, p.PaymentHash)
				s.payer.mu.Unlock()
			}()
			if err := s.finish(ctx, p); err != nil && ctx.Err() == nil {
				s.log.Warn("payout not finished yet", "payment_hash", p.PaymentHash, "err", err)
			}
		}(p)
	}
	return nil
}

// finish asks the node about the payout, sends it only if the node never
// saw it, and books the outcome.
func (s *Service) finish(ctx context.Context, p Payout) error {
	hash, err := lightning.ParseHash(p.PaymentHash)
	if err != nil {
		return err
	}
	pay, err := s.node.TrackPayment(ctx, hash)
	if errors.Is(err, lightning.ErrPaymentNotFound) {
		req := lightning.PayRequest{PaymentRequest: p.PaymentRequest, FeeLimitMsat: p.FeeLimitMsat, Timeout: payTimeout}
		if d, derr := s.node.DecodePaymentRequest(ctx, p.PaymentRequest); derr == nil && d.AmountMsat == 0 {
			req.AmountMsat = p.AmountMsat
		}
		pay, err = s.node.SendPayment(ctx, req)
	}
	if err != nil {
		return err // not an outcome: the payout stays pending and is asked about again
	}
	switch pay.State {
	case lightning.PaymentSucceeded:
		return s.complete(ctx, p, pay.FeeMsat)
	case lightning.PaymentFailed:
		return s.fail(ctx, p, pay.FailureReason)
	}
	return nil // still in flight
}

func (s *Service) complete(ctx context.Context, p Payout, fee money.Msat) error {
	if fee > p.FeeLimitMsat {
		// lnd never exceeds the limit it was given; if a node ever did,
		// the overshoot is the operator's loss, not the payee's money.
		s.log.Error("routing fee above its limit", "payment_hash", p.PaymentHash, "fee", fee, "limit", p.FeeLimitMsat)
		fee = p.FeeLimitMsat
	}
	err := s.db.Tx(ctx, func(tx db.Tx) error {
		l := s.ledger.In(tx)
		if _, err := l.PostPending(ctx, "payout:"+p.PaymentHash+":sent", "payout:"+p.PaymentHash, p.AmountMsat); err != nil {
			return err
		}
		if _, err := l.PostPending(ctx, "payout-fee:"+p.PaymentHash+":sent", "payout-fee:"+p.PaymentHash, fee); err != nil {
			return err
		}
		if p.OfferingID != nil {
			if o, gerr := s.offerings.GetByID(ctx, *p.OfferingID); gerr == nil {
				tx.AfterCommit(func() { s.offerings.Invalidate(o.Slug) }) // its earned balance moved
			}
		}
		tx.AfterCommit(func() { payoutsFinished.WithLabelValues(string(PayoutSucceeded)).Inc() })
		now := s.now().UTC()
		return store.FinishPayout(ctx, tx, p.ID, PayoutSucceeded, fee, "", now)
	})
	return err
}

func (s *Service) fail(ctx context.Context, p Payout, reason string) error {
	err := s.db.Tx(ctx, func(tx db.Tx) error {
		l := s.ledger.In(tx)
		if _, err := l.VoidPending(ctx, "payout:"+p.PaymentHash+":failed", "payout:"+p.PaymentHash); err != nil {
			return err
		}
		if _, err := l.VoidPending(ctx, "payout-fee:"+p.PaymentHash+":failed", "payout-fee:"+p.PaymentHash); err != nil {
			return err
		}
		if reason == "" {
			reason = "the payment failed"
		}
		now := s.now().UTC()
		return store.FinishPayout(ctx, tx, p.ID, PayoutFailed, 0, reason, now)
	})
	if err == nil {
		payoutsFinished.WithLabelValues(string(PayoutFailed)).Inc()
	}
	return err
}

// Payouts lists an offering's payouts, newest first.
func (s *Service) Payouts(ctx context.Context, offeringID int64, limit int) ([]Payout, error) {
	if limit <= 0 || limit > 100 {
		limit = 50
	}
	return store.PayoutsOfOffering(ctx, s.db, offeringID, limit)
}

// PayoutsFrom lists the payouts from one source account (an investment's
// payable), newest first.
func (s *Service) PayoutsFrom(ctx context.Context, source string, limit int) ([]Payout, error) {
	if limit <= 0 || limit > 100 {
		limit = 50
	}
	return store.PayoutsFrom(ctx, s.db, source, limit)
}

// Payout returns one payout by payment hash.
func (s *Service) Payout(ctx context.Context, paymentHash string) (Payout, error) {
	p, ok, err := store.PayoutByHash(ctx, s.db, paymentHash)
	if err == nil && !ok {
		return Payout{}, apperr.New(apperr.NotFound, "No payout has that payment hash.")
	}
	return p, err
}

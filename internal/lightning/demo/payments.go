package demo

import (
	"context"
	"fmt"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/lightning"
	"github.com/keepalive/keepalive/internal/money"
)

// Failure reasons, spelled as lnd's routerrpc reports them so that code
// written against one node reads the other's the same way.
const (
	FailureNoRoute                 = "FAILURE_REASON_NO_ROUTE"
	FailureIncorrectPaymentDetails = "FAILURE_REASON_INCORRECT_PAYMENT_DETAILS"
)

// Simulated routing fee for paying another node: a base of 1 sat plus 0.1%
// of the amount, rounded down. It is nonzero so that callers exercise
// their fee accounting; paying the node's own invoices costs nothing.
const (
	simulatedBaseFeeMsat money.Msat = 1000
	simulatedFeeDivisor  money.Msat = 1000
)

// SimulatedFee is what the node charges to pay amountMsat to another node.
func SimulatedFee(amountMsat money.Msat) money.Msat {
	return simulatedBaseFeeMsat + amountMsat/simulatedFeeDivisor
}

type payment struct {
	lightning.Payment
	// done is closed once Payment holds a final state; after that Payment
	// never changes and may be read without n.mu.
	done chan struct{}
	// Decided when the payment starts, applied when it completes.
	failReason string
	self       bool
}

// SendPayment pays a regtest BOLT11 invoice. The node's own invoices are
// settled (a self payment, no fee); anyone else's succeed on paper with
// SimulatedFee, or fail with FailureNoRoute when that exceeds
// FeeLimitMsat (zero allows only zero-fee routes, as in lnd). A hash the
// node has seen before is tracked, never paid again, even if it failed.
// Timeout is accepted but unused: simulated payments finish at once unless
// held.
func (n *Node) SendPayment(ctx context.Context, req lightning.PayRequest) (lightning.Payment, error) {
	if err := ctx.Err(); err != nil {
		return lightning.Payment{}, err
	}
	if !req.FeeLimitMsat.Valid() {
		return lightning.Payment{}, apperr.New(apperr.Invalid, "The fee limit must be between 0 and 21 million bitcoin.")
	}
	if req.Timeout < 0 {
		return lightning.Payment{}, apperr.New(apperr.Invalid, "The payment timeout cannot be negative.")
	}
	dec, err := n.decode(req.PaymentRequest)
	if err != nil {
		return lightning.Payment{}, err
	}

	n.mu.Lock()
	if p, ok := n.payments[dec.PaymentHash]; ok {
		n.mu.Unlock()
		return n.wait(ctx, p)
	}
	// Like lnd, refuse before recording anything: these payments were
	// never attempted, so TrackPayment reports them not found.
	amount, err := amountToPay(dec.AmountMsat, req.AmountMsat)
	if err != nil {
		n.mu.Unlock()
		return lightning.Payment{}, fmt.Errorf("demo: send payment %s: %w", dec.PaymentHash, err)
	}
	if !n.now().Before(dec.ExpiresAt()) {
		n.mu.Unlock()
		return lightning.Payment{}, apperr.Wrap(
			fmt.Errorf("demo: send payment %s: %w", dec.PaymentHash, ErrInvoiceExpired),
			apperr.Unprocessable, "This invoice has expired.")
	}

	p := &payment{
		Payment: lightning.Payment{
			PaymentHash: dec.PaymentHash,
			State:       lightning.PaymentInFlight,
			AmountMsat:  amount,
		},
		done: make(chan struct{}),
		// An invoice the node holds is its own, even if an earlier run
		// (another node key) signed it.
		self: dec.Destination == n.pubHex || n.invoices[dec.PaymentHash] != nil,
	}
	switch {
	case n.failNext != nil:
		p.failReason = *n.failNext
		n.failNext = nil
	case !p.self && SimulatedFee(amount) > req.FeeLimitMsat:
		p.failReason = FailureNoRoute
	}
	n.payments[dec.PaymentHash] = p
	if n.hold {
		n.held = append(n.held, p)
	} else {
		n.complete(p)
	}
	n.mu.Unlock()
	return n.wait(ctx, p)
}

// complete gives a payment its final state. n.mu must be held.
func (n *Node) complete(p *payment) {
	switch {
	case p.failReason != "":
		p.State = lightning.PaymentFailed
		p.FailureReason = p.failReason
	case p.self:
		// The receiving side refuses what a real node would refuse: an
		// unknown hash, an invoice paid already or expired meanwhile.
		inv, already, err := n.settle(context.Background(), p.PaymentHash, p.AmountMsat)
		if err != nil || already {
			p.State = lightning.PaymentFailed
			p.FailureReason = FailureIncorrectPaymentDetails
			break
		}
		p.State = lightning.PaymentSucceeded
		p.Preimage = n.invoices[inv.PaymentHash].preimage
	default:
		// Another node's preimage cannot be known here: Preimage stays
		// zero, and callers must not rely on it for foreign invoices.
		p.State = lightning.PaymentSucceeded
		p.FeeMsat = SimulatedFee(p.AmountMsat)
	}
	close(p.done)
}

// wait returns the payment's final state, or its in-flight state and the
// context's error if ctx ends first (the payment carries on regardless).
func (n *Node) wait(ctx context.Context, p *payment) (lightning.Payment, error) {
	select {
	case <-p.done:
		return p.Payment, nil
	case <-ctx.Done():
		n.mu.Lock()
		defer n.mu.Unlock()
		return p.Payment, ctx.Err()
	}
}

// TrackPayment waits for the final state of a payment the node has seen.
func (n *Node) TrackPayment(ctx context.Context, hash lightning.Hash) (lightning.Payment, error) {
	if err := ctx.Err(); err != nil {
		return lightning.Payment{}, err
	}
	n.mu.Lock()
	p, ok := n.payments[hash]
	n.mu.Unlock()
	if !ok {
		return lightning.Payment{}, fmt.Errorf("demo: track payment %s: %w", hash, lightning.ErrPaymentNotFound)
	}
	return n.wait(ctx, p)
}

// FailNext makes the next new payment fail with reason (FailureNoRoute
// when empty). It is a test and demo hook.
func (n *Node) FailNext(reason string) {
	if reason == "" {
		reason = FailureNoRoute
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.failNext = &reason
}

// HoldPayments(true) keeps new payments in flight, as if HTLCs were stuck
// on the way; HoldPayments(false) completes every held payment and lets
// later ones through. It is a test hook for in-flight handling.
func (n *Node) HoldPayments(hold bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.hold = hold
	if hold {
		return
	}
	for _, p := range n.held {
		n.complete(p)
	}
	n.held = nil
}

package funding_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/keepalive/keepalive/internal/lightning"
	"github.com/keepalive/keepalive/internal/money"
)

// fakeNode is a small hand-written Lightning node for unit tests: payment
// requests are plain strings it registered, and outcomes are scripted.
type fakeNode struct {
	mu        sync.Mutex
	now       func() time.Time
	invoices  map[lightning.Hash]lightning.Invoice
	decoded   map[string]lightning.DecodedPaymentRequest
	payments  map[lightning.Hash]lightning.Payment
	sends     int
	failAdd   error
	outcome   lightning.PaymentState // what SendPayment ends in
	fee       money.Msat
	sendError error // a transport error from SendPayment
}

func newFakeNode(now func() time.Time) *fakeNode {
	return &fakeNode{now: now, invoices: map[lightning.Hash]lightning.Invoice{}, decoded: map[string]lightning.DecodedPaymentRequest{},
		payments: map[lightning.Hash]lightning.Payment{}, outcome: lightning.PaymentSucceeded}
}

func (f *fakeNode) CreateInvoice(ctx context.Context, req lightning.CreateInvoiceRequest) (lightning.Invoice, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failAdd != nil {
		return lightning.Invoice{}, f.failAdd
	}
	hash := lightning.Hash(sha256.Sum256(req.Preimage[:]))
	if _, ok := f.invoices[hash]; ok {
		return lightning.Invoice{}, lightning.ErrDuplicateInvoice
	}
	inv := lightning.Invoice{PaymentHash: hash, PaymentRequest: "lnfake" + hash.String()[:16], AmountMsat: req.AmountMsat,
		State: lightning.InvoiceOpen, CreatedAt: f.now(), ExpiresAt: f.now().Add(req.Expiry), AddIndex: uint64(len(f.invoices) + 1)}
	f.invoices[hash] = inv
	return inv, nil
}

// settle marks an invoice paid and returns it as the node would report it.
func (f *fakeNode) settle(hash lightning.Hash, index uint64) lightning.Invoice {
	f.mu.Lock()
	defer f.mu.Unlock()
	inv := f.invoices[hash]
	inv.State, inv.PaidMsat, inv.SettleIndex, inv.SettledAt = lightning.InvoiceSettled, inv.AmountMsat, index, f.now()
	f.invoices[hash] = inv
	return inv
}

func (f *fakeNode) LookupInvoice(ctx context.Context, hash lightning.Hash) (lightning.Invoice, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	inv, ok := f.invoices[hash]
	if !ok {
		return lightning.Invoice{}, lightning.ErrInvoiceNotFound
	}
	return inv, nil
}

func (f *fakeNode) SettledInvoices(ctx context.Context, after uint64, fn func(lightning.Invoice) error) error {
	return errors.New("fakeNode: no stream")
}

// addPayable registers a payment request the site may be asked to pay.
func (f *fakeNode) addPayable(amount money.Msat, expiry time.Duration) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := len(f.decoded) + 1
	hash := lightning.Hash(sha256.Sum256([]byte(fmt.Sprint("payable", n))))
	pr := fmt.Sprintf("lnbcrtfake%d", n)
	f.decoded[pr] = lightning.DecodedPaymentRequest{PaymentHash: hash, AmountMsat: amount, CreatedAt: f.now(), Expiry: expiry}
	return pr
}

func (f *fakeNode) SendPayment(ctx context.Context, req lightning.PayRequest) (lightning.Payment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sendError != nil {
		return lightning.Payment{}, f.sendError
	}
	d, ok := f.decoded[req.PaymentRequest]
	if !ok {
		return lightning.Payment{}, lightning.ErrInvalidPaymentRequest
	}
	if p, ok := f.payments[d.PaymentHash]; ok && p.State != lightning.PaymentFailed {
		return p, nil // lnd: AlreadyExists, then tracked
	}
	f.sends++
	amount := d.AmountMsat
	if amount == 0 {
		amount = req.AmountMsat
	}
	p := lightning.Payment{PaymentHash: d.PaymentHash, State: f.outcome, AmountMsat: amount}
	switch f.outcome {
	case lightning.PaymentSucceeded:
		p.FeeMsat = f.fee
	case lightning.PaymentFailed:
		p.FailureReason = "FAILURE_REASON_NO_ROUTE"
	}
	f.payments[d.PaymentHash] = p
	return p, nil
}

func (f *fakeNode) TrackPayment(ctx context.Context, hash lightning.Hash) (lightning.Payment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.payments[hash]
	if !ok {
		return lightning.Payment{}, lightning.ErrPaymentNotFound
	}
	return p, nil
}

func (f *fakeNode) DecodePaymentRequest(ctx context.Context, pr string) (lightning.DecodedPaymentRequest, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.decoded[pr]
	if !ok {
		return lightning.DecodedPaymentRequest{}, lightning.ErrInvalidPaymentRequest
	}
	return d, nil
}

var _ lightning.Node = (*fakeNode)(nil)

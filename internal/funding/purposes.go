package funding

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/keepalive/keepalive/internal/db"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/lightning"
	"github.com/keepalive/keepalive/internal/money"
)

// PurposeBid is an invoice paying (part of) a sponsor's bid.
const PurposeBid Purpose = "bid"

// SettleFunc books a settled invoice of one purpose inside the settlement
// transaction tx: paid is what the node says arrived. Repeating it for the
// same invoice must change nothing (its ledger keys see to that).
type SettleFunc func(ctx context.Context, tx db.Tx, inv Invoice, paid money.Msat) error

// OnSettle makes fn book the settled invoices of purpose p, instead of
// crediting the offering's runway as a donation is. Call it while wiring,
// before settlement runs.
func (s *Service) OnSettle(p Purpose, fn SettleFunc) {
	if s.settlers == nil {
		s.settlers = map[Purpose]SettleFunc{}
	}
	s.settlers[p] = fn
}

// InvoiceRequest asks for an invoice with a purpose other than a
// donation; whoever asks has checked the amount.
type InvoiceRequest struct {
	Purpose    Purpose
	OfferingID int64
	Amount     money.Msat
	Memo       string
	Expiry     time.Duration // zero means the service's default
}

// IssueInvoice asks the node for an invoice and records it.
func (s *Service) IssueInvoice(ctx context.Context, r InvoiceRequest) (Invoice, error) {
	if r.Amount <= 0 || !r.Amount.Valid() {
		return Invoice{}, apperr.New(apperr.Invalid, "An invoice must be for a positive amount.")
	}
	expiry := r.Expiry
	if expiry <= 0 {
		expiry = s.limits.Expiry
	}
	var preimage lightning.Hash
	if _, err := io.ReadFull(s.rand, preimage[:]); err != nil {
		return Invoice{}, fmt.Errorf("funding: preimage: %w", err)
	}
	ni, err := s.node.CreateInvoice(ctx, lightning.CreateInvoiceRequest{AmountMsat: r.Amount, Expiry: expiry, Preimage: &preimage, Memo: memo(r.Memo, "", false)})
	if err != nil {
		return Invoice{}, apperr.Wrap(err, apperr.Unavailable, "The Lightning node could not make an invoice right now. Try again in a moment.")
	}
	now := s.now().UTC()
	inv := Invoice{
		PaymentHash: ni.PaymentHash.String(), PaymentRequest: ni.PaymentRequest, Purpose: r.Purpose,
		OfferingID: r.OfferingID, AmountMsat: r.Amount, State: InvoiceOpen, Via: "api",
		ExpiresAt: expiresAt(ni, now, expiry), CreatedAt: now,
	}
	if err := s.recordInvoice(ctx, &inv); err != nil {
		return Invoice{}, fmt.Errorf("funding: record invoice %s: %w", inv.PaymentHash, err)
	}
	return inv, nil
}

// PayoutsFrom lists the payouts from one account, newest first.
func (s *Service) PayoutsFrom(ctx context.Context, source string, limit int) ([]Payout, error) {
	if limit <= 0 || limit > 100 {
		limit = 50
	}
	var out []Payout
	err := s.db.Gorm(ctx).Where("source_account = ?", source).Order("id DESC").Limit(limit).Find(&out).Error
	return out, err
}

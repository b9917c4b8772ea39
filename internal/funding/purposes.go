package funding

import (
	"context"
	"time"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/money"
)

// PurposeBid is an invoice paying (part of) a sponsor's bid.
const PurposeBid Purpose = "bid"

// InvoiceRequest asks for an invoice with a purpose other than a
// donation; whoever asks has checked the amount.
type InvoiceRequest struct {
	Purpose    Purpose
	OfferingID int64
	Amount     money.Msat
	Memo       string
	Expiry     time.Duration // zero means the service's default
}

// IssueInvoice asks the node for an invoice of r's purpose and records it.
func (s *Service) IssueInvoice(ctx context.Context, r InvoiceRequest) (Invoice, error) {
	if r.Amount <= 0 || !r.Amount.Valid() {
		return Invoice{}, apperr.New(apperr.Invalid, "An invoice must be for a positive amount.")
	}
	return s.Issue(ctx, IssueRequest{Purpose: r.Purpose, OfferingID: r.OfferingID, Amount: r.Amount,
		Memo: memo(r.Memo, "", false), Via: "api", Expiry: r.Expiry}, nil)
}

package funding

import (
	"context"
	"errors"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/lightning"
	"github.com/keepalive/keepalive/internal/lnurl"
	"github.com/keepalive/keepalive/internal/money"
)

// LNURLResolver pays Lightning Addresses and LNURL-pay links: it fetches
// the recipient's parameters and an invoice for the amount, then checks
// with the node that the invoice is for exactly that amount and commits
// to the recipient's metadata.
type LNURLResolver struct {
	Client *lnurl.Client
	Node   lightning.Node
}

var _ Resolver = (*LNURLResolver)(nil)

// Resolve returns a checked BOLT11 invoice for amount, or a clear error.
func (r *LNURLResolver) Resolve(ctx context.Context, destination string, amount money.Msat) (string, error) {
	u, err := lnurl.ResolvePayURL(destination)
	if err != nil {
		return "", apperr.Wrap(err, apperr.Unprocessable, "That is not a Lightning Address or LNURL we can pay.")
	}
	params, err := r.Client.FetchPayParams(ctx, u)
	if err != nil {
		return "", recipientError(err)
	}
	if amount > params.MaxSendable {
		amount = params.MaxSendable
	}
	if amount < params.MinSendable {
		return "", apperr.New(apperr.Unprocessable, "The recipient accepts at least %s; there is only %s to send.", params.MinSendable, amount)
	}
	pr, _, err := r.Client.FetchInvoice(ctx, params, amount, "")
	if err != nil {
		return "", recipientError(err)
	}
	decoded, err := r.Node.DecodePaymentRequest(ctx, pr)
	if err != nil {
		return "", apperr.Wrap(err, apperr.Unprocessable, "The recipient sent an invoice that is not for this network.")
	}
	if err := lnurl.CheckInvoice(decoded.AmountMsat, decoded.DescriptionHash, params, amount); err != nil {
		return "", err
	}
	return pr, nil
}

// recipientError turns whatever went wrong with the recipient's service
// (garbage, a refusal, a hang) into a 422: the owner's request was well
// formed; the destination did not work. A reason the service gave is
// shown as theirs.
func recipientError(err error) error {
	var se *lnurl.ServiceError
	if errors.As(err, &se) {
		return apperr.Wrap(err, apperr.Unprocessable, "The recipient's Lightning service refused: %s", se.Reason)
	}
	switch apperr.CodeOf(err) {
	case apperr.Unprocessable:
		return err
	case apperr.Internal, apperr.Unavailable:
		return apperr.Wrap(err, apperr.Unprocessable, "The recipient's Lightning service did not answer properly; check the address and try again.")
	}
	return apperr.Wrap(err, apperr.Unprocessable, "The recipient's Lightning service did not answer properly: %s", apperr.MessageOf(err))
}

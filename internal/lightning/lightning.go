// Package lightning owns the site's view of its Lightning node: the small
// interface the domain consumes, and the types that cross it. The lnd and
// demo implementations live in the subpackages lnd and demo.
package lightning

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/keepalive/keepalive/internal/money"
)

// Hash is a payment hash or preimage, 32 bytes, shown as hex.
type Hash [32]byte

// InvoiceState is the node's view of an invoice.
type InvoiceState string

const (
	InvoiceOpen     InvoiceState = "open"
	InvoiceSettled  InvoiceState = "settled"
	InvoiceCanceled InvoiceState = "canceled"
	InvoiceAccepted InvoiceState = "accepted" // held HTLCs; not used by the site
)

// Invoice is what the node knows of one invoice.
type Invoice struct {
	PaymentHash    Hash
	PaymentRequest string
	AmountMsat     money.Msat // requested amount
	PaidMsat       money.Msat // amount received, when settled
	State          InvoiceState
	CreatedAt      time.Time
	ExpiresAt      time.Time
	SettledAt      time.Time
	// AddIndex and SettleIndex are the node's monotonic indexes; the site
	// stores the highest settle index it has credited to resume from it.
	AddIndex    uint64
	SettleIndex uint64
}

// CreateInvoiceRequest describes an invoice to create. Exactly one of
// Memo and DescriptionHash is used: DescriptionHash when it is set
// (LNURL-pay), Memo otherwise.
type CreateInvoiceRequest struct {
	AmountMsat      money.Msat
	Memo            string
	DescriptionHash []byte
	Expiry          time.Duration
	// Preimage, when set, makes creation idempotent: the node refuses a
	// second invoice with the same hash.
	Preimage *Hash
}

// PaymentState is the outcome of an outgoing payment.
type PaymentState string

const (
	PaymentInFlight  PaymentState = "in_flight"
	PaymentSucceeded PaymentState = "succeeded"
	PaymentFailed    PaymentState = "failed"
)

// Payment is what the node knows of one outgoing payment.
type Payment struct {
	PaymentHash   Hash
	State         PaymentState
	AmountMsat    money.Msat // sent to the destination, fees excluded
	FeeMsat       money.Msat // routing fee paid
	Preimage      Hash       // set when succeeded
	FailureReason string     // set when failed
}

// PayRequest describes an outgoing payment.
type PayRequest struct {
	PaymentRequest string
	// AmountMsat is required when the invoice has no amount and must be
	// zero or equal to the invoice's amount otherwise.
	AmountMsat   money.Msat
	FeeLimitMsat money.Msat
	Timeout      time.Duration
}

// DecodedPaymentRequest is a parsed BOLT11 invoice.
type DecodedPaymentRequest struct {
	PaymentHash     Hash
	Destination     string // node public key, hex
	AmountMsat      money.Msat
	Description     string
	DescriptionHash []byte
	CreatedAt       time.Time
	Expiry          time.Duration
}

// ExpiresAt is when the invoice stops being payable.
func (d DecodedPaymentRequest) ExpiresAt() time.Time { return d.CreatedAt.Add(d.Expiry) }

var (
	// ErrInvoiceNotFound means the node has no invoice with that hash.
	ErrInvoiceNotFound = errors.New("lightning: invoice not found")
	// ErrPaymentNotFound means the node never saw a payment for that hash:
	// only then is it safe to send it.
	ErrPaymentNotFound = errors.New("lightning: payment not found")
	// ErrDuplicateInvoice means an invoice with that hash already exists.
	ErrDuplicateInvoice = errors.New("lightning: invoice already exists")
	// ErrInvalidPaymentRequest means a BOLT11 string did not decode, or is
	// for another network.
	ErrInvalidPaymentRequest = errors.New("lightning: invalid payment request")
)

// Node is everything the site needs from its Lightning node.
type Node interface {
	// CreateInvoice adds an invoice to the node.
	CreateInvoice(ctx context.Context, req CreateInvoiceRequest) (Invoice, error)
	// LookupInvoice returns one invoice, or ErrInvoiceNotFound.
	LookupInvoice(ctx context.Context, hash Hash) (Invoice, error)
	// SettledInvoices calls fn for every invoice settled with a settle index
	// above afterIndex, in settle-index order: first those settled already,
	// then new ones as they settle. It returns when ctx is done, fn fails or
	// the connection breaks; the caller resumes from the last index it
	// handled.
	SettledInvoices(ctx context.Context, afterIndex uint64, fn func(Invoice) error) error
	// SendPayment starts a payment keyed by its payment hash and waits for
	// its final state. A payment already known to the node for that hash is
	// tracked instead of sent again.
	SendPayment(ctx context.Context, req PayRequest) (Payment, error)
	// TrackPayment waits for the final state of a payment the node knows,
	// or returns ErrPaymentNotFound if it never saw one for that hash.
	TrackPayment(ctx context.Context, hash Hash) (Payment, error)
	// DecodePaymentRequest parses a BOLT11 string for this node's network.
	DecodePaymentRequest(ctx context.Context, paymentRequest string) (DecodedPaymentRequest, error)
}

// String returns the hash as lowercase hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// ParseHash parses a 64-character hex string.
func ParseHash(s string) (Hash, error) {
	var h Hash
	if len(s) != 64 {
		return h, fmt.Errorf("lightning: hash must be 64 hex characters, got %d", len(s))
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, fmt.Errorf("lightning: hash is not hex: %w", err)
	}
	return h, nil
}

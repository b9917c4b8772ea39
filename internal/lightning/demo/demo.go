// Package demo owns the simulated Lightning node: an in-process
// lightning.Node for the no-setup default and for fast unit tests. Its
// invoices are real regtest BOLT11 strings signed by a node key of its own,
// so wallets and decoders accept them, but nothing leaves the process: an
// invoice settles when someone presses "pay" (Pay, PayRequest) or when the
// node pays its own invoice, and payments to anyone else succeed on paper.
// Outgoing payments live in memory; invoices too, unless the node is made
// with Open, which keeps them in the database across restarts.
package demo

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/lightningnetwork/lnd/zpay32"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/lightning"
	"github.com/keepalive/keepalive/internal/money"
)

// DefaultInvoiceExpiry is used when a request leaves Expiry zero; it is
// lnd's default, so the demo behaves like the real node.
const DefaultInvoiceExpiry = 24 * time.Hour

// maxMemoBytes is the longest description a BOLT11 tagged field can carry:
// its length is ten bits of five-bit groups (1023·5/8 bytes).
const maxMemoBytes = 639

// minFinalCLTVDelta is lnd's default for invoices it creates.
const minFinalCLTVDelta = 80

// ErrInvoiceExpired means the invoice can no longer be paid: it expired
// (lnd then reports it canceled).
var ErrInvoiceExpired = errors.New("demo: invoice expired")

var _ lightning.Node = (*Node)(nil)

// Node is a simulated Lightning node. It is safe for concurrent use.
type Node struct {
	now    func() time.Time
	random io.Reader
	net    *chaincfg.Params
	key    *btcec.PrivateKey
	pubHex string
	// db, when set (Open), keeps the invoices across restarts.
	db *db.DB

	mu          sync.Mutex
	invoices    map[lightning.Hash]*invoice
	addIndex    uint64
	settleIndex uint64
	// settled holds the hash of each invoice settled since the node
	// started (and of stored ones above settleBase), in settle order.
	settled    []lightning.Hash
	settleBase uint64
	// settledSignal is closed and replaced on every settlement, so that a
	// subscriber that took it under mu wakes for anything settled after its
	// snapshot.
	settledSignal chan struct{}

	payments map[lightning.Hash]*payment
	failNext *string
	hold     bool
	held     []*payment

	// beforeWait, when set by a test, runs after SettledInvoices found
	// nothing new and before it waits: the window a lost wake-up hides in.
	beforeWait func()
}

type invoice struct {
	lightning.Invoice
	preimage lightning.Hash
}

// Option configures a Node.
type Option func(*Node)

// WithClock sets where the node reads the time (default time.Now).
func WithClock(now func() time.Time) Option { return func(n *Node) { n.now = now } }

// WithRand sets the source of the node key, preimages and payment secrets
// (default crypto/rand). A deterministic reader gives a deterministic node.
func WithRand(r io.Reader) Option { return func(n *Node) { n.random = r } }

// WithIndexBase makes the first add and settle indexes base+1. The demo
// node forgets everything on restart while the site keeps the last settle
// index it credited; starting above that index keeps new settlements from
// being mistaken for ones already handled.
func WithIndexBase(base uint64) Option {
	return func(n *Node) {
		n.addIndex = base
		n.settleIndex = base
		n.settleBase = base
	}
}

// New returns a node with a fresh random key on the regtest network, so its
// invoices start with "lnbcrt". It panics if the random source fails, which
// crypto/rand never does.
func New(opts ...Option) *Node {
	n := &Node{
		now:           time.Now,
		random:        rand.Reader,
		net:           &chaincfg.RegressionNetParams,
		invoices:      make(map[lightning.Hash]*invoice),
		payments:      make(map[lightning.Hash]*payment),
		settledSignal: make(chan struct{}),
	}
	for _, opt := range opts {
		opt(n)
	}
	key, err := n.newKey()
	if err != nil {
		panic(fmt.Sprintf("demo: node key: %v", err))
	}
	n.key = key
	n.pubHex = hex.EncodeToString(key.PubKey().SerializeCompressed())
	return n
}

func (n *Node) newKey() (*btcec.PrivateKey, error) {
	// A 32-byte string is a valid key unless it is zero or not below the
	// curve order; retrying is how every wallet handles that (rare) case.
	for range 16 {
		var b [32]byte
		if _, err := io.ReadFull(n.random, b[:]); err != nil {
			return nil, err
		}
		var s btcec.ModNScalar
		if overflow := s.SetBytes(&b); overflow == 0 && !s.IsZero() {
			return btcec.PrivKeyFromScalar(&s), nil
		}
	}
	return nil, errors.New("no valid key from the random source")
}

// PubKey is the node's public key, hex, as invoices name it.
func (n *Node) PubKey() string { return n.pubHex }

// Network is the chain the node's invoices are for (regtest).
func (n *Node) Network() *chaincfg.Params { return n.net }

func (n *Node) randomHash() (lightning.Hash, error) {
	var h lightning.Hash
	if _, err := io.ReadFull(n.random, h[:]); err != nil {
		return h, fmt.Errorf("demo: read random bytes: %w", err)
	}
	return h, nil
}

// CreateInvoice adds an invoice. A zero AmountMsat makes an amountless
// invoice (the payer chooses); a zero Expiry means DefaultInvoiceExpiry.
func (n *Node) CreateInvoice(ctx context.Context, req lightning.CreateInvoiceRequest) (lightning.Invoice, error) {
	if err := ctx.Err(); err != nil {
		return lightning.Invoice{}, err
	}
	if !req.AmountMsat.Valid() {
		return lightning.Invoice{}, apperr.New(apperr.Invalid, "The amount must be between 0 and 21 million bitcoin.")
	}
	if req.Expiry < 0 {
		return lightning.Invoice{}, apperr.New(apperr.Invalid, "The invoice expiry cannot be negative.")
	}
	if req.DescriptionHash != nil && len(req.DescriptionHash) != sha256.Size {
		return lightning.Invoice{}, apperr.New(apperr.Invalid, "The description hash must be 32 bytes.")
	}
	if req.DescriptionHash == nil && (len(req.Memo) > maxMemoBytes || !utf8.ValidString(req.Memo)) {
		return lightning.Invoice{}, apperr.New(apperr.Invalid, "The description must be valid text of at most %d bytes.", maxMemoBytes)
	}
	// BOLT11 carries whole seconds; rounding here keeps ExpiresAt equal to
	// what a decoder computes.
	expiry := req.Expiry.Truncate(time.Second)
	if expiry == 0 {
		expiry = DefaultInvoiceExpiry
	}

	preimage := req.Preimage
	if preimage == nil {
		p, err := n.randomHash()
		if err != nil {
			return lightning.Invoice{}, fmt.Errorf("demo: create invoice: %w", err)
		}
		preimage = &p
	}
	hash := lightning.Hash(sha256.Sum256(preimage[:]))
	secret, err := n.randomHash()
	if err != nil {
		return lightning.Invoice{}, fmt.Errorf("demo: create invoice: %w", err)
	}
	created := n.now().Truncate(time.Second)

	opts := []func(*zpay32.Invoice){
		zpay32.Expiry(expiry),
		zpay32.CLTVExpiry(minFinalCLTVDelta),
		zpay32.PaymentAddr(secret),
		zpay32.Features(lnwire.NewFeatureVector(lnwire.NewRawFeatureVector(
			lnwire.TLVOnionPayloadRequired,
			lnwire.PaymentAddrRequired,
			lnwire.MPPOptional,
		), lnwire.Features)),
	}
	if req.AmountMsat > 0 {
		opts = append(opts, zpay32.Amount(lnwire.MilliSatoshi(req.AmountMsat)))
	}
	if req.DescriptionHash != nil {
		opts = append(opts, zpay32.DescriptionHash([32]byte(req.DescriptionHash)))
	} else {
		opts = append(opts, zpay32.Description(req.Memo))
	}
	zinv, err := zpay32.NewInvoice(n.net, hash, created, opts...)
	if err != nil {
		return lightning.Invoice{}, fmt.Errorf("demo: create invoice %s: %w", hash, err)
	}
	bolt11, err := zinv.Encode(zpay32.MessageSigner{SignCompact: n.signCompact})
	if err != nil {
		return lightning.Invoice{}, fmt.Errorf("demo: encode invoice %s: %w", hash, err)
	}

	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.invoices[hash]; ok {
		return lightning.Invoice{}, fmt.Errorf("demo: create invoice %s: %w", hash, lightning.ErrDuplicateInvoice)
	}
	inv := &invoice{
		Invoice: lightning.Invoice{
			PaymentHash:    hash,
			PaymentRequest: bolt11,
			AmountMsat:     req.AmountMsat,
			State:          lightning.InvoiceOpen,
			CreatedAt:      created,
			ExpiresAt:      created.Add(expiry),
			AddIndex:       n.addIndex + 1,
		},
		preimage: *preimage,
	}
	if err := n.save(ctx, inv); err != nil {
		return lightning.Invoice{}, err
	}
	n.addIndex++
	n.invoices[hash] = inv
	return inv.Invoice, nil
}

// signCompact signs as lnd's node signer does for invoices: a compact,
// pubkey-recoverable signature over the single SHA-256 of msg.
func (n *Node) signCompact(msg []byte) ([]byte, error) {
	digest := sha256.Sum256(msg)
	return ecdsa.SignCompact(n.key, digest[:], true), nil
}

// view returns the invoice as lnd would report it now. An open invoice past
// its expiry is canceled for good, as lnd's expiry watcher does.
func (n *Node) view(inv *invoice) lightning.Invoice {
	if inv.State == lightning.InvoiceOpen && !n.now().Before(inv.ExpiresAt) {
		inv.State = lightning.InvoiceCanceled
	}
	return inv.Invoice
}

// LookupInvoice returns one invoice, or lightning.ErrInvoiceNotFound.
func (n *Node) LookupInvoice(ctx context.Context, hash lightning.Hash) (lightning.Invoice, error) {
	if err := ctx.Err(); err != nil {
		return lightning.Invoice{}, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	inv, ok := n.invoices[hash]
	if !ok {
		return lightning.Invoice{}, fmt.Errorf("demo: lookup invoice %s: %w", hash, lightning.ErrInvoiceNotFound)
	}
	return n.view(inv), nil
}

// Invoices lists every invoice in add order, for the demo's "pay" page.
func (n *Node) Invoices(ctx context.Context) ([]lightning.Invoice, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]lightning.Invoice, 0, len(n.invoices))
	for _, inv := range n.invoices {
		out = append(out, n.view(inv))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].AddIndex < out[j].AddIndex })
	return out, nil
}

// Pay is the "someone paid it" button: it settles an open invoice for its
// amount. Paying a settled invoice again returns it unchanged. An
// amountless invoice needs PayAmount.
func (n *Node) Pay(ctx context.Context, hash lightning.Hash) (lightning.Invoice, error) {
	return n.PayAmount(ctx, hash, 0)
}

// PayAmount settles an invoice as if amountMsat arrived. amountMsat must be
// positive for an amountless invoice and zero or the invoice's amount
// otherwise, the same rules as lightning.PayRequest.
func (n *Node) PayAmount(ctx context.Context, hash lightning.Hash, amountMsat money.Msat) (lightning.Invoice, error) {
	if err := ctx.Err(); err != nil {
		return lightning.Invoice{}, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	inv, _, err := n.settle(ctx, hash, amountMsat)
	return inv, err
}

// PayRequest is Pay for a BOLT11 string of this node, the form people paste.
func (n *Node) PayRequest(ctx context.Context, paymentRequest string) (lightning.Invoice, error) {
	dec, err := n.DecodePaymentRequest(ctx, paymentRequest)
	if err != nil {
		return lightning.Invoice{}, err
	}
	return n.Pay(ctx, dec.PaymentHash)
}

// settle marks an invoice paid with amountMsat (zero: its own amount) and
// wakes subscribers. already reports an invoice settled before, which is
// returned unchanged. n.mu must be held.
func (n *Node) settle(ctx context.Context, hash lightning.Hash, amountMsat money.Msat) (inv lightning.Invoice, already bool, err error) {
	stored, ok := n.invoices[hash]
	if !ok {
		return lightning.Invoice{}, false, apperr.Wrap(
			fmt.Errorf("demo: settle %s: %w", hash, lightning.ErrInvoiceNotFound),
			apperr.NotFound, "This node has no such invoice.")
	}
	current := n.view(stored)
	switch current.State {
	case lightning.InvoiceSettled:
		return current, true, nil
	case lightning.InvoiceCanceled:
		return current, false, apperr.Wrap(
			fmt.Errorf("demo: settle %s: %w", hash, ErrInvoiceExpired),
			apperr.Conflict, "This invoice has expired.")
	}
	paid, err := amountToPay(current.AmountMsat, amountMsat)
	if err != nil {
		return current, false, err
	}
	updated := *stored
	updated.State = lightning.InvoiceSettled
	updated.SettleIndex = n.settleIndex + 1
	updated.SettledAt = n.now()
	updated.PaidMsat = paid
	if err := n.save(ctx, &updated); err != nil {
		return current, false, err
	}
	n.settleIndex++
	*stored = updated
	n.settled = append(n.settled, hash)
	close(n.settledSignal)
	n.settledSignal = make(chan struct{})
	return stored.Invoice, false, nil
}

// amountToPay applies lightning.PayRequest's amount rules to an invoice
// amount (zero: amountless) and the amount a payer offers (zero: none).
func amountToPay(invoiceMsat, offeredMsat money.Msat) (money.Msat, error) {
	if !offeredMsat.Valid() {
		return 0, apperr.New(apperr.Invalid, "The amount must be between 0 and 21 million bitcoin.")
	}
	switch {
	case invoiceMsat == 0 && offeredMsat == 0:
		return 0, apperr.New(apperr.Invalid, "This invoice has no amount: say how much to pay.")
	case invoiceMsat == 0:
		return offeredMsat, nil
	case offeredMsat == 0 || offeredMsat == invoiceMsat:
		return invoiceMsat, nil
	default:
		return 0, apperr.New(apperr.Unprocessable,
			"The amount (%d msat) differs from the invoice's (%d msat).", offeredMsat, invoiceMsat)
	}
}

// SettledInvoices replays the invoices settled after afterIndex, then
// follows new settlements until ctx is done or fn fails.
func (n *Node) SettledInvoices(ctx context.Context, afterIndex uint64, fn func(lightning.Invoice) error) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n.mu.Lock()
		batch := n.settledAfter(afterIndex)
		// Taken under the same lock as the snapshot: a settlement after
		// the snapshot closes this very channel, so none is missed.
		wake := n.settledSignal
		n.mu.Unlock()

		for _, inv := range batch {
			if err := fn(inv); err != nil {
				return err
			}
			afterIndex = inv.SettleIndex
		}
		if len(batch) > 0 {
			continue
		}
		if n.beforeWait != nil {
			n.beforeWait()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		}
	}
}

// settledAfter copies the invoices settled after index, in order. n.mu must
// be held.
func (n *Node) settledAfter(index uint64) []lightning.Invoice {
	from := sort.Search(len(n.settled), func(i int) bool {
		return n.invoices[n.settled[i]].SettleIndex > index
	})
	if from == len(n.settled) {
		return nil
	}
	out := make([]lightning.Invoice, 0, len(n.settled)-from)
	for _, hash := range n.settled[from:] {
		out = append(out, n.invoices[hash].Invoice)
	}
	return out
}

// DecodePaymentRequest parses a regtest BOLT11 string; anything else is
// lightning.ErrInvalidPaymentRequest.
func (n *Node) DecodePaymentRequest(ctx context.Context, paymentRequest string) (lightning.DecodedPaymentRequest, error) {
	if err := ctx.Err(); err != nil {
		return lightning.DecodedPaymentRequest{}, err
	}
	return n.decode(paymentRequest)
}

func (n *Node) decode(paymentRequest string) (lightning.DecodedPaymentRequest, error) {
	invalid := func(err error) error {
		return apperr.Wrap(fmt.Errorf("demo: decode payment request: %w: %w", lightning.ErrInvalidPaymentRequest, err),
			apperr.Invalid, "That is not a Lightning invoice for this node's network (%s).", n.net.Name)
	}
	zinv, err := zpay32.Decode(paymentRequest, n.net)
	if err != nil {
		return lightning.DecodedPaymentRequest{}, invalid(err)
	}
	dec := lightning.DecodedPaymentRequest{
		PaymentHash: lightning.Hash(*zinv.PaymentHash),
		CreatedAt:   zinv.Timestamp,
		Expiry:      zinv.Expiry(),
	}
	if zinv.Destination != nil {
		dec.Destination = hex.EncodeToString(zinv.Destination.SerializeCompressed())
	}
	if zinv.MilliSat != nil {
		amt := money.Msat(*zinv.MilliSat)
		if *zinv.MilliSat > lnwire.MilliSatoshi(money.MaxMsat) || !amt.Valid() {
			return lightning.DecodedPaymentRequest{}, invalid(fmt.Errorf("amount %d msat out of range", *zinv.MilliSat))
		}
		dec.AmountMsat = amt
	}
	if zinv.Description != nil {
		dec.Description = *zinv.Description
	}
	if zinv.DescriptionHash != nil {
		dec.DescriptionHash = append([]byte(nil), zinv.DescriptionHash[:]...)
	}
	return dec, nil
}

// Package funding owns money coming in and going out over Lightning:
// the invoices the site issues (donations first), their settlement into
// the ledger exactly once, and payouts from payable accounts, recorded
// before they are sent and finished from what the node says. Its store,
// internal/funding/internal/store, is the only code that touches
// invoices, lightning_cursors, payouts and withdraw_links.
package funding

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/funding/internal/store"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/lightning"
	"github.com/keepalive/keepalive/internal/money"
	"github.com/keepalive/keepalive/internal/notify"
	"github.com/keepalive/keepalive/internal/offering"
	"github.com/keepalive/keepalive/internal/text"
)

// Purpose says what an invoice pays for.
type Purpose = store.Purpose

const (
	PurposeDonation   Purpose = "donation"
	PurposeInvestment Purpose = "investment"
	PurposeRevenue    Purpose = "revenue"
)

// SettleFunc books a settled invoice of one purpose inside the settlement
// transaction tx: paid is what the node says arrived. Repeating it for the
// same invoice must change nothing (its ledger keys see to that).
type SettleFunc func(ctx context.Context, tx db.Tx, inv Invoice, paid money.Msat) error

// InvoiceState is the site's view of an invoice.
type InvoiceState = store.InvoiceState

const (
	InvoiceOpen     = store.InvoiceOpen
	InvoiceSettled  = store.InvoiceSettled
	InvoiceExpired  = store.InvoiceExpired // open past its expiry: shown, never stored
	InvoiceCanceled = store.InvoiceCanceled
)

// Invoice is one invoice the site issued (StateAt tells its state at an
// instant).
type Invoice = store.Invoice

// Offerings is what funding needs from the offering service.
type Offerings interface {
	Get(ctx context.Context, slug string) (offering.Offering, error)
	View(ctx context.Context, slug string) (offering.Offering, offering.Finances, error)
	GetByID(ctx context.Context, id int64) (offering.Offering, error)
	CreditRunway(ctx context.Context, tx db.Tx, offeringID int64, c offering.Credit) (offering.Offering, error)
	Accrue(ctx context.Context, offeringID int64) (money.Msat, error)
	Invalidate(slug string)
}

// Limits bound what one invoice may ask for.
type Limits struct {
	MinDonation money.Msat
	MaxDonation money.Msat
	Expiry      time.Duration
}

// Service issues invoices and credits them when they settle.
type Service struct {
	db        *db.DB
	ledger    *ledger.Ledger
	node      lightning.Node
	offerings Offerings
	limits    Limits
	log       *slog.Logger
	now       func() time.Time
	rand      io.Reader
	events    *broadcaster
	credited  justCredited // what this replica credited lately, for requests waiting here
	live      *notify.Hub
	payer     payer
	settlers  map[Purpose]SettleFunc
}

// New returns a Service.
func New(d *db.DB, l *ledger.Ledger, node lightning.Node, offerings Offerings, limits Limits, log *slog.Logger, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if limits.Expiry == 0 {
		limits.Expiry = time.Hour
	}
	return &Service{db: d, ledger: l, node: node, offerings: offerings, limits: limits, log: log, now: now,
		rand: rand.Reader, events: newBroadcaster(), live: notify.Local(),
		payer: payer{kick: make(chan struct{}, 1), inflight: map[string]bool{}}, settlers: map[Purpose]SettleFunc{}}
}

// OnSettle makes fn book the settled invoices of purpose p, instead of
// crediting the offering's runway as a donation is. Call it while wiring,
// before settlement runs.
func (s *Service) OnSettle(p Purpose, fn SettleFunc) { s.settlers[p] = fn }

// What a donor may write.
var (
	PayerNameField    = text.Field{Max: 64}
	PayerMessageField = text.Field{Max: 280, Multiline: true}
)

// DonationRequest is a donor's wish to give.
type DonationRequest struct {
	Slug    string
	Amount  money.Msat
	Name    string // optional; shown only when Public
	Message string // optional
	Public  bool   // show name, message and amount on the donor wall
	Via     string // web, api, lnurl
	// DescriptionHash, when set, is committed to in the invoice instead of
	// a memo (LNURL-pay).
	DescriptionHash []byte
}

// Donate issues an invoice for a donation to an offering: one call to the
// node and one insert.
func (s *Service) Donate(ctx context.Context, r DonationRequest) (Invoice, error) {
	problems := map[string]string{}
	switch {
	case r.Amount < s.limits.MinDonation:
		problems["amount_msat"] = fmt.Sprintf("The smallest donation is %s.", s.limits.MinDonation)
	case r.Amount > s.limits.MaxDonation:
		problems["amount_msat"] = fmt.Sprintf("The largest donation is %s.", s.limits.MaxDonation)
	}
	var err error
	if r.Name, err = text.Clean(r.Name, PayerNameField); err != nil {
		problems["name"] = apperr.MessageOf(err)
	}
	if r.Message, err = text.Clean(r.Message, PayerMessageField); err != nil {
		problems["message"] = apperr.MessageOf(err)
	}
	if len(problems) > 0 {
		return Invoice{}, apperr.InvalidFields(problems)
	}
	o, _, err := s.offerings.View(ctx, r.Slug) // cached: invoices are created far more often than offerings change
	if err != nil {
		return Invoice{}, err
	}
	return s.Issue(ctx, IssueRequest{
		Purpose: PurposeDonation, OfferingID: o.ID, Amount: r.Amount, Memo: memo("Keep "+o.Name+" alive", r.Message, r.Public),
		Name: r.Name, Message: r.Message, Public: r.Public, Via: r.Via, DescriptionHash: r.DescriptionHash,
	}, nil)
}

// IssueRequest asks for an invoice of any purpose.
type IssueRequest struct {
	Purpose         Purpose
	OfferingID      int64
	Amount          money.Msat
	Memo            string // what wallets show
	Name, Message   string
	Public          bool
	Via             string // web, api, lnurl
	DescriptionHash []byte
	Expiry          time.Duration // zero means the service's default
}

// Issue asks the node for an invoice and records it. When inTx is given,
// the invoice row is written in a transaction together with inTx's own
// writes (an investment row), and inTx may still refuse: then nothing is
// recorded and the node's invoice is simply never paid.
func (s *Service) Issue(ctx context.Context, r IssueRequest, inTx func(tx db.Tx, inv Invoice) error) (Invoice, error) {
	var preimage lightning.Hash
	if _, err := io.ReadFull(s.rand, preimage[:]); err != nil {
		return Invoice{}, fmt.Errorf("funding: preimage: %w", err)
	}
	expiry := r.Expiry
	if expiry <= 0 {
		expiry = s.limits.Expiry
	}
	req := lightning.CreateInvoiceRequest{
		AmountMsat: r.Amount, Expiry: expiry, Preimage: &preimage,
		Memo: r.Memo, DescriptionHash: r.DescriptionHash,
	}
	ni, err := s.node.CreateInvoice(ctx, req)
	if err != nil {
		return Invoice{}, apperr.Wrap(err, apperr.Unavailable, "The Lightning node could not make an invoice right now. Try again in a moment.")
	}
	via := r.Via
	if via == "" {
		via = "web"
	}
	now := s.now().UTC()
	inv := Invoice{
		PaymentHash: ni.PaymentHash.String(), PaymentRequest: ni.PaymentRequest, Purpose: r.Purpose,
		OfferingID: r.OfferingID, AmountMsat: r.Amount, State: InvoiceOpen, PayerName: r.Name, PayerMessage: r.Message,
		Public: r.Public, Via: via, ExpiresAt: expiresAt(ni, now, expiry), CreatedAt: now,
	}
	if inTx != nil {
		err = s.db.Tx(ctx, func(tx db.Tx) error {
			inv.ID = 0
			if err := store.InsertInvoice(ctx, tx, &inv); err != nil {
				return err
			}
			return inTx(tx, inv)
		})
		if err != nil {
			return Invoice{}, err
		}
		return inv, nil
	}
	if err := store.InsertInvoiceNow(ctx, s.db, &inv); err != nil {
		return Invoice{}, err
	}
	return inv, nil
}

func expiresAt(ni lightning.Invoice, now time.Time, expiry time.Duration) time.Time {
	if !ni.ExpiresAt.IsZero() {
		return ni.ExpiresAt.UTC()
	}
	return now.Add(expiry)
}

// memo is the invoice description wallets show: the purpose, then the
// donor's message if the donor made it public, within BOLT11's 639-byte
// description limit. A BOLT11 string is public (the invoice page shows
// it, every wallet and node on the route may read it), so a private
// message stays in the database.
func memo(purpose, message string, public bool) string {
	m := purpose
	if message != "" && public {
		m += ": " + message
	}
	for len(m) > 600 {
		_, size := utf8.DecodeLastRuneInString(m)
		m = m[:len(m)-size]
	}
	return m
}

// Invoice returns the invoice with that payment hash.
func (s *Service) Invoice(ctx context.Context, paymentHash string) (Invoice, error) {
	if _, err := lightning.ParseHash(paymentHash); err != nil {
		return Invoice{}, apperr.New(apperr.Invalid, "A payment hash is 64 hex characters.")
	}
	inv, ok, err := store.InvoiceByHash(ctx, s.db, strings.ToLower(paymentHash))
	if err != nil {
		return Invoice{}, err
	}
	if !ok {
		return Invoice{}, apperr.New(apperr.NotFound, "No invoice has that payment hash.")
	}
	return inv, nil
}

// Now is the service's clock.
func (s *Service) Now() time.Time { return s.now().UTC() }

// SettleIndex returns the highest settle index credited so far.
func (s *Service) SettleIndex(ctx context.Context) (uint64, error) { return SettleIndex(ctx, s.db) }

// SettleIndex reads the stored settle index from d, for wiring that needs
// it before the service exists (the demo node starts its indexes above it).
func SettleIndex(ctx context.Context, d *db.DB) (uint64, error) {
	return store.SettleIndex(ctx, d)
}

// Settle credits a settled invoice, exactly once: the invoice row, the
// ledger transfer (keyed invoice:<hash>) and the cursor move in one
// transaction, and a settlement seen again changes nothing. An invoice the
// site did not issue only moves the cursor.
//
// Each statement is a round trip to PostgreSQL, between lnd's settle event
// and the payer's page turning paid: the invoice is marked settled and
// read back (and locked) by one UPDATE … RETURNING, which matches no row
// for an invoice already credited or not the site's, and on PostgreSQL
// the cursor moves in the same statement.
func (s *Service) Settle(ctx context.Context, ni lightning.Invoice) error {
	return s.settle(ctx, ni, true)
}

// SettleIfPaid asks the node about those of the invoices (payment hashes)
// the site still holds open and credits each one the node has settled,
// now rather than when the settlement stream reaches it, which after a
// restart may be a while. The stream's cursor stays where it is (the
// stream still has earlier settlements to read); when it reaches these
// invoices it finds them credited. For work that must not run before
// money already paid is credited: a sponsorship period is not cleared
// before its bids' payments are.
func (s *Service) SettleIfPaid(ctx context.Context, hashes []string) error {
	for start := 0; start < len(hashes); start += 1000 {
		open, err := store.OpenAmong(ctx, s.db, hashes[start:min(start+1000, len(hashes))])
		if err != nil {
			return err
		}
		for _, h := range open {
			hash, err := lightning.ParseHash(h)
			if err != nil {
				return fmt.Errorf("funding: invoice %s: %w", h, err)
			}
			ni, err := s.node.LookupInvoice(ctx, hash)
			if errors.Is(err, lightning.ErrInvoiceNotFound) {
				// Not on this node (it was replaced or reset): it can never
				// be paid, and must not hold up whoever is waiting.
				s.log.Warn("an open invoice is unknown to the node", "payment_hash", h)
				continue
			}
			if err != nil {
				return fmt.Errorf("funding: look up %s: %w", h, err)
			}
			if err := s.settle(ctx, ni, false); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Service) settle(ctx context.Context, ni lightning.Invoice, moveCursor bool) error {
	if ni.State != lightning.InvoiceSettled {
		return nil
	}
	hash := ni.PaymentHash.String()
	paid := ni.PaidMsat
	if paid <= 0 {
		paid = ni.AmountMsat
	}
	settledAt := ni.SettledAt.UTC()
	if ni.SettledAt.IsZero() {
		settledAt = s.now().UTC()
	}
	idx := ni.SettleIndex
	// The credit and the invoice's settled mark commit together (with the
	// stream's cursor, when it moves): were the commit lost in a crash of
	// the database, lnd still holds the settlement and the stream (or the
	// next SettleIfPaid) credits it again. So the commit need not wait for
	// the disk before the payer's page turns paid.
	return s.db.TxReplayable(ctx, func(tx db.Tx) error {
		inv, credited, err := store.MarkSettled(ctx, tx, hash, paid, settledAt, idx, moveCursor)
		if err != nil {
			return err
		}
		if !credited {
			// Credited before, or not the site's: normal on a node shared
			// with other services, and the first start on a used node
			// reads all of its past settlements, so a warning each would
			// flood the log.
			s.log.Debug("settled invoice not credited now: credited before or not the site's", "payment_hash", hash, "settle_index", idx)
			return nil
		}
		if paid <= 0 || !paid.Valid() {
			return fmt.Errorf("funding: settle %s: node reports paid amount %d", hash, paid)
		}
		if settle, ok := s.settlers[inv.Purpose]; ok {
			err = settle(ctx, tx, inv, paid)
		} else {
			err = s.CreditInvoice(ctx, tx, inv, paid)
		}
		if err != nil {
			return err
		}
		tx.AfterCommit(func() {
			s.credited.add(inv)
			s.events.publish(inv)
			s.announce(ctx, inv.PaymentHash)
			settlements.Inc()
		})
		return nil
	})
}

// CreditInvoice credits a settled invoice's payment to its offering's
// runway, as a donation, inside the settlement transaction tx, under the
// key invoice:<payment_hash>. Other purposes' SettleFuncs call it when the
// money buys runway too (an investment's principal).
func (s *Service) CreditInvoice(ctx context.Context, tx db.Tx, inv Invoice, paid money.Msat) error {
	_, err := s.offerings.CreditRunway(ctx, tx, inv.OfferingID, offering.Credit{
		Key: "invoice:" + inv.PaymentHash, Debit: ledger.Lightning, Amount: paid, Memo: string(inv.Purpose),
	})
	return err
}

// RunSettlement follows the node's settlements from the stored cursor
// and credits each, until ctx is done; it resumes after a broken stream
// with backoff, and only one replica runs it at a time.
func (s *Service) RunSettlement(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		ran, err := s.db.WithLease(ctx, "settlement", func(ctx context.Context) error {
			idx, err := s.SettleIndex(ctx)
			if err != nil {
				return err
			}
			start := time.Now()
			err = s.node.SettledInvoices(ctx, idx, func(ni lightning.Invoice) error { return s.Settle(ctx, ni) })
			if time.Since(start) > time.Minute {
				backoff = 100 * time.Millisecond // it ran well for a while: start over
			}
			return err
		})
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			s.log.Warn("settlement stream stopped; resuming", "err", err, "in", backoff)
		} else if !ran {
			backoff = db.LeaseRetry // another replica holds the lease
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		if backoff < 5*time.Second { // a node back from a restart is followed again within seconds
			backoff *= 2
		}
	}
}

// Subscribe returns a channel that receives each invoice as it is
// credited (for pages that wait for a payment), and a function to stop.
func (s *Service) Subscribe() (<-chan Invoice, func()) { return s.events.subscribe() }

// broadcaster fans credited invoices out to subscribers; a slow
// subscriber misses events rather than blocking settlement.
type broadcaster struct {
	mu   sync.Mutex
	subs map[chan Invoice]struct{}
}

func newBroadcaster() *broadcaster { return &broadcaster{subs: map[chan Invoice]struct{}{}} }

func (b *broadcaster) subscribe() (<-chan Invoice, func()) {
	ch := make(chan Invoice, 16)
	b.mu.Lock()
	b.subs[ch] = struct{}{}
	b.mu.Unlock()
	return ch, func() {
		b.mu.Lock()
		delete(b.subs, ch)
		b.mu.Unlock()
	}
}

func (b *broadcaster) publish(inv Invoice) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs {
		select {
		case ch <- inv:
		default:
		}
	}
}

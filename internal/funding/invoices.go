// Package funding owns money coming in and going out over Lightning:
// the invoices the site issues (donations first), their settlement into
// the ledger exactly once, and payouts from payable accounts, recorded
// before they are sent and finished from what the node says.
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

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/lightning"
	"github.com/keepalive/keepalive/internal/money"
	"github.com/keepalive/keepalive/internal/notify"
	"github.com/keepalive/keepalive/internal/offering"
	"github.com/keepalive/keepalive/internal/text"
)

// Purpose says what an invoice pays for.
type Purpose string

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
type InvoiceState string

const (
	InvoiceOpen     InvoiceState = "open"
	InvoiceSettled  InvoiceState = "settled"
	InvoiceExpired  InvoiceState = "expired" // open past its expiry: shown, never stored
	InvoiceCanceled InvoiceState = "canceled"
)

// Invoice is one invoice the site issued.
type Invoice struct {
	ID             int64        `gorm:"primaryKey"`
	PaymentHash    string       `gorm:"column:payment_hash"`
	PaymentRequest string       `gorm:"column:payment_request"`
	Purpose        Purpose      `gorm:"column:purpose"`
	OfferingID     int64        `gorm:"column:offering_id"`
	AmountMsat     money.Msat   `gorm:"column:amount_msat"`
	PaidMsat       money.Msat   `gorm:"column:paid_msat"`
	State          InvoiceState `gorm:"column:state"`
	PayerName      string       `gorm:"column:payer_name"`
	PayerMessage   string       `gorm:"column:payer_message"`
	Public         bool         `gorm:"column:public"`
	Via            string       `gorm:"column:via"` // web, api, lnurl
	SettleIndex    *uint64      `gorm:"column:settle_index"`
	ExpiresAt      time.Time    `gorm:"column:expires_at"`
	SettledAt      *time.Time   `gorm:"column:settled_at"`
	CreatedAt      time.Time    `gorm:"column:created_at"`
}

func (Invoice) TableName() string { return "invoices" }

// StateAt is the invoice's state at now: an open invoice past its expiry
// is expired.
func (i Invoice) StateAt(now time.Time) InvoiceState {
	if i.State == InvoiceOpen && !now.Before(i.ExpiresAt) {
		return InvoiceExpired
	}
	return i.State
}

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
			if err := tx.Gorm(ctx).Create(&inv).Error; err != nil {
				return fmt.Errorf("funding: record invoice %s: %w", inv.PaymentHash, err)
			}
			return inTx(tx, inv)
		})
		if err != nil {
			return Invoice{}, err
		}
		return inv, nil
	}
	if err := s.recordInvoice(ctx, &inv); err != nil {
		return Invoice{}, fmt.Errorf("funding: record invoice %s: %w", inv.PaymentHash, err)
	}
	return inv, nil
}

// recordInvoice stores a new invoice and sets its id. It is on the path of
// every invoice, benchmarked against the node's own AddInvoice: one plain
// INSERT straight through database/sql (GORM's statement building cost
// about a tenth of the site's CPU per invoice).
func (s *Service) recordInvoice(ctx context.Context, inv *Invoice) error {
	sqlDB, err := s.db.SQL()
	if err != nil {
		return err
	}
	q := insertInvoiceSQLite
	if s.db.Dialect == db.Postgres {
		q = insertInvoicePostgres
	}
	return sqlDB.QueryRowContext(ctx, q, inv.PaymentHash, inv.PaymentRequest, string(inv.Purpose), inv.OfferingID,
		int64(inv.AmountMsat), string(inv.State), inv.PayerName, inv.PayerMessage, inv.Public, inv.Via,
		inv.ExpiresAt, inv.CreatedAt).Scan(&inv.ID)
}

const (
	insertInvoiceColumns = `INSERT INTO invoices (payment_hash, payment_request, purpose, offering_id, amount_msat,
		state, payer_name, payer_message, public, via, expires_at, created_at) VALUES `
	insertInvoiceSQLite   = insertInvoiceColumns + `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`
	insertInvoicePostgres = insertInvoiceColumns + `($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`
)

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
	var inv Invoice
	err := s.db.Gorm(ctx).Where("payment_hash = ?", strings.ToLower(paymentHash)).Take(&inv).Error
	if errors.Is(db.TranslateError(err), db.ErrNotFound) {
		return Invoice{}, apperr.New(apperr.NotFound, "No invoice has that payment hash.")
	}
	if err != nil {
		return Invoice{}, fmt.Errorf("funding: invoice %s: %w", paymentHash, err)
	}
	return inv, nil
}

// Now is the service's clock.
func (s *Service) Now() time.Time { return s.now().UTC() }

// cursorName is the row of lightning_cursors holding the settle index.
const cursorName = "settle_index"

type cursor struct {
	Name  string `gorm:"primaryKey;column:name"`
	Value uint64 `gorm:"column:value"`
}

func (cursor) TableName() string { return "lightning_cursors" }

// SettleIndex returns the highest settle index credited so far.
func (s *Service) SettleIndex(ctx context.Context) (uint64, error) { return SettleIndex(ctx, s.db) }

// SettleIndex reads the stored settle index from d, for wiring that needs
// it before the service exists (the demo node starts its indexes above it).
func SettleIndex(ctx context.Context, d *db.DB) (uint64, error) {
	var c cursor
	err := d.Gorm(ctx).Where("name = ?", cursorName).Limit(1).Find(&c).Error
	return c.Value, err
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
		var open []string
		chunk := hashes[start:min(start+1000, len(hashes))]
		if err := s.db.Gorm(ctx).Model(&Invoice{}).Where("payment_hash IN ? AND state = ?", chunk, InvoiceOpen).
			Order("id").Pluck("payment_hash", &open).Error; err != nil {
			return fmt.Errorf("funding: open invoices: %w", err)
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
	return s.db.Tx(ctx, func(tx db.Tx) error {
		withCursor := moveCursor && s.db.Dialect == db.Postgres && idx != 0
		q := markSettledSQL
		args := []any{string(InvoiceSettled), int64(paid), settledAt, idx, hash, string(InvoiceSettled)}
		if withCursor {
			q = advanceCursorCTE + q
			args = append([]any{cursorName, idx}, args...)
		}
		var rows []Invoice
		if err := tx.Gorm(ctx).Raw(q, args...).Scan(&rows).Error; err != nil {
			return fmt.Errorf("funding: settle %s: %w", hash, err)
		}
		if len(rows) == 1 {
			inv := rows[0]
			if paid <= 0 || !paid.Valid() {
				return fmt.Errorf("funding: settle %s: node reports paid amount %d", hash, paid)
			}
			var err error
			if settle, ok := s.settlers[inv.Purpose]; ok {
				err = settle(ctx, tx, inv, paid)
			} else {
				err = s.CreditInvoice(ctx, tx, inv, paid)
			}
			if err != nil {
				return err
			}
			tx.AfterCommit(func() {
				s.events.publish(inv)
				s.announce(ctx, inv.PaymentHash)
				settlements.Inc()
			})
		} else {
			// Credited before, or not the site's: normal on a node shared
			// with other services, and the first start on a used node
			// reads all of its past settlements, so a warning each would
			// flood the log.
			s.log.Debug("settled invoice not credited now: credited before or not the site's", "payment_hash", hash, "settle_index", idx)
		}
		if withCursor || !moveCursor {
			return nil
		}
		return advanceCursor(tx.Gorm(ctx), idx)
	})
}

const (
	// markSettledSQL marks an invoice not yet settled as settled and
	// returns it; the row stays locked until the transaction ends.
	markSettledSQL = `UPDATE invoices SET state = ?, paid_msat = ?, settled_at = ?, settle_index = ?
		WHERE payment_hash = ? AND state <> ? RETURNING *`
	// advanceCursorCTE moves the stored settle index up, never down, in
	// the statement it prefixes (PostgreSQL only).
	advanceCursorCTE = `WITH moved AS (INSERT INTO lightning_cursors (name, value) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET value = GREATEST(lightning_cursors.value, excluded.value)) `
)

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

// advanceCursor moves the stored settle index up to idx, never down.
func advanceCursor(tx *gorm.DB, idx uint64) error {
	if idx == 0 {
		return nil
	}
	err := tx.Clauses(clause.OnConflict{
		Columns: []clause.Column{{Name: "name"}},
		DoUpdates: clause.Set{{Column: clause.Column{Name: "value"},
			Value: gorm.Expr("CASE WHEN lightning_cursors.value > excluded.value THEN lightning_cursors.value ELSE excluded.value END")}},
	}).Create(&cursor{Name: cursorName, Value: idx}).Error
	if err != nil {
		return fmt.Errorf("funding: cursor: %w", err)
	}
	return nil
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

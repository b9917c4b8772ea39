// Package store holds every statement on the tables of internal/funding:
// invoices, lightning_cursors, payouts and withdraw_links. Go's
// internal rule lets only internal/funding import it.
//
// It writes its SQL by hand, in the subset SQLite and PostgreSQL share
// (row locks on PostgreSQL only), run through GORM's Raw and Exec. The
// one exception is how, not what: the INSERT of a new invoice outside a
// transaction, on the path of every invoice and benchmarked against the
// node's own AddInvoice, goes straight to database/sql with the same
// text (GORM's statement handling cost about a tenth of the site's CPU
// per invoice).
package store

import (
	"context"
	"fmt"
	"time"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/money"
)

// Purpose says what an invoice pays for.
type Purpose string

// InvoiceState is the site's view of an invoice.
type InvoiceState string

const (
	InvoiceOpen     InvoiceState = "open"
	InvoiceSettled  InvoiceState = "settled"
	InvoiceExpired  InvoiceState = "expired" // open past its expiry: shown, never stored
	InvoiceCanceled InvoiceState = "canceled"
)

// Invoice is a row of invoices: one invoice the site issued.
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

// PayoutState is where a payout stands.
type PayoutState string

const (
	PayoutPending   PayoutState = "pending"
	PayoutSucceeded PayoutState = "succeeded"
	PayoutFailed    PayoutState = "failed"
)

// Payout is a row of payouts: one payment the site sends out of a
// payable account.
type Payout struct {
	ID             int64       `gorm:"primaryKey"`
	PaymentHash    string      `gorm:"column:payment_hash"`
	PaymentRequest string      `gorm:"column:payment_request"`
	SourceAccount  string      `gorm:"column:source_account"`
	OfferingID     *int64      `gorm:"column:offering_id"`
	Destination    string      `gorm:"column:destination"`
	AmountMsat     money.Msat  `gorm:"column:amount_msat"`
	FeeLimitMsat   money.Msat  `gorm:"column:fee_limit_msat"`
	FeeMsat        money.Msat  `gorm:"column:fee_msat"`
	State          PayoutState `gorm:"column:state"`
	FailureReason  string      `gorm:"column:failure_reason"`
	CreatedAt      time.Time   `gorm:"column:created_at"`
	FinishedAt     *time.Time  `gorm:"column:finished_at"`
}

func (Payout) TableName() string { return "payouts" }

const (
	insertInvoiceColumns = `INSERT INTO invoices (payment_hash, payment_request, purpose, offering_id, amount_msat,
		state, payer_name, payer_message, public, via, expires_at, created_at) VALUES `
	insertInvoice         = insertInvoiceColumns + `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`
	insertInvoicePostgres = insertInvoiceColumns + `($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`
)

func invoiceArgs(inv *Invoice) []any {
	return []any{inv.PaymentHash, inv.PaymentRequest, string(inv.Purpose), inv.OfferingID,
		int64(inv.AmountMsat), string(inv.State), inv.PayerName, inv.PayerMessage, inv.Public, inv.Via,
		inv.ExpiresAt, inv.CreatedAt}
}

// InsertInvoice records a new invoice inside the transaction c and sets
// its ID; db.ErrDuplicate when its payment hash is taken.
func InsertInvoice(ctx context.Context, c db.Conn, inv *Invoice) error {
	if err := c.Gorm(ctx).Raw(insertInvoice, invoiceArgs(inv)...).Scan(&inv.ID).Error; err != nil {
		return fmt.Errorf("funding: record invoice %s: %w", inv.PaymentHash, db.TranslateError(err))
	}
	return nil
}

// InsertInvoiceNow records a new invoice on the pool, in one statement
// straight through database/sql, and sets its ID; db.ErrDuplicate when
// its payment hash is taken.
func InsertInvoiceNow(ctx context.Context, d *db.DB, inv *Invoice) error {
	sqlDB, err := d.SQL()
	if err != nil {
		return err
	}
	q := insertInvoice
	if d.Dialect == db.Postgres {
		q = insertInvoicePostgres
	}
	if err := sqlDB.QueryRowContext(ctx, q, invoiceArgs(inv)...).Scan(&inv.ID); err != nil {
		return fmt.Errorf("funding: record invoice %s: %w", inv.PaymentHash, db.TranslateError(err))
	}
	return nil
}

// InvoiceByHash returns the invoice with that payment hash; false when
// there is none.
func InvoiceByHash(ctx context.Context, c db.Conn, paymentHash string) (Invoice, bool, error) {
	return invoice(ctx, c, `SELECT * FROM invoices WHERE payment_hash = ?`, paymentHash)
}

func invoice(ctx context.Context, c db.Conn, query, paymentHash string) (Invoice, bool, error) {
	row, ok, err := db.FirstRow[Invoice](ctx, c, query, paymentHash)
	if err != nil {
		return Invoice{}, false, fmt.Errorf("funding: invoice %s: %w", paymentHash, err)
	}
	return row, ok, nil
}

// MarkSettled marks the invoice with that payment hash settled, paid and
// at settle index idx, unless it is settled already, and returns it,
// locked for the rest of tx; false when it was credited before or is not
// the site's. Either way, when moveCursor, the stored settle index moves
// up to idx. Each statement is a round trip between lnd's settle event
// and the payer's page turning paid, so on PostgreSQL the update, the
// read back and the cursor are one statement.
func MarkSettled(ctx context.Context, tx db.Tx, paymentHash string, paid money.Msat, at time.Time, idx uint64, moveCursor bool) (Invoice, bool, error) {
	withCursor := moveCursor && tx.Dialect() == db.Postgres && idx != 0
	query := markSettled
	args := []any{string(InvoiceSettled), int64(paid), at, idx, paymentHash, string(InvoiceSettled)}
	if withCursor {
		query = advanceCursorCTE + query
		args = append([]any{settleCursor, idx}, args...)
	}
	inv, credited, err := db.FirstRow[Invoice](ctx, tx, query, args...)
	if err != nil {
		return Invoice{}, false, fmt.Errorf("funding: settle %s: %w", paymentHash, err)
	}
	if moveCursor && !withCursor {
		if err := AdvanceSettleIndex(ctx, tx, idx); err != nil {
			return Invoice{}, false, err
		}
	}
	return inv, credited, nil
}

const (
	markSettled = `UPDATE invoices SET state = ?, paid_msat = ?, settled_at = ?, settle_index = ?
		WHERE payment_hash = ? AND state <> ? RETURNING *`
	// advanceCursorCTE moves the stored settle index up, never down, in
	// the statement it prefixes (PostgreSQL only).
	advanceCursorCTE = `WITH moved AS (INSERT INTO lightning_cursors (name, value) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET value = GREATEST(lightning_cursors.value, excluded.value)) `
)

// OpenAmong returns which of the payment hashes are of invoices still
// open, in the order they were issued.
func OpenAmong(ctx context.Context, c db.Conn, paymentHashes []string) ([]string, error) {
	var out []string
	err := c.Gorm(ctx).Raw(`SELECT payment_hash FROM invoices WHERE payment_hash IN ? AND state = ? ORDER BY id`,
		paymentHashes, InvoiceOpen).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("funding: open invoices: %w", err)
	}
	return out, nil
}

// Settled returns up to limit of an offering's settled invoices, newest
// first, leaving out those of one purpose.
func Settled(ctx context.Context, c db.Conn, offeringID int64, except Purpose, limit int) ([]Invoice, error) {
	var out []Invoice
	err := c.Gorm(ctx).Raw(`SELECT * FROM invoices WHERE offering_id = ? AND state = ? AND purpose <> ?
		ORDER BY settled_at DESC, id DESC LIMIT ?`, offeringID, InvoiceSettled, except, limit).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("funding: settled invoices of %d: %w", offeringID, err)
	}
	return out, nil
}

// Credit is a settled invoice's id, payment hash, amount paid and
// settlement time.
type Credit struct {
	ID          int64      `gorm:"column:id"`
	PaymentHash string     `gorm:"column:payment_hash"`
	PaidMsat    money.Msat `gorm:"column:paid_msat"`
	SettledAt   time.Time  `gorm:"column:settled_at"`
}

// SettledSince returns up to limit of an offering's invoices settled at
// or after since, in settlement order, after the one (afterID,
// afterSettled) when afterID is not 0.
func SettledSince(ctx context.Context, c db.Conn, offeringID int64, since time.Time, afterID int64, afterSettled time.Time, limit int) ([]Credit, error) {
	query := `SELECT id, payment_hash, paid_msat, settled_at FROM invoices
		WHERE offering_id = ? AND state = ? AND settled_at >= ?`
	args := []any{offeringID, InvoiceSettled, since}
	if afterID != 0 {
		query += ` AND (settled_at > ? OR (settled_at = ? AND id > ?))`
		args = append(args, afterSettled, afterSettled, afterID)
	}
	var out []Credit
	if err := c.Gorm(ctx).Raw(query+` ORDER BY settled_at, id LIMIT ?`, append(args, limit)...).Scan(&out).Error; err != nil {
		return nil, fmt.Errorf("funding: credits of %d since %s: %w", offeringID, since.Format(time.RFC3339), err)
	}
	return out, nil
}

// Gift is what the donor wall shows of a settled invoice.
type Gift struct {
	PayerName    string     `gorm:"column:payer_name"`
	PayerMessage string     `gorm:"column:payer_message"`
	Public       bool       `gorm:"column:public"`
	PaidMsat     money.Msat `gorm:"column:paid_msat"`
	SettledAt    time.Time  `gorm:"column:settled_at"`
}

// Gifts returns up to limit of an offering's settled invoices of the
// purposes, newest first.
func Gifts(ctx context.Context, c db.Conn, offeringID int64, purposes []Purpose, limit int) ([]Gift, error) {
	var out []Gift
	err := c.Gorm(ctx).Raw(`SELECT payer_name, payer_message, public, paid_msat, settled_at FROM invoices
		WHERE offering_id = ? AND state = ? AND settled_at IS NOT NULL AND purpose IN ?
		ORDER BY settled_at DESC, id DESC LIMIT ?`, offeringID, InvoiceSettled, purposes, limit).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("funding: gifts to %d: %w", offeringID, err)
	}
	return out, nil
}

// CountSettled counts an offering's settled invoices of the purposes.
func CountSettled(ctx context.Context, c db.Conn, offeringID int64, purposes []Purpose) (int64, error) {
	var n int64
	err := c.Gorm(ctx).Raw(`SELECT COUNT(*) FROM invoices WHERE offering_id = ? AND state = ? AND purpose IN ?`,
		offeringID, InvoiceSettled, purposes).Scan(&n).Error
	if err != nil {
		return 0, fmt.Errorf("funding: payments of %d: %w", offeringID, err)
	}
	return n, nil
}

// settleCursor is the row of lightning_cursors holding the settle index.
const settleCursor = "settle_index"

// SettleIndex returns the highest settle index credited so far.
func SettleIndex(ctx context.Context, c db.Conn) (uint64, error) {
	idx, _, err := db.FirstRow[uint64](ctx, c, `SELECT value FROM lightning_cursors WHERE name = ?`, settleCursor)
	if err != nil {
		return 0, fmt.Errorf("funding: settle index: %w", err)
	}
	return idx, nil
}

// AdvanceSettleIndex moves the stored settle index up to idx, never
// down.
func AdvanceSettleIndex(ctx context.Context, c db.Conn, idx uint64) error {
	if idx == 0 {
		return nil
	}
	err := c.Gorm(ctx).Exec(`INSERT INTO lightning_cursors (name, value) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET value = CASE WHEN lightning_cursors.value > excluded.value
			THEN lightning_cursors.value ELSE excluded.value END`, settleCursor, idx).Error
	if err != nil {
		return fmt.Errorf("funding: cursor: %w", err)
	}
	return nil
}

// PayoutExists reports whether a payout pays that payment hash.
func PayoutExists(ctx context.Context, c db.Conn, paymentHash string) (bool, error) {
	var n int64
	if err := c.Gorm(ctx).Raw(`SELECT COUNT(*) FROM payouts WHERE payment_hash = ?`, paymentHash).Scan(&n).Error; err != nil {
		return false, fmt.Errorf("funding: payout %s: %w", paymentHash, err)
	}
	return n > 0, nil
}

// InsertPayout records a payout and sets its ID; db.ErrDuplicate when
// another pays the same payment hash.
func InsertPayout(ctx context.Context, c db.Conn, p *Payout) error {
	err := c.Gorm(ctx).Raw(`INSERT INTO payouts (payment_hash, payment_request, source_account, offering_id, destination,
			amount_msat, fee_limit_msat, fee_msat, state, failure_reason, created_at, finished_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		p.PaymentHash, p.PaymentRequest, p.SourceAccount, p.OfferingID, p.Destination,
		p.AmountMsat, p.FeeLimitMsat, p.FeeMsat, p.State, p.FailureReason, p.CreatedAt, p.FinishedAt).Scan(&p.ID).Error
	if err != nil {
		return fmt.Errorf("funding: record payout: %w", db.TranslateError(err))
	}
	return nil
}

// FinishPayout records a pending payout's outcome: its state, the
// routing fee paid and why it failed.
func FinishPayout(ctx context.Context, c db.Conn, id int64, state PayoutState, fee money.Msat, reason string, at time.Time) error {
	err := c.Gorm(ctx).Exec(`UPDATE payouts SET state = ?, fee_msat = ?, failure_reason = ?, finished_at = ?
		WHERE id = ? AND state = ?`, state, fee, reason, at, id, PayoutPending).Error
	if err != nil {
		return fmt.Errorf("funding: finish payout %d: %w", id, err)
	}
	return nil
}

// PendingPayouts lists the payouts not finished yet, oldest first.
func PendingPayouts(ctx context.Context, c db.Conn) ([]Payout, error) {
	var out []Payout
	if err := c.Gorm(ctx).Raw(`SELECT * FROM payouts WHERE state = ? ORDER BY id`, PayoutPending).Scan(&out).Error; err != nil {
		return nil, fmt.Errorf("funding: pending payouts: %w", err)
	}
	return out, nil
}

// PayoutsOfOffering lists an offering's payouts, newest first.
func PayoutsOfOffering(ctx context.Context, c db.Conn, offeringID int64, limit int) ([]Payout, error) {
	var out []Payout
	err := c.Gorm(ctx).Raw(`SELECT * FROM payouts WHERE offering_id = ? ORDER BY id DESC LIMIT ?`, offeringID, limit).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("funding: payouts of %d: %w", offeringID, err)
	}
	return out, nil
}

// PayoutsFrom lists the payouts from one source account, newest first.
func PayoutsFrom(ctx context.Context, c db.Conn, source string, limit int) ([]Payout, error) {
	var out []Payout
	err := c.Gorm(ctx).Raw(`SELECT * FROM payouts WHERE source_account = ? ORDER BY id DESC LIMIT ?`, source, limit).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("funding: payouts from %s: %w", source, err)
	}
	return out, nil
}

// PayoutByHash returns the payout of a payment hash; false when none.
func PayoutByHash(ctx context.Context, c db.Conn, paymentHash string) (Payout, bool, error) {
	row, ok, err := db.FirstRow[Payout](ctx, c, `SELECT * FROM payouts WHERE payment_hash = ?`, paymentHash)
	if err != nil {
		return Payout{}, false, fmt.Errorf("funding: payout %s: %w", paymentHash, err)
	}
	return row, ok, nil
}

// WithdrawLink is a row of withdraw_links: a one-time LNURL-withdraw
// (LUD-03) link to a balance the site owes someone; only a hash of its k1
// is kept.
type WithdrawLink struct {
	ID            int64      `gorm:"primaryKey"`
	K1Hash        string     `gorm:"column:k1_hash"`
	SourceAccount string     `gorm:"column:source_account"`
	OfferingID    *int64     `gorm:"column:offering_id"`
	Description   string     `gorm:"column:description"`
	PaymentHash   *string    `gorm:"column:payment_hash"`
	CreatedAt     time.Time  `gorm:"column:created_at"`
	ExpiresAt     time.Time  `gorm:"column:expires_at"`
	UsedAt        *time.Time `gorm:"column:used_at"`
}

func (WithdrawLink) TableName() string { return "withdraw_links" }

// InsertWithdrawLink records a new link and sets its ID.
func InsertWithdrawLink(ctx context.Context, c db.Conn, l *WithdrawLink) error {
	err := c.Gorm(ctx).Raw(`INSERT INTO withdraw_links (k1_hash, source_account, offering_id, description, payment_hash,
			created_at, expires_at, used_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		l.K1Hash, l.SourceAccount, l.OfferingID, l.Description, l.PaymentHash, l.CreatedAt, l.ExpiresAt, l.UsedAt).Scan(&l.ID).Error
	if err != nil {
		return fmt.Errorf("funding: withdraw link: %w", db.TranslateError(err))
	}
	return nil
}

// WithdrawLinkByK1Hash returns the link with that k1 hash; false when
// there is none.
func WithdrawLinkByK1Hash(ctx context.Context, c db.Conn, k1Hash string) (WithdrawLink, bool, error) {
	row, ok, err := db.FirstRow[WithdrawLink](ctx, c, `SELECT * FROM withdraw_links WHERE k1_hash = ?`, k1Hash)
	if err != nil {
		return WithdrawLink{}, false, fmt.Errorf("funding: withdraw link: %w", err)
	}
	return row, ok, nil
}

// SpendWithdrawLink marks an unused link used at at, and reports whether
// it was unused.
func SpendWithdrawLink(ctx context.Context, c db.Conn, id int64, at time.Time) (bool, error) {
	res := c.Gorm(ctx).Exec(`UPDATE withdraw_links SET used_at = ? WHERE id = ? AND used_at IS NULL`, at, id)
	if res.Error != nil {
		return false, fmt.Errorf("funding: spend withdraw link %d: %w", id, res.Error)
	}
	return res.RowsAffected == 1, nil
}

// PaidWithdrawLink records the payment hash of the payout a link made.
func PaidWithdrawLink(ctx context.Context, c db.Conn, id int64, paymentHash string) error {
	if err := c.Gorm(ctx).Exec(`UPDATE withdraw_links SET payment_hash = ? WHERE id = ?`, paymentHash, id).Error; err != nil {
		return fmt.Errorf("funding: payment of withdraw link %d: %w", id, err)
	}
	return nil
}

// ReleaseWithdrawLink makes a spent link that paid nothing usable again.
func ReleaseWithdrawLink(ctx context.Context, c db.Conn, id int64) error {
	err := c.Gorm(ctx).Exec(`UPDATE withdraw_links SET used_at = NULL WHERE id = ? AND payment_hash IS NULL`, id).Error
	if err != nil {
		return fmt.Errorf("funding: release withdraw link %d: %w", id, err)
	}
	return nil
}

// Package store holds every statement on the tables of internal/sponsor:
// sponsorship_settings, sponsor_bids, sponsor_bid_invoices and
// sponsor_periods. Go's internal rule lets only internal/sponsor import
// it. It speaks GORM's builder only.
package store

import (
	"context"
	"database/sql/driver"
	"fmt"
	"strconv"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/money"
)

// forUpdate locks the rows read for the rest of tx, on PostgreSQL
// (SQLite's immediate transactions hold the whole file already).
func forUpdate(ctx context.Context, tx db.Tx) *gorm.DB {
	q := tx.Gorm(ctx)
	if tx.Dialect() == db.Postgres {
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	return q
}

// Settings is a row of sponsorship_settings: an offering's terms.
type Settings struct {
	OfferingID  int64      `gorm:"primaryKey;column:offering_id;autoIncrement:false"`
	Enabled     bool       `gorm:"column:enabled"`
	Slots       int        `gorm:"column:slots"`
	Period      string     `gorm:"column:period"`
	ReserveMsat money.Msat `gorm:"column:reserve_msat"`
	WeightsBps  string     `gorm:"column:weights_bps"` // JSON array
	OpenPeriods int        `gorm:"column:open_periods"`
	UpdatedAt   time.Time  `gorm:"column:updated_at"`
}

func (Settings) TableName() string { return "sponsorship_settings" }

// BidState is where a bid stands.
type BidState string

const (
	BidPending   BidState = "pending"   // its first invoice is not paid yet
	BidActive    BidState = "active"    // paid, waiting for its period
	BidWon       BidState = "won"       // won a slot
	BidLost      BidState = "lost"      // cleared without a slot: refunded
	BidWithdrawn BidState = "withdrawn" // withdrawn by its sponsor: refunded
	BidRejected  BidState = "rejected"  // display rejected by the owner: refunded
	BidUnpaid    BidState = "unpaid"    // never paid before its period started
)

// Bid is a row of sponsor_bids: one sponsor's bid for one period.
type Bid struct {
	ID             int64      `gorm:"primaryKey"`
	PublicID       string     `gorm:"column:public_id"`
	OfferingID     int64      `gorm:"column:offering_id"`
	PeriodStart    time.Time  `gorm:"column:period_start"`
	PeriodEnd      time.Time  `gorm:"column:period_end"`
	ClaimKeyHash   string     `gorm:"column:claim_key_hash"`
	Amount         money.Msat `gorm:"column:amount_msat"` // paid so far
	State          BidState   `gorm:"column:state"`
	DisplayName    string     `gorm:"column:display_name"`
	DisplayURL     string     `gorm:"column:display_url"`
	DisplayTagline string     `gorm:"column:display_tagline"`
	RejectReason   string     `gorm:"column:reject_reason"`
	Slot           *int       `gorm:"column:slot"`
	Charge         money.Msat `gorm:"column:charge_msat"`
	SettledAt      *time.Time `gorm:"column:settled_at"`
	CreatedAt      time.Time  `gorm:"column:created_at"`
	ClosedAt       *time.Time `gorm:"column:closed_at"`
}

func (Bid) TableName() string { return "sponsor_bids" }

// Open reports whether the bid still waits for its period.
func (b Bid) Open() bool { return b.State == BidPending || b.State == BidActive }

// BidInvoice is a row of sponsor_bid_invoices: an invoice that pays
// (part of) a bid.
type BidInvoice struct {
	PaymentHash string     `gorm:"primaryKey;column:payment_hash"`
	BidID       int64      `gorm:"column:bid_id"`
	AmountMsat  money.Msat `gorm:"column:amount_msat"`
	CreatedAt   time.Time  `gorm:"column:created_at"`
	// SupersededAt is set on a raise's invoice when a later raise of
	// the same bid was asked: its payment then goes to the bid's refund.
	SupersededAt *time.Time `gorm:"column:superseded_at"`
}

func (BidInvoice) TableName() string { return "sponsor_bid_invoices" }

// Period is a row of sponsor_periods: a cleared period's record.
type Period struct {
	ID          int64     `gorm:"primaryKey"`
	OfferingID  int64     `gorm:"column:offering_id"`
	PeriodStart time.Time `gorm:"column:period_start"`
	PeriodEnd   time.Time `gorm:"column:period_end"`
	Record      string    `gorm:"column:record"` // JSON
	ClearedAt   time.Time `gorm:"column:cleared_at"`
}

func (Period) TableName() string { return "sponsor_periods" }

// SettingsOf returns an offering's terms, and false when it has none.
func SettingsOf(ctx context.Context, c db.Conn, offeringID int64) (Settings, bool, error) {
	var rows []Settings
	if err := c.Gorm(ctx).Where("offering_id = ?", offeringID).Limit(1).Find(&rows).Error; err != nil {
		return Settings{}, false, fmt.Errorf("sponsor: settings of %d: %w", offeringID, err)
	}
	if len(rows) == 0 {
		return Settings{}, false, nil
	}
	return rows[0], true, nil
}

// SaveSettings inserts or replaces an offering's terms.
func SaveSettings(ctx context.Context, c db.Conn, row Settings) error {
	err := c.Gorm(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "offering_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"enabled", "slots", "period", "reserve_msat", "weights_bps", "open_periods", "updated_at"}),
	}).Create(&row).Error
	if err != nil {
		return fmt.Errorf("sponsor: save settings of %d: %w", row.OfferingID, err)
	}
	return nil
}

// InsertBid adds a bid with its first invoice and sets the bid's ID.
func InsertBid(ctx context.Context, c db.Conn, b *Bid, first BidInvoice) error {
	if err := c.Gorm(ctx).Create(b).Error; err != nil {
		return fmt.Errorf("sponsor: record bid: %w", err)
	}
	first.BidID = b.ID
	return InsertBidInvoice(ctx, c, first)
}

// InsertBidInvoice records an invoice that pays a bid.
func InsertBidInvoice(ctx context.Context, c db.Conn, bi BidInvoice) error {
	if err := c.Gorm(ctx).Create(&bi).Error; err != nil {
		return fmt.Errorf("sponsor: record invoice of bid %d: %w", bi.BidID, err)
	}
	return nil
}

// SupersedeBidInvoices marks every invoice of a bid not yet superseded as
// superseded by a later raise; marking one already paid changes nothing.
func SupersedeBidInvoices(ctx context.Context, tx db.Tx, bidID int64, at time.Time) error {
	err := tx.Gorm(ctx).Model(&BidInvoice{}).Where("bid_id = ? AND superseded_at IS NULL", bidID).
		Update("superseded_at", at.UTC()).Error
	if err != nil {
		return fmt.Errorf("sponsor: supersede invoices of bid %d: %w", bidID, err)
	}
	return nil
}

// BidByPublicID returns the bid with that public id, or db.ErrNotFound.
func BidByPublicID(ctx context.Context, c db.Conn, publicID string) (Bid, error) {
	var b Bid
	if err := c.Gorm(ctx).Where("public_id = ?", publicID).Take(&b).Error; err != nil {
		return Bid{}, fmt.Errorf("sponsor: bid %s: %w", publicID, db.TranslateError(err))
	}
	return b, nil
}

// LockBid reads a bid and locks it for the rest of the transaction tx.
func LockBid(ctx context.Context, tx db.Tx, id int64) (Bid, error) {
	var b Bid
	if err := forUpdate(ctx, tx).Where("id = ?", id).Take(&b).Error; err != nil {
		return Bid{}, fmt.Errorf("sponsor: lock bid %d: %w", id, db.TranslateError(err))
	}
	return b, nil
}

// ClaimKeyKnown reports whether any bid has that claim key hash.
func ClaimKeyKnown(ctx context.Context, c db.Conn, hash string) (bool, error) {
	var n int64
	if err := c.Gorm(ctx).Model(&Bid{}).Where("claim_key_hash = ?", hash).Limit(1).Count(&n).Error; err != nil {
		return false, fmt.Errorf("sponsor: claim key: %w", err)
	}
	return n > 0, nil
}

// BidsByClaimKey returns the bids of a claim key hash, latest period
// first (at most 200).
func BidsByClaimKey(ctx context.Context, c db.Conn, hash string) ([]Bid, error) {
	var out []Bid
	err := c.Gorm(ctx).Where("claim_key_hash = ?", hash).Order("period_start DESC, id DESC").Limit(200).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("sponsor: bids of a claim key: %w", err)
	}
	return out, nil
}

// BidInvoiceOf returns the bid invoice with that payment hash.
func BidInvoiceOf(ctx context.Context, c db.Conn, paymentHash string) (BidInvoice, error) {
	var bi BidInvoice
	if err := c.Gorm(ctx).Where("payment_hash = ?", paymentHash).Take(&bi).Error; err != nil {
		return BidInvoice{}, fmt.Errorf("sponsor: bid of invoice %s: %w", paymentHash, db.TranslateError(err))
	}
	return bi, nil
}

// BidInvoices returns a bid's invoices, oldest first.
func BidInvoices(ctx context.Context, c db.Conn, bidID int64) ([]BidInvoice, error) {
	var out []BidInvoice
	if err := c.Gorm(ctx).Where("bid_id = ?", bidID).Order("created_at").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("sponsor: invoices of bid %d: %w", bidID, err)
	}
	return out, nil
}

// EditDisplay changes what a bid in one of states shows, and reports
// whether it was in one of them.
func EditDisplay(ctx context.Context, c db.Conn, id int64, states []BidState, name, url, tagline string) (bool, error) {
	res := c.Gorm(ctx).Model(&Bid{}).Where("id = ? AND state IN ?", id, states).
		Updates(map[string]any{"display_name": name, "display_url": url, "display_tagline": tagline})
	if res.Error != nil {
		return false, fmt.Errorf("sponsor: edit display of bid %d: %w", id, res.Error)
	}
	return res.RowsAffected > 0, nil
}

// CloseBid sets a bid's final state before its period, with the reason.
func CloseBid(ctx context.Context, c db.Conn, id int64, state BidState, reason string, at time.Time) error {
	err := c.Gorm(ctx).Model(&Bid{}).Where("id = ?", id).
		Updates(map[string]any{"state": state, "reject_reason": reason, "closed_at": at}).Error
	if err != nil {
		return fmt.Errorf("sponsor: close bid %d: %w", id, err)
	}
	return nil
}

// Paid records what a bid has been paid in all, and makes it active.
func Paid(ctx context.Context, c db.Conn, id int64, total money.Msat, at time.Time) error {
	err := c.Gorm(ctx).Model(&Bid{}).Where("id = ?", id).
		Updates(map[string]any{"amount_msat": total, "state": BidActive, "settled_at": at.UTC()}).Error
	if err != nil {
		return fmt.Errorf("sponsor: bid %d paid: %w", id, err)
	}
	return nil
}

// Won records a bid's slot and charge.
func Won(ctx context.Context, c db.Conn, id int64, slot int, charge money.Msat, at time.Time) error {
	err := c.Gorm(ctx).Model(&Bid{}).Where("id = ?", id).
		Updates(map[string]any{"state": BidWon, "slot": slot, "charge_msat": charge, "closed_at": at}).Error
	if err != nil {
		return fmt.Errorf("sponsor: bid %d won: %w", id, err)
	}
	return nil
}

// CloseBids sets many bids to a final state: on PostgreSQL in one
// statement, the ids as one array parameter; on SQLite a thousand per
// statement.
func CloseBids(ctx context.Context, tx db.Tx, ids []int64, state BidState, at time.Time) error {
	set := map[string]any{"state": state, "closed_at": at}
	if tx.Dialect() == db.Postgres {
		if len(ids) == 0 {
			return nil
		}
		if err := tx.Gorm(ctx).Model(&Bid{}).Where("id = ANY(CAST(? AS BIGINT[]))", idArray(ids)).Updates(set).Error; err != nil {
			return fmt.Errorf("sponsor: close %d bids: %w", len(ids), err)
		}
		return nil
	}
	for start := 0; start < len(ids); start += 1000 {
		chunk := ids[start:min(start+1000, len(ids))]
		if err := tx.Gorm(ctx).Model(&Bid{}).Where("id IN ?", chunk).Updates(set).Error; err != nil {
			return fmt.Errorf("sponsor: close %d bids: %w", len(chunk), err)
		}
	}
	return nil
}

// idArray is ids as one PostgreSQL array literal ({1,2,3}): one parameter,
// where GORM would expand a slice into one parameter per id.
type idArray []int64

func (a idArray) Value() (driver.Value, error) {
	b := make([]byte, 0, 2+8*len(a))
	b = append(b, '{')
	for i, id := range a {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return string(append(b, '}')), nil
}

// CloseUnpaid closes the bids of a period still waiting for their first
// payment.
func CloseUnpaid(ctx context.Context, c db.Conn, offeringID int64, start time.Time, at time.Time) error {
	err := c.Gorm(ctx).Model(&Bid{}).Where("offering_id = ? AND period_start = ? AND state = ?", offeringID, start, BidPending).
		Updates(map[string]any{"state": BidUnpaid, "closed_at": at}).Error
	if err != nil {
		return fmt.Errorf("sponsor: close unpaid bids of %d: %w", offeringID, err)
	}
	return nil
}

// BidCounts counts the open bids per period start (unix seconds) between
// two starts, pending ones included.
func BidCounts(ctx context.Context, c db.Conn, offeringID int64, from, to time.Time) (map[int64]int, error) {
	var rows []struct {
		PeriodStart time.Time
		N           int
	}
	err := c.Gorm(ctx).Model(&Bid{}).Select("period_start, COUNT(*) AS n").
		Where("offering_id = ? AND period_start BETWEEN ? AND ? AND state IN ?", offeringID, from.UTC(), to.UTC(), []BidState{BidPending, BidActive}).
		Group("period_start").Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("sponsor: bid counts: %w", err)
	}
	out := make(map[int64]int, len(rows))
	for _, r := range rows {
		out[r.PeriodStart.Unix()] = r.N
	}
	return out, nil
}

// PeriodBids returns every bid of a period, locked on PostgreSQL so that
// a settlement and the clearing of the same period take turns.
func PeriodBids(ctx context.Context, tx db.Tx, offeringID int64, start time.Time) ([]Bid, error) {
	var out []Bid
	err := forUpdate(ctx, tx).Where("offering_id = ? AND period_start = ?", offeringID, start.UTC()).Order("id").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("sponsor: bids of %d at %s: %w", offeringID, start.UTC().Format(time.RFC3339), err)
	}
	return out, nil
}

// OpenBidInvoices returns the payment hashes of the invoices of a
// period's bids still waiting for it (pending or active): among them, any
// paid but not credited yet.
func OpenBidInvoices(ctx context.Context, c db.Conn, offeringID int64, start time.Time) ([]string, error) {
	var out []string
	err := c.Gorm(ctx).Model(&BidInvoice{}).
		Joins("JOIN sponsor_bids ON sponsor_bids.id = sponsor_bid_invoices.bid_id").
		Where("sponsor_bids.offering_id = ? AND sponsor_bids.period_start = ? AND sponsor_bids.state IN ?", offeringID, start.UTC(), []BidState{BidPending, BidActive}).
		Order("sponsor_bid_invoices.bid_id").Pluck("sponsor_bid_invoices.payment_hash", &out).Error
	if err != nil {
		return nil, fmt.Errorf("sponsor: invoices of %d at %s: %w", offeringID, start.UTC().Format(time.RFC3339), err)
	}
	return out, nil
}

// ComingBids lists an offering's bids of periods that start after now in
// the given states, by period then id (at most 500).
func ComingBids(ctx context.Context, c db.Conn, offeringID int64, now time.Time, states []BidState) ([]Bid, error) {
	var out []Bid
	err := c.Gorm(ctx).Where("offering_id = ? AND period_start > ? AND state IN ?", offeringID, now.UTC(), states).
		Order("period_start, id").Limit(500).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("sponsor: coming bids of %d: %w", offeringID, err)
	}
	return out, nil
}

// DuePeriod names a period to clear.
type DuePeriod struct {
	OfferingID  int64
	PeriodStart time.Time
}

// DuePeriods lists periods that started by cutoff and still have open
// bids, the oldest first.
func DuePeriods(ctx context.Context, c db.Conn, cutoff time.Time, limit int) ([]DuePeriod, error) {
	var out []DuePeriod
	err := c.Gorm(ctx).Model(&Bid{}).Distinct("offering_id", "period_start").
		Where("state IN ? AND period_start <= ?", []BidState{BidPending, BidActive}, cutoff.UTC()).
		Order("period_start").Limit(limit).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("sponsor: due periods: %w", err)
	}
	return out, nil
}

// InsertPeriod records a cleared period; db.ErrDuplicate when it was
// recorded already.
func InsertPeriod(ctx context.Context, c db.Conn, p Period) error {
	if err := c.Gorm(ctx).Create(&p).Error; err != nil {
		return fmt.Errorf("sponsor: record period: %w", db.TranslateError(err))
	}
	return nil
}

// PeriodOf returns a period's record, and false when it has none.
func PeriodOf(ctx context.Context, c db.Conn, offeringID int64, start time.Time) (Period, bool, error) {
	var rows []Period
	err := c.Gorm(ctx).Where("offering_id = ? AND period_start = ?", offeringID, start.UTC()).Limit(1).Find(&rows).Error
	if err != nil {
		return Period{}, false, fmt.Errorf("sponsor: period record: %w", err)
	}
	if len(rows) == 0 {
		return Period{}, false, nil
	}
	return rows[0], true, nil
}

// Cleared reports whether the period has its record.
func Cleared(ctx context.Context, c db.Conn, offeringID int64, start time.Time) (bool, error) {
	var n int64
	err := c.Gorm(ctx).Model(&Period{}).Where("offering_id = ? AND period_start = ?", offeringID, start.UTC()).Count(&n).Error
	if err != nil {
		return false, fmt.Errorf("sponsor: period cleared: %w", err)
	}
	return n > 0, nil
}

// WinnersAt returns the bids winning a period that holds t, across
// offerings (offeringID 0) or for one, by offering then slot.
func WinnersAt(ctx context.Context, c db.Conn, offeringID int64, t time.Time) ([]Bid, error) {
	q := c.Gorm(ctx).Where("state = ? AND period_start <= ? AND period_end > ?", BidWon, t.UTC(), t.UTC())
	if offeringID != 0 {
		q = q.Where("offering_id = ?", offeringID)
	}
	var out []Bid
	if err := q.Order("offering_id, slot").Limit(500).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("sponsor: winners: %w", err)
	}
	return out, nil
}

// PastWinners returns won bids of periods that ended by t, newest first.
func PastWinners(ctx context.Context, c db.Conn, t time.Time, limit int) ([]Bid, error) {
	var out []Bid
	err := c.Gorm(ctx).Where("state = ? AND period_end <= ?", BidWon, t.UTC()).
		Order("period_start DESC, offering_id, slot").Limit(limit).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("sponsor: past winners: %w", err)
	}
	return out, nil
}

package sponsor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/money"
)

// store is the only code that reads or writes the sponsorship tables.
type store struct{ db *db.DB }

type settingsRow struct {
	OfferingID  int64      `gorm:"primaryKey;column:offering_id;autoIncrement:false"`
	Enabled     bool       `gorm:"column:enabled"`
	Slots       int        `gorm:"column:slots"`
	Period      string     `gorm:"column:period"`
	ReserveMsat money.Msat `gorm:"column:reserve_msat"`
	WeightsBps  string     `gorm:"column:weights_bps"`
	OpenPeriods int        `gorm:"column:open_periods"`
	UpdatedAt   time.Time  `gorm:"column:updated_at"`
}

func (settingsRow) TableName() string { return "sponsorship_settings" }

func (st store) settings(ctx context.Context, q *gorm.DB, offeringID int64) (Settings, error) {
	var rows []settingsRow
	if err := q.WithContext(ctx).Where("offering_id = ?", offeringID).Limit(1).Find(&rows).Error; err != nil {
		return Settings{}, fmt.Errorf("sponsor: settings of %d: %w", offeringID, err)
	}
	if len(rows) == 0 {
		return DefaultSettings(offeringID), nil
	}
	r := rows[0]
	out := Settings{OfferingID: offeringID, Enabled: r.Enabled, Slots: r.Slots, Period: Period(r.Period),
		Reserve: r.ReserveMsat, OpenPeriods: r.OpenPeriods}
	if err := json.Unmarshal([]byte(r.WeightsBps), &out.Weights); err != nil {
		return Settings{}, fmt.Errorf("sponsor: weights of %d: %w", offeringID, err)
	}
	return out, nil
}

func (st store) saveSettings(ctx context.Context, s Settings, now time.Time) error {
	w, err := json.Marshal(s.Weights)
	if err != nil {
		return err
	}
	row := settingsRow{OfferingID: s.OfferingID, Enabled: s.Enabled, Slots: s.Slots, Period: string(s.Period),
		ReserveMsat: s.Reserve, WeightsBps: string(w), OpenPeriods: s.OpenPeriods, UpdatedAt: now}
	err = st.db.Gorm(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "offering_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"enabled", "slots", "period", "reserve_msat", "weights_bps", "open_periods", "updated_at"}),
	}).Create(&row).Error
	if err != nil {
		return fmt.Errorf("sponsor: save settings of %d: %w", s.OfferingID, err)
	}
	return nil
}

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

// Bid is one sponsor's bid for one period.
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

type bidInvoice struct {
	PaymentHash string     `gorm:"primaryKey;column:payment_hash"`
	BidID       int64      `gorm:"column:bid_id"`
	AmountMsat  money.Msat `gorm:"column:amount_msat"`
	CreatedAt   time.Time  `gorm:"column:created_at"`
}

func (bidInvoice) TableName() string { return "sponsor_bid_invoices" }

type periodRow struct {
	ID          int64     `gorm:"primaryKey"`
	OfferingID  int64     `gorm:"column:offering_id"`
	PeriodStart time.Time `gorm:"column:period_start"`
	PeriodEnd   time.Time `gorm:"column:period_end"`
	Record      string    `gorm:"column:record"`
	ClearedAt   time.Time `gorm:"column:cleared_at"`
}

func (periodRow) TableName() string { return "sponsor_periods" }

var errNoBid = apperr.New(apperr.NotFound, "No bid has that id.")

func (st store) bidByPublicID(ctx context.Context, q *gorm.DB, publicID string, lock bool) (Bid, error) {
	q = q.WithContext(ctx)
	if lock && st.db.Dialect == db.Postgres {
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	var b Bid
	err := q.Where("public_id = ?", publicID).Take(&b).Error
	if errors.Is(db.TranslateError(err), db.ErrNotFound) {
		return Bid{}, errNoBid
	}
	if err != nil {
		return Bid{}, fmt.Errorf("sponsor: bid %s: %w", publicID, err)
	}
	return b, nil
}

func (st store) lockBid(ctx context.Context, tx db.Tx, id int64) (Bid, error) {
	q := tx.Gorm(ctx)
	if st.db.Dialect == db.Postgres {
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	var b Bid
	if err := q.Where("id = ?", id).Take(&b).Error; err != nil {
		return Bid{}, fmt.Errorf("sponsor: lock bid %d: %w", id, err)
	}
	return b, nil
}

func (st store) claimKeyKnown(ctx context.Context, hash string) (bool, error) {
	var n int64
	err := st.db.Gorm(ctx).Model(&Bid{}).Where("claim_key_hash = ?", hash).Limit(1).Count(&n).Error
	return n > 0, err
}

func (st store) bidsByClaimKey(ctx context.Context, hash string) ([]Bid, error) {
	var out []Bid
	err := st.db.Gorm(ctx).Where("claim_key_hash = ?", hash).Order("period_start DESC, id DESC").Limit(200).Find(&out).Error
	return out, err
}

func (st store) bidInvoice(ctx context.Context, tx db.Tx, hash string) (bidInvoice, error) {
	var bi bidInvoice
	err := tx.Gorm(ctx).Where("payment_hash = ?", hash).Take(&bi).Error
	if err != nil {
		return bidInvoice{}, fmt.Errorf("sponsor: bid of invoice %s: %w", hash, err)
	}
	return bi, nil
}

func (st store) bidInvoices(ctx context.Context, bidID int64) ([]bidInvoice, error) {
	var out []bidInvoice
	err := st.db.Gorm(ctx).Where("bid_id = ?", bidID).Order("created_at").Find(&out).Error
	return out, err
}

// bidCounts counts the bids per period start (unix seconds) between two
// starts, pending ones included: the count is public, amounts are not.
func (st store) bidCounts(ctx context.Context, offeringID int64, from, to time.Time) (map[int64]int, error) {
	var rows []struct {
		PeriodStart time.Time
		N           int
	}
	err := st.db.Gorm(ctx).Model(&Bid{}).Select("period_start, COUNT(*) AS n").
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

// periodBids returns every bid of a period, locked on PostgreSQL so that a
// settlement and the clearing of the same period take turns.
func (st store) periodBids(ctx context.Context, tx db.Tx, offeringID int64, start time.Time) ([]Bid, error) {
	q := tx.Gorm(ctx)
	if st.db.Dialect == db.Postgres {
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	var out []Bid
	err := q.Where("offering_id = ? AND period_start = ?", offeringID, start.UTC()).Order("id").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("sponsor: bids of %d at %s: %w", offeringID, FormatStart(start), err)
	}
	return out, nil
}

// openBidInvoices returns the payment hashes of the invoices of a period's
// bids still waiting for it (pending or active): among them, any paid but
// not credited yet.
func (st store) openBidInvoices(ctx context.Context, offeringID int64, start time.Time) ([]string, error) {
	var out []string
	err := st.db.Gorm(ctx).Model(&bidInvoice{}).
		Joins("JOIN sponsor_bids ON sponsor_bids.id = sponsor_bid_invoices.bid_id").
		Where("sponsor_bids.offering_id = ? AND sponsor_bids.period_start = ? AND sponsor_bids.state IN ?", offeringID, start.UTC(), []BidState{BidPending, BidActive}).
		Order("sponsor_bid_invoices.bid_id").Pluck("sponsor_bid_invoices.payment_hash", &out).Error
	if err != nil {
		return nil, fmt.Errorf("sponsor: invoices of %d at %s: %w", offeringID, FormatStart(start), err)
	}
	return out, nil
}

// comingBids lists an offering's bids of periods that start after now in
// the given states, by period then id.
func (st store) comingBids(ctx context.Context, offeringID int64, now time.Time, states []BidState) ([]Bid, error) {
	var out []Bid
	err := st.db.Gorm(ctx).Where("offering_id = ? AND period_start > ? AND state IN ?", offeringID, now.UTC(), states).
		Order("period_start, id").Limit(500).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("sponsor: coming bids of %d: %w", offeringID, err)
	}
	return out, nil
}

type duePeriod struct {
	OfferingID  int64
	PeriodStart time.Time
}

// duePeriods lists periods that started by cutoff and still have open bids.
func (st store) duePeriods(ctx context.Context, cutoff time.Time, limit int) ([]duePeriod, error) {
	var out []duePeriod
	err := st.db.Gorm(ctx).Model(&Bid{}).Distinct("offering_id", "period_start").
		Where("state IN ? AND period_start <= ?", []BidState{BidPending, BidActive}, cutoff.UTC()).
		Order("period_start").Limit(limit).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("sponsor: due periods: %w", err)
	}
	return out, nil
}

func (st store) periodRecord(ctx context.Context, offeringID int64, start time.Time) (periodRow, bool, error) {
	var rows []periodRow
	err := st.db.Gorm(ctx).Where("offering_id = ? AND period_start = ?", offeringID, start.UTC()).Limit(1).Find(&rows).Error
	if err != nil || len(rows) == 0 {
		return periodRow{}, false, err
	}
	return rows[0], true, nil
}

// cleared reports, inside tx, whether the period has its record.
func (st store) cleared(ctx context.Context, tx db.Tx, offeringID int64, start time.Time) (bool, error) {
	var n int64
	err := tx.Gorm(ctx).Model(&periodRow{}).Where("offering_id = ? AND period_start = ?", offeringID, start.UTC()).Count(&n).Error
	return n > 0, err
}

// winnersAt returns the bids winning a period that holds t, across
// offerings (offeringID 0) or for one, by offering then slot.
func (st store) winnersAt(ctx context.Context, offeringID int64, t time.Time) ([]Bid, error) {
	q := st.db.Gorm(ctx).Where("state = ? AND period_start <= ? AND period_end > ?", BidWon, t.UTC(), t.UTC())
	if offeringID != 0 {
		q = q.Where("offering_id = ?", offeringID)
	}
	var out []Bid
	err := q.Order("offering_id, slot").Limit(500).Find(&out).Error
	return out, err
}

// pastWinners returns won bids of periods that ended by t, newest first.
func (st store) pastWinners(ctx context.Context, t time.Time, limit int) ([]Bid, error) {
	var out []Bid
	err := st.db.Gorm(ctx).Where("state = ? AND period_end <= ?", BidWon, t.UTC()).
		Order("period_start DESC, offering_id, slot").Limit(limit).Find(&out).Error
	return out, err
}

// closeBids sets many bids to a final state, a thousand per statement
// (on PostgreSQL all in one, the ids as one array parameter, which GORM
// would expand into a list).
func (st store) closeBids(ctx context.Context, tx db.Tx, ids []int64, state BidState, now time.Time) error {
	if st.db.Dialect == db.Postgres && len(ids) > 0 {
		_, err := tx.Gorm(ctx).Statement.ConnPool.ExecContext(ctx,
			"UPDATE sponsor_bids SET state = $1, closed_at = $2 WHERE id = ANY($3::bigint[])", string(state), now, ids)
		if err != nil {
			return fmt.Errorf("sponsor: close %d bids: %w", len(ids), err)
		}
		return nil
	}
	for start := 0; start < len(ids); start += 1000 {
		chunk := ids[start:min(start+1000, len(ids))]
		if err := tx.Gorm(ctx).Model(&Bid{}).Where("id IN ?", chunk).Updates(map[string]any{"state": state, "closed_at": now}).Error; err != nil {
			return fmt.Errorf("sponsor: close %d bids: %w", len(chunk), err)
		}
	}
	return nil
}

// Package store holds every statement on the tables of internal/invest:
// investment_terms, investments and revenue_events. Go's internal rule
// lets only internal/invest import it.
//
// It writes its SQL by hand, run through GORM's Raw and Exec: the returns
// of a revenue event are added to thousands of investments in one
// UPDATE … FROM (VALUES …), which GORM's builder cannot say, and one
// package speaks one kind of SQL. The text is the subset SQLite and
// PostgreSQL share; row locks are added on PostgreSQL only.
package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/money"
)

// Terms is a row of investment_terms: an offering's investment round.
type Terms struct {
	OfferingID int64 `gorm:"primaryKey;column:offering_id;autoIncrement:false"`
	// ShareBps is the part of every revenue event that goes to investors,
	// in basis points (0–10000).
	ShareBps int `gorm:"column:share_bps"`
	// CapBps bounds an investment's returns: it stops earning once they
	// reach CapBps/10000 × its principal (at least 10000, at most 1000000).
	CapBps         int         `gorm:"column:cap_bps"`
	MinMsat        money.Msat  `gorm:"column:min_msat"`
	MaxMsat        money.Msat  `gorm:"column:max_msat"`
	RaiseLimitMsat *money.Msat `gorm:"column:raise_limit_msat"` // nil: no limit
	Open           bool        `gorm:"column:open"`
	UpdatedAt      time.Time   `gorm:"column:updated_at"`
}

func (Terms) TableName() string { return "investment_terms" }

// InvestmentState is where an investment stands.
type InvestmentState string

const (
	Pending InvestmentState = "pending" // invoice not paid yet
	Active  InvestmentState = "active"  // earning
	Capped  InvestmentState = "capped"  // earned its cap
)

// Investment is a row of investments: one investment and the terms it
// was made on.
type Investment struct {
	ID                  int64           `gorm:"primaryKey"`
	OfferingID          int64           `gorm:"column:offering_id"`
	ClaimKeyHash        string          `gorm:"column:claim_key_hash"`
	PaymentHash         string          `gorm:"column:payment_hash"`
	State               InvestmentState `gorm:"column:state"`
	PrincipalMsat       money.Msat      `gorm:"column:principal_msat"`
	ShareBps            int             `gorm:"column:share_bps"`
	CapBps              int             `gorm:"column:cap_bps"`
	CapMsat             money.Msat      `gorm:"column:cap_msat"`
	ReturnedMsat        money.Msat      `gorm:"column:returned_msat"`
	Name                string          `gorm:"column:name"`
	Public              bool            `gorm:"column:public"`
	PayoutDestination   string          `gorm:"column:payout_destination"`
	PayoutThresholdMsat money.Msat      `gorm:"column:payout_threshold_msat"`
	ExpiresAt           time.Time       `gorm:"column:expires_at"`
	CreatedAt           time.Time       `gorm:"column:created_at"`
	ActivatedAt         *time.Time      `gorm:"column:activated_at"`
}

func (Investment) TableName() string { return "investments" }

// Event is a row of revenue_events: one revenue event and its split.
type Event struct {
	ID            int64      `gorm:"primaryKey"`
	OfferingID    int64      `gorm:"column:offering_id"`
	Key           string     `gorm:"column:key"`
	SourceAccount string     `gorm:"column:source_account"`
	AmountMsat    money.Msat `gorm:"column:amount_msat"`
	InvestorsMsat money.Msat `gorm:"column:investors_msat"`
	RunwayMsat    money.Msat `gorm:"column:runway_msat"`
	Investments   int        `gorm:"column:investments"`
	Memo          string     `gorm:"column:memo"`
	CreatedAt     time.Time  `gorm:"column:created_at"`
}

func (Event) TableName() string { return "revenue_events" }

// SaveTerms inserts or replaces an offering's terms.
func SaveTerms(ctx context.Context, c db.Conn, t Terms) error {
	err := c.Gorm(ctx).Exec(`INSERT INTO investment_terms
			(offering_id, share_bps, cap_bps, min_msat, max_msat, raise_limit_msat, open, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (offering_id) DO UPDATE SET share_bps = excluded.share_bps, cap_bps = excluded.cap_bps,
			min_msat = excluded.min_msat, max_msat = excluded.max_msat, raise_limit_msat = excluded.raise_limit_msat,
			open = excluded.open, updated_at = excluded.updated_at`,
		t.OfferingID, t.ShareBps, t.CapBps, t.MinMsat, t.MaxMsat, t.RaiseLimitMsat, t.Open, t.UpdatedAt).Error
	if err != nil {
		return fmt.Errorf("invest: save terms of %d: %w", t.OfferingID, err)
	}
	return nil
}

// TermsOf returns an offering's terms, and false when it has none.
func TermsOf(ctx context.Context, c db.Conn, offeringID int64) (Terms, bool, error) {
	row, ok, err := db.FirstRow[Terms](ctx, c, `SELECT * FROM investment_terms WHERE offering_id = ?`, offeringID)
	if err != nil {
		return Terms{}, false, fmt.Errorf("invest: terms of %d: %w", offeringID, err)
	}
	return row, ok, nil
}

// LockRound locks the offering's terms row for the rest of the
// transaction tx: every writer of an offering's investments takes it
// first, so they queue rather than deadlock.
func LockRound(ctx context.Context, tx db.Tx, offeringID int64) error {
	var ids []int64
	if err := tx.Gorm(ctx).Raw(tx.ForUpdate(`SELECT offering_id FROM investment_terms WHERE offering_id = ?`), offeringID).Scan(&ids).Error; err != nil {
		return fmt.Errorf("invest: lock round of %d: %w", offeringID, err)
	}
	return nil
}

// Raised is the principal an offering's round has taken or is awaiting:
// active and capped investments, and pending ones not expired at now.
func Raised(ctx context.Context, c db.Conn, offeringID int64, now time.Time) (money.Msat, error) {
	var sum int64
	err := c.Gorm(ctx).Raw(`SELECT COALESCE(SUM(principal_msat), 0) FROM investments
		WHERE offering_id = ? AND (state <> ? OR expires_at > ?)`, offeringID, Pending, now).Scan(&sum).Error
	if err != nil {
		return 0, fmt.Errorf("invest: raised by %d: %w", offeringID, err)
	}
	return money.Msat(sum), nil
}

// SettledPrincipal is the principal of an offering's active and capped
// investments, and how many they are.
func SettledPrincipal(ctx context.Context, c db.Conn, offeringID int64) (money.Msat, int64, error) {
	var row struct {
		Sum   int64
		Count int64
	}
	err := c.Gorm(ctx).Raw(`SELECT COALESCE(SUM(principal_msat), 0) AS sum, COUNT(*) AS count FROM investments
		WHERE offering_id = ? AND state <> ?`, offeringID, Pending).Scan(&row).Error
	if err != nil {
		return 0, 0, fmt.Errorf("invest: principal of %d: %w", offeringID, err)
	}
	return money.Msat(row.Sum), row.Count, nil
}

// InsertInvestment adds inv and sets its ID.
func InsertInvestment(ctx context.Context, c db.Conn, inv *Investment) error {
	err := c.Gorm(ctx).Raw(`INSERT INTO investments (offering_id, claim_key_hash, payment_hash, state, principal_msat,
			share_bps, cap_bps, cap_msat, returned_msat, name, public, payout_destination, payout_threshold_msat,
			expires_at, created_at, activated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		inv.OfferingID, inv.ClaimKeyHash, inv.PaymentHash, inv.State, inv.PrincipalMsat,
		inv.ShareBps, inv.CapBps, inv.CapMsat, inv.ReturnedMsat, inv.Name, inv.Public, inv.PayoutDestination, inv.PayoutThresholdMsat,
		inv.ExpiresAt, inv.CreatedAt, inv.ActivatedAt).Scan(&inv.ID).Error
	if err != nil {
		return fmt.Errorf("invest: record investment: %w", err)
	}
	return nil
}

// LockByPayment reads the investment paid by paymentHash and locks it
// for the rest of the transaction tx; false when there is none.
func LockByPayment(ctx context.Context, tx db.Tx, paymentHash string) (Investment, bool, error) {
	return one(ctx, tx, tx.ForUpdate(`SELECT * FROM investments WHERE payment_hash = ?`), paymentHash)
}

// Activate makes a pending investment active with the principal that
// arrived and its cap.
func Activate(ctx context.Context, c db.Conn, id int64, principal, capMsat money.Msat, at time.Time) error {
	err := c.Gorm(ctx).Exec(`UPDATE investments SET state = ?, principal_msat = ?, cap_msat = ?, activated_at = ?
		WHERE id = ? AND state = ?`, Active, principal, capMsat, at, id, Pending).Error
	if err != nil {
		return fmt.Errorf("invest: activate %d: %w", id, err)
	}
	return nil
}

// Stake is what the split needs of one active investment.
type Stake struct {
	ID        int64
	Principal money.Msat
	ShareBps  int
	Room      money.Msat // cap − returned: what it may still earn
}

// ActiveStakes returns an offering's active investments in the split's
// tie-break order: earlier activation, then id.
func ActiveStakes(ctx context.Context, c db.Conn, offeringID int64) ([]Stake, error) {
	rows, err := c.Gorm(ctx).Raw(`SELECT id, principal_msat, share_bps, cap_msat - returned_msat FROM investments
		WHERE offering_id = ? AND state = ? ORDER BY activated_at, id`, offeringID, Active).Rows()
	if err != nil {
		return nil, fmt.Errorf("invest: active investments of %d: %w", offeringID, err)
	}
	defer rows.Close()
	var out []Stake
	for rows.Next() {
		var s Stake
		if err := rows.Scan(&s.ID, &s.Principal, &s.ShareBps, &s.Room); err != nil {
			return nil, fmt.Errorf("invest: active investments of %d: %w", offeringID, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("invest: active investments of %d: %w", offeringID, err)
	}
	return out, nil
}

// Return is an amount to add to an investment's returns.
type Return struct {
	InvestmentID int64
	Amount       money.Msat
}

// AddReturns adds each return to its active investment, capping those
// that reach their cap, a thousand investments per statement. Every one
// must be active.
func AddReturns(ctx context.Context, c db.Conn, returns []Return) error {
	const chunkRows = 1000
	for start := 0; start < len(returns); start += chunkRows {
		chunk := returns[start:min(start+chunkRows, len(returns))]
		var sb strings.Builder
		sb.WriteString(`UPDATE investments SET returned_msat = investments.returned_msat + v.column2,
			state = CASE WHEN investments.returned_msat + v.column2 >= investments.cap_msat THEN 'capped' ELSE investments.state END
			FROM (VALUES `)
		args := make([]any, 0, 2*len(chunk))
		for i, r := range chunk {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(CAST(? AS BIGINT), CAST(? AS BIGINT))")
			args = append(args, r.InvestmentID, int64(r.Amount))
		}
		sb.WriteString(") AS v WHERE investments.id = v.column1 AND investments.state = 'active'")
		res := c.Gorm(ctx).Exec(sb.String(), args...)
		if res.Error != nil {
			return fmt.Errorf("invest: add returns to %d investments: %w", len(chunk), res.Error)
		}
		if res.RowsAffected != int64(len(chunk)) {
			return fmt.Errorf("invest: add returns: %d of %d investments active", res.RowsAffected, len(chunk))
		}
	}
	return nil
}

// EventByKey returns the revenue event with that key; false when none.
func EventByKey(ctx context.Context, c db.Conn, key string) (Event, bool, error) {
	row, ok, err := db.FirstRow[Event](ctx, c, `SELECT * FROM revenue_events WHERE key = ?`, key)
	if err != nil {
		return Event{}, false, fmt.Errorf("invest: revenue event %s: %w", key, err)
	}
	return row, ok, nil
}

// InsertEvent adds e and sets its ID. An event with the same key
// recorded meanwhile is db.ErrRetry: the transaction runs again and
// finds it.
func InsertEvent(ctx context.Context, c db.Conn, e *Event) error {
	err := c.Gorm(ctx).Raw(`INSERT INTO revenue_events (offering_id, key, source_account, amount_msat, investors_msat,
			runway_msat, investments, memo, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		e.OfferingID, e.Key, e.SourceAccount, e.AmountMsat, e.InvestorsMsat, e.RunwayMsat, e.Investments, e.Memo, e.CreatedAt).
		Scan(&e.ID).Error
	if err != nil {
		if errors.Is(db.TranslateError(err), db.ErrDuplicate) {
			return fmt.Errorf("%w: invest: revenue event %s raced another", db.ErrRetry, e.Key)
		}
		return fmt.Errorf("invest: record revenue event %s: %w", e.Key, err)
	}
	return nil
}

// one reads one investment by query; false when there is none.
func one(ctx context.Context, c db.Conn, query string, arg any) (Investment, bool, error) {
	row, ok, err := db.FirstRow[Investment](ctx, c, query, arg)
	if err != nil {
		return Investment{}, false, fmt.Errorf("invest: investment: %w", err)
	}
	return row, ok, nil
}

// InvestmentByID returns an investment; false when there is none.
func InvestmentByID(ctx context.Context, c db.Conn, id int64) (Investment, bool, error) {
	return one(ctx, c, `SELECT * FROM investments WHERE id = ?`, id)
}

// InvestmentByClaimHash returns the investment of a claim key hash;
// false when there is none.
func InvestmentByClaimHash(ctx context.Context, c db.Conn, hash string) (Investment, bool, error) {
	return one(ctx, c, `SELECT * FROM investments WHERE claim_key_hash = ?`, hash)
}

// PaidOf lists an offering's paid investments, oldest first.
func PaidOf(ctx context.Context, c db.Conn, offeringID int64, limit int) ([]Investment, error) {
	var out []Investment
	err := c.Gorm(ctx).Raw(`SELECT * FROM investments WHERE offering_id = ? AND state <> ?
		ORDER BY activated_at, id LIMIT ?`, offeringID, Pending, limit).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("invest: investments of %d: %w", offeringID, err)
	}
	return out, nil
}

// EventsOf lists an offering's revenue events, newest first.
func EventsOf(ctx context.Context, c db.Conn, offeringID int64, limit int) ([]Event, error) {
	var out []Event
	err := c.Gorm(ctx).Raw(`SELECT * FROM revenue_events WHERE offering_id = ? ORDER BY id DESC LIMIT ?`, offeringID, limit).
		Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("invest: revenue events of %d: %w", offeringID, err)
	}
	return out, nil
}

// SetPayout sets an investment's standing payout address and threshold.
func SetPayout(ctx context.Context, c db.Conn, id int64, destination string, threshold money.Msat) error {
	err := c.Gorm(ctx).Exec(`UPDATE investments SET payout_destination = ?, payout_threshold_msat = ? WHERE id = ?`,
		destination, threshold, id).Error
	if err != nil {
		return fmt.Errorf("invest: payout address of %d: %w", id, err)
	}
	return nil
}

// Standing lists the investments with a standing payout address among
// ids (nil: all of them, by id).
func Standing(ctx context.Context, c db.Conn, ids []int64) ([]Investment, error) {
	var out []Investment
	if ids == nil {
		if err := c.Gorm(ctx).Raw(`SELECT * FROM investments WHERE payout_destination <> '' ORDER BY id`).Scan(&out).Error; err != nil {
			return nil, fmt.Errorf("invest: standing payouts: %w", err)
		}
		return out, nil
	}
	for start := 0; start < len(ids); start += 1000 {
		var chunk []Investment
		err := c.Gorm(ctx).Raw(`SELECT * FROM investments WHERE id IN ? AND payout_destination <> ''`,
			ids[start:min(start+1000, len(ids))]).Scan(&chunk).Error
		if err != nil {
			return nil, fmt.Errorf("invest: standing payouts: %w", err)
		}
		out = append(out, chunk...)
	}
	return out, nil
}

// EventTotals sums an offering's revenue events: all revenue, the part
// shared with investors, and how many events.
func EventTotals(ctx context.Context, c db.Conn, offeringID int64) (revenue, shared money.Msat, n int64, err error) {
	var row struct {
		Revenue, Shared, N int64
	}
	err = c.Gorm(ctx).Raw(`SELECT COALESCE(SUM(amount_msat), 0) AS revenue, COALESCE(SUM(investors_msat), 0) AS shared,
		COUNT(*) AS n FROM revenue_events WHERE offering_id = ?`, offeringID).Scan(&row).Error
	if err != nil {
		return 0, 0, 0, fmt.Errorf("invest: revenue of %d: %w", offeringID, err)
	}
	return money.Msat(row.Revenue), money.Msat(row.Shared), row.N, nil
}

// ByKeys reads the offering's revenue events with those keys and its
// paid investments with those payment hashes.
func ByKeys(ctx context.Context, c db.Conn, offeringID int64, eventKeys, hashes []string) ([]Event, []Investment, error) {
	var evs []Event
	var invs []Investment
	if len(eventKeys) > 0 {
		err := c.Gorm(ctx).Raw(`SELECT * FROM revenue_events WHERE offering_id = ? AND key IN ?`, offeringID, eventKeys).Scan(&evs).Error
		if err != nil {
			return nil, nil, fmt.Errorf("invest: revenue events of %d: %w", offeringID, err)
		}
	}
	if len(hashes) > 0 {
		err := c.Gorm(ctx).Raw(`SELECT * FROM investments WHERE offering_id = ? AND payment_hash IN ? AND state <> ?`,
			offeringID, hashes, Pending).Scan(&invs).Error
		if err != nil {
			return nil, nil, fmt.Errorf("invest: investments of %d: %w", offeringID, err)
		}
	}
	return evs, invs, nil
}

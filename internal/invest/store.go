package invest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/money"
)

// InvestmentState is where an investment stands.
type InvestmentState string

const (
	Pending InvestmentState = "pending" // invoice not paid yet
	Active  InvestmentState = "active"  // earning
	Capped  InvestmentState = "capped"  // earned its cap
)

// Investment is one investment and the terms it was made on.
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

// store is the only code that reads or writes this package's tables.
type store struct{ db *db.DB }

func (s *Service) store() store { return store{s.db} }

// forUpdate locks the rows read, on PostgreSQL (SQLite's immediate
// transactions hold the whole file already).
func (st store) forUpdate(q *gorm.DB) *gorm.DB {
	if st.db.Dialect == db.Postgres {
		return q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	return q
}

func (st store) saveTerms(ctx context.Context, t Terms) error {
	err := st.db.Gorm(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "offering_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"share_bps", "cap_bps", "min_msat", "max_msat", "raise_limit_msat", "open", "updated_at"}),
	}).Create(&t).Error
	if err != nil {
		return fmt.Errorf("invest: save terms of %d: %w", t.OfferingID, err)
	}
	return nil
}

func (st store) terms(ctx context.Context, q *gorm.DB, offeringID int64) (Terms, error) {
	var t Terms
	res := q.WithContext(ctx).Where("offering_id = ?", offeringID).Limit(1).Find(&t)
	if res.Error != nil {
		return Terms{}, fmt.Errorf("invest: terms of %d: %w", offeringID, res.Error)
	}
	if res.RowsAffected == 0 {
		return Terms{}, apperr.New(apperr.NotFound, "This offering is not open to investment.")
	}
	return t, nil
}

// lockRound locks the offering's terms row for the rest of tx: every
// writer of an offering's investments takes it first, so they queue
// rather than deadlock.
func (st store) lockRound(ctx context.Context, tx *gorm.DB, offeringID int64) error {
	var ids []int64
	if err := st.forUpdate(tx.WithContext(ctx).Model(&Terms{})).Where("offering_id = ?", offeringID).Pluck("offering_id", &ids).Error; err != nil {
		return fmt.Errorf("invest: lock round of %d: %w", offeringID, err)
	}
	return nil
}

// raised is the principal an offering's round has taken or is awaiting:
// active and capped investments, and pending ones not yet expired.
func (st store) raised(ctx context.Context, q *gorm.DB, offeringID int64, now time.Time) (money.Msat, error) {
	var sum int64
	err := q.WithContext(ctx).Model(&Investment{}).
		Where("offering_id = ? AND (state <> ? OR expires_at > ?)", offeringID, Pending, now).
		Select("COALESCE(SUM(principal_msat), 0)").Scan(&sum).Error
	if err != nil {
		return 0, fmt.Errorf("invest: raised by %d: %w", offeringID, err)
	}
	return money.Msat(sum), nil
}

// settledPrincipal is the principal of active and capped investments.
func (st store) settledPrincipal(ctx context.Context, offeringID int64) (money.Msat, int64, error) {
	var row struct {
		Sum   int64
		Count int64
	}
	err := st.db.Gorm(ctx).Model(&Investment{}).Where("offering_id = ? AND state <> ?", offeringID, Pending).
		Select("COALESCE(SUM(principal_msat), 0) AS sum, COUNT(*) AS count").Scan(&row).Error
	if err != nil {
		return 0, 0, fmt.Errorf("invest: principal of %d: %w", offeringID, err)
	}
	return money.Msat(row.Sum), row.Count, nil
}

func (st store) insertInvestment(ctx context.Context, tx *gorm.DB, inv *Investment) error {
	if err := tx.WithContext(ctx).Create(inv).Error; err != nil {
		return fmt.Errorf("invest: record investment: %w", err)
	}
	return nil
}

// activate makes the pending investment paid by paymentHash active with
// the principal that arrived; it reports false when there is none (or it
// was activated before).
func (st store) activate(ctx context.Context, tx *gorm.DB, paymentHash string, principal money.Msat, at time.Time) (bool, error) {
	var inv Investment
	res := st.forUpdate(tx.WithContext(ctx)).Where("payment_hash = ?", paymentHash).Limit(1).Find(&inv)
	if res.Error != nil {
		return false, fmt.Errorf("invest: investment of %s: %w", paymentHash, res.Error)
	}
	if res.RowsAffected == 0 || inv.State != Pending {
		return false, nil
	}
	err := tx.WithContext(ctx).Model(&Investment{}).Where("id = ? AND state = ?", inv.ID, Pending).Updates(map[string]any{
		"state": Active, "principal_msat": principal, "cap_msat": Cap(principal, inv.CapBps), "activated_at": at,
	}).Error
	if err != nil {
		return false, fmt.Errorf("invest: activate %d: %w", inv.ID, err)
	}
	return true, nil
}

func (st store) activeStakes(ctx context.Context, tx *gorm.DB, offeringID int64) ([]stake, error) {
	rows, err := tx.WithContext(ctx).Model(&Investment{}).
		Select("id", "principal_msat", "share_bps", "cap_msat", "returned_msat").
		Where("offering_id = ? AND state = ?", offeringID, Active).Order("activated_at, id").Rows()
	if err != nil {
		return nil, fmt.Errorf("invest: active investments of %d: %w", offeringID, err)
	}
	defer rows.Close()
	var out []stake
	for rows.Next() {
		var s stake
		var capMsat, returned int64
		if err := rows.Scan(&s.id, &s.principal, &s.shareBps, &capMsat, &returned); err != nil {
			return nil, fmt.Errorf("invest: active investments of %d: %w", offeringID, err)
		}
		s.room = money.Msat(capMsat - returned)
		out = append(out, s)
	}
	return out, rows.Err()
}

// addReturns adds each share to its investment's returns, capping those
// that reach their cap, in multi-row statements.
func (st store) addReturns(ctx context.Context, tx *gorm.DB, parts []Share) error {
	const chunkRows = 1000
	for start := 0; start < len(parts); start += chunkRows {
		chunk := parts[start:min(start+chunkRows, len(parts))]
		var sb strings.Builder
		sb.WriteString(`UPDATE investments SET returned_msat = investments.returned_msat + v.column2,
			state = CASE WHEN investments.returned_msat + v.column2 >= investments.cap_msat THEN 'capped' ELSE investments.state END
			FROM (VALUES `)
		args := make([]any, 0, 2*len(chunk))
		for i, p := range chunk {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(CAST(? AS BIGINT), CAST(? AS BIGINT))")
			args = append(args, p.InvestmentID, int64(p.Amount))
		}
		sb.WriteString(") AS v WHERE investments.id = v.column1 AND investments.state = 'active'")
		res := tx.WithContext(ctx).Exec(sb.String(), args...)
		if res.Error != nil {
			return fmt.Errorf("invest: add returns to %d investments: %w", len(chunk), res.Error)
		}
		if res.RowsAffected != int64(len(chunk)) {
			return fmt.Errorf("invest: add returns: %d of %d investments active", res.RowsAffected, len(chunk))
		}
	}
	return nil
}

func (st store) eventByKey(ctx context.Context, tx *gorm.DB, key string) (Event, bool, error) {
	var e Event
	res := tx.WithContext(ctx).Where("key = ?", key).Limit(1).Find(&e)
	if res.Error != nil {
		return Event{}, false, fmt.Errorf("invest: revenue event %s: %w", key, res.Error)
	}
	return e, res.RowsAffected > 0, nil
}

func (st store) insertEvent(ctx context.Context, tx *gorm.DB, e *Event) error {
	if err := tx.WithContext(ctx).Create(e).Error; err != nil {
		if errors.Is(db.TranslateError(err), db.ErrDuplicate) {
			return fmt.Errorf("%w: invest: revenue event %s raced another", db.ErrRetry, e.Key)
		}
		return fmt.Errorf("invest: record revenue event %s: %w", e.Key, err)
	}
	return nil
}

func (st store) investment(ctx context.Context, id int64) (Investment, bool, error) {
	var inv Investment
	res := st.db.Gorm(ctx).Where("id = ?", id).Limit(1).Find(&inv)
	if res.Error != nil {
		return Investment{}, false, fmt.Errorf("invest: investment %d: %w", id, res.Error)
	}
	return inv, res.RowsAffected > 0, nil
}

func (st store) byClaimHash(ctx context.Context, hash string) (Investment, bool, error) {
	var inv Investment
	res := st.db.Gorm(ctx).Where("claim_key_hash = ?", hash).Limit(1).Find(&inv)
	if res.Error != nil {
		return Investment{}, false, fmt.Errorf("invest: investment by key: %w", res.Error)
	}
	return inv, res.RowsAffected > 0, nil
}

// ofOffering lists an offering's paid investments, oldest first.
func (st store) ofOffering(ctx context.Context, offeringID int64, limit int) ([]Investment, error) {
	var out []Investment
	err := st.db.Gorm(ctx).Where("offering_id = ? AND state <> ?", offeringID, Pending).
		Order("activated_at, id").Limit(limit).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("invest: investments of %d: %w", offeringID, err)
	}
	return out, nil
}

func (st store) events(ctx context.Context, offeringID int64, limit int) ([]Event, error) {
	var out []Event
	err := st.db.Gorm(ctx).Where("offering_id = ?", offeringID).Order("id DESC").Limit(limit).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("invest: revenue events of %d: %w", offeringID, err)
	}
	return out, nil
}

func (st store) setPayout(ctx context.Context, id int64, destination string, threshold money.Msat) error {
	err := st.db.Gorm(ctx).Model(&Investment{}).Where("id = ?", id).
		Updates(map[string]any{"payout_destination": destination, "payout_threshold_msat": threshold}).Error
	if err != nil {
		return fmt.Errorf("invest: payout address of %d: %w", id, err)
	}
	return nil
}

// standing lists the investments with a standing payout address among
// ids (nil: all of them).
func (st store) standing(ctx context.Context, ids []int64) ([]Investment, error) {
	var out []Investment
	if ids == nil {
		err := st.db.Gorm(ctx).Where("payout_destination <> ''").Order("id").Find(&out).Error
		if err != nil {
			return nil, fmt.Errorf("invest: standing payouts: %w", err)
		}
		return out, nil
	}
	for start := 0; start < len(ids); start += 1000 {
		var chunk []Investment
		err := st.db.Gorm(ctx).Where("id IN ? AND payout_destination <> ''", ids[start:min(start+1000, len(ids))]).Find(&chunk).Error
		if err != nil {
			return nil, fmt.Errorf("invest: standing payouts: %w", err)
		}
		out = append(out, chunk...)
	}
	return out, nil
}

func (st store) eventTotals(ctx context.Context, offeringID int64) (revenue, shared money.Msat, n int64, err error) {
	var row struct {
		Revenue, Shared, N int64
	}
	err = st.db.Gorm(ctx).Model(&Event{}).Where("offering_id = ?", offeringID).
		Select("COALESCE(SUM(amount_msat), 0) AS revenue, COALESCE(SUM(investors_msat), 0) AS shared, COUNT(*) AS n").Scan(&row).Error
	if err != nil {
		return 0, 0, 0, fmt.Errorf("invest: revenue of %d: %w", offeringID, err)
	}
	return money.Msat(row.Revenue), money.Msat(row.Shared), row.N, nil
}

// byKeys reads the offering's revenue events with those keys and its
// paid investments with those payment hashes.
func (st store) byKeys(ctx context.Context, offeringID int64, eventKeys, hashes []string) ([]Event, []Investment, error) {
	var evs []Event
	var invs []Investment
	if len(eventKeys) > 0 {
		if err := st.db.Gorm(ctx).Where("offering_id = ? AND key IN ?", offeringID, eventKeys).Find(&evs).Error; err != nil {
			return nil, nil, fmt.Errorf("invest: revenue events of %d: %w", offeringID, err)
		}
	}
	if len(hashes) > 0 {
		err := st.db.Gorm(ctx).Where("offering_id = ? AND payment_hash IN ? AND state <> ?", offeringID, hashes, Pending).Find(&invs).Error
		if err != nil {
			return nil, nil, fmt.Errorf("invest: investments of %d: %w", offeringID, err)
		}
	}
	return evs, invs, nil
}

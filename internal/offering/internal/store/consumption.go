package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/money"
)

// ConsumptionDay is a row of consumption_days: an offering's runway
// consumed in one UTC day, summing that day's accruals.
type ConsumptionDay struct {
	OfferingID      int64      `gorm:"column:offering_id;primaryKey;autoIncrement:false"`
	Day             string     `gorm:"column:day;primaryKey"`
	AmountMsat      money.Msat `gorm:"column:amount_msat"`
	Postings        int        `gorm:"column:postings"`
	FirstTransferID int64      `gorm:"column:first_transfer_id"`
	LastTransferID  int64      `gorm:"column:last_transfer_id"`
	FirstAt         time.Time  `gorm:"column:first_at"`
	LastAt          time.Time  `gorm:"column:last_at"`
}

func (ConsumptionDay) TableName() string { return "consumption_days" }

// AddConsumedDay adds one accrual (the day's row with one posting) to its
// day. An accrual the day already counts changes nothing: transfer ids
// only grow, so only a later last transfer is added.
func AddConsumedDay(ctx context.Context, c Conn, day ConsumptionDay) error {
	err := c.Gorm(ctx).Clauses(consumedDayUpsert).Create(&day).Error
	if err != nil {
		return fmt.Errorf("offering: consumption of %d on %s: %w", day.OfferingID, day.Day, db.TranslateError(err))
	}
	return nil
}

// consumedDayUpsert adds a day's row to the one there, once per accrual.
var consumedDayUpsert = clause.OnConflict{
	Columns: []clause.Column{{Name: "offering_id"}, {Name: "day"}},
	DoUpdates: clause.Set{
		{Column: clause.Column{Name: "amount_msat"}, Value: gorm.Expr("consumption_days.amount_msat + excluded.amount_msat")},
		{Column: clause.Column{Name: "postings"}, Value: gorm.Expr("consumption_days.postings + 1")},
		{Column: clause.Column{Name: "last_transfer_id"}, Value: gorm.Expr("excluded.last_transfer_id")},
		{Column: clause.Column{Name: "last_at"}, Value: gorm.Expr("excluded.last_at")},
	},
	Where: clause.Where{Exprs: []clause.Expression{clause.Expr{SQL: "consumption_days.last_transfer_id < excluded.last_transfer_id"}}},
}

// consumedDayFirst is a clause that puts AddConsumedDay's upsert in front
// of an UPDATE as a data-modifying WITH (PostgreSQL), so that both run as
// one statement: SetFunding's, on the settlement path.
type consumedDayFirst struct{ day ConsumptionDay }

func (consumedDayFirst) Name() string { return "UPDATE" }

func (w consumedDayFirst) MergeClause(c *clause.Clause) { c.BeforeExpression = w }

func (w consumedDayFirst) Build(b clause.Builder) {
	d := w.day
	b.WriteString("WITH day AS (INSERT ")
	clause.Insert{Table: clause.Table{Name: d.TableName()}}.Build(b)
	b.WriteByte(' ')
	clause.Values{
		Columns: []clause.Column{{Name: "offering_id"}, {Name: "day"}, {Name: "amount_msat"}, {Name: "postings"},
			{Name: "first_transfer_id"}, {Name: "last_transfer_id"}, {Name: "first_at"}, {Name: "last_at"}},
		Values: [][]any{{d.OfferingID, d.Day, d.AmountMsat, d.Postings, d.FirstTransferID, d.LastTransferID, d.FirstAt, d.LastAt}},
	}.Build(b)
	b.WriteString(" ON CONFLICT ")
	consumedDayUpsert.Build(b)
	b.WriteByte(')')
}

// ConsumptionDays returns up to limit days of an offering's consumption
// whose last accrual is older than before (0: no bound), newest first.
func ConsumptionDays(ctx context.Context, c Conn, offeringID int64, limit int, before int64) ([]ConsumptionDay, error) {
	q := c.Gorm(ctx).Where("offering_id = ?", offeringID)
	if before > 0 {
		q = q.Where("last_transfer_id < ?", before)
	}
	var days []ConsumptionDay
	if err := q.Order("last_transfer_id DESC").Limit(limit).Find(&days).Error; err != nil {
		return nil, fmt.Errorf("offering: runway consumed by %d: %w", offeringID, db.TranslateError(err))
	}
	return days, nil
}

// AllConsumptionDays returns every row of consumption_days: for checks,
// not pages.
func AllConsumptionDays(ctx context.Context, c Conn) ([]ConsumptionDay, error) {
	var days []ConsumptionDay
	if err := c.Gorm(ctx).Find(&days).Error; err != nil {
		return nil, fmt.Errorf("offering: read consumption_days: %w", db.TranslateError(err))
	}
	return days, nil
}

// IDsToAccrue returns, by id, the offerings with runway left and no
// accrual posted on day (a UTC date).
func IDsToAccrue(ctx context.Context, c Conn, day string) ([]int64, error) {
	var ids []int64
	// Runway is left at accrued_at exactly when funded_until is later.
	err := c.Gorm(ctx).Model(&Offering{}).
		Where("funded_until > accrued_at AND NOT EXISTS (?)",
			c.Gorm(ctx).Model(&ConsumptionDay{}).Select("1").Where("consumption_days.offering_id = offerings.id AND consumption_days.day = ?", day)).
		Order("id").Pluck("id", &ids).Error
	if err != nil {
		return nil, fmt.Errorf("offering: offerings to accrue: %w", db.TranslateError(err))
	}
	return ids, nil
}

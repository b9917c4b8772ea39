package store

import (
	"context"
	"fmt"
	"time"

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
	err := c.Gorm(ctx).Exec(addConsumedDaySQL, day.OfferingID, day.Day, day.AmountMsat, day.Postings,
		day.FirstTransferID, day.LastTransferID, day.FirstAt, day.LastAt).Error
	if err != nil {
		return fmt.Errorf("offering: consumption of %d on %s: %w", day.OfferingID, day.Day, db.TranslateError(err))
	}
	return nil
}

// addConsumedDaySQL is AddConsumedDay's statement, which SetFunding runs
// inside its own on PostgreSQL.
const addConsumedDaySQL = `INSERT INTO consumption_days
	(offering_id, day, amount_msat, postings, first_transfer_id, last_transfer_id, first_at, last_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (offering_id, day) DO UPDATE SET amount_msat = consumption_days.amount_msat + excluded.amount_msat,
		postings = consumption_days.postings + 1, last_transfer_id = excluded.last_transfer_id, last_at = excluded.last_at
	WHERE consumption_days.last_transfer_id < excluded.last_transfer_id`

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

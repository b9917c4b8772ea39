// Package store holds every statement on the tables of internal/hooks:
// webhooks, webhook_deliveries and webhook_attempts. Go's internal rule
// lets only internal/hooks import it. It speaks GORM's builder only.
package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/keepalive/keepalive/internal/db"
)

// Webhook is a row of webhooks.
type Webhook struct {
	ID               int64      `gorm:"primaryKey"`
	OfferingID       int64      `gorm:"column:offering_id"`
	URL              string     `gorm:"column:url"`
	Events           string     `gorm:"column:events"` // comma-separated
	Secret           string     `gorm:"column:secret"`
	RunwayLowSeconds int64      `gorm:"column:runway_low_seconds"`
	LastState        string     `gorm:"column:last_state"`
	LowSent          bool       `gorm:"column:low_sent"`
	CreatedAt        time.Time  `gorm:"column:created_at"`
	DisabledAt       *time.Time `gorm:"column:disabled_at"`
}

func (Webhook) TableName() string { return "webhooks" }

// Delivery is a row of webhook_deliveries: one message to one webhook.
type Delivery struct {
	ID            int64      `gorm:"primaryKey"`
	MsgID         string     `gorm:"column:msg_id"`
	WebhookID     int64      `gorm:"column:webhook_id"`
	Event         string     `gorm:"column:event"`
	EventKey      string     `gorm:"column:event_key"`
	Payload       string     `gorm:"column:payload"`
	State         string     `gorm:"column:state"`
	Attempts      int        `gorm:"column:attempts"`
	NextAttemptAt time.Time  `gorm:"column:next_attempt_at"`
	DeliveredAt   *time.Time `gorm:"column:delivered_at"`
	LastStatus    int        `gorm:"column:last_status"`
	LastError     string     `gorm:"column:last_error"`
	CreatedAt     time.Time  `gorm:"column:created_at"`
}

func (Delivery) TableName() string { return "webhook_deliveries" }

// Attempt is a row of webhook_attempts: one try at sending a delivery.
type Attempt struct {
	ID         int64     `gorm:"primaryKey"`
	DeliveryID int64     `gorm:"column:delivery_id"`
	At         time.Time `gorm:"column:at"`
	StatusCode int       `gorm:"column:status_code"`
	Error      string    `gorm:"column:error"`
	DurationMs int64     `gorm:"column:duration_ms"`
}

func (Attempt) TableName() string { return "webhook_attempts" }

// live selects the webhooks not deleted.
func live(ctx context.Context, c db.Conn) *gorm.DB {
	return c.Gorm(ctx).Model(&Webhook{}).Where("disabled_at IS NULL")
}

// LiveWebhooks returns every webhook not deleted, oldest first.
func LiveWebhooks(ctx context.Context, c db.Conn) ([]Webhook, error) {
	var rows []Webhook
	if err := live(ctx, c).Order("id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("webhooks: %w", err)
	}
	return rows, nil
}

// WebhooksOf returns an offering's webhooks not deleted, oldest first.
func WebhooksOf(ctx context.Context, c db.Conn, offeringID int64) ([]Webhook, error) {
	var rows []Webhook
	if err := live(ctx, c).Where("offering_id = ?", offeringID).Order("id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("webhooks of %d: %w", offeringID, err)
	}
	return rows, nil
}

// CountOf counts an offering's webhooks not deleted.
func CountOf(ctx context.Context, c db.Conn, offeringID int64) (int64, error) {
	var n int64
	if err := live(ctx, c).Where("offering_id = ?", offeringID).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("count webhooks of %d: %w", offeringID, err)
	}
	return n, nil
}

// InsertWebhook adds w and sets its ID.
func InsertWebhook(ctx context.Context, c db.Conn, w *Webhook) error {
	if err := c.Gorm(ctx).Create(w).Error; err != nil {
		return fmt.Errorf("insert webhook: %w", err)
	}
	return nil
}

// Disable marks the offering's webhook id deleted at at, and reports
// whether there was such a live webhook.
func Disable(ctx context.Context, c db.Conn, offeringID, id int64, at time.Time) (bool, error) {
	res := live(ctx, c).Where("id = ? AND offering_id = ?", id, offeringID).Update("disabled_at", at)
	if res.Error != nil {
		return false, fmt.Errorf("delete webhook %d: %w", id, res.Error)
	}
	return res.RowsAffected > 0, nil
}

// MoveState sets a live webhook's last_state and low_sent if they are
// still what the caller read (from), and reports whether they were.
func MoveState(ctx context.Context, c db.Conn, from Webhook, state string, lowSent bool) (bool, error) {
	res := live(ctx, c).Where("id = ? AND last_state = ? AND low_sent = ?", from.ID, from.LastState, from.LowSent).
		Updates(map[string]any{"last_state": state, "low_sent": lowSent})
	if res.Error != nil {
		return false, fmt.Errorf("move webhook %d to %s: %w", from.ID, state, res.Error)
	}
	return res.RowsAffected > 0, nil
}

// Enqueue adds d unless its webhook already has a delivery with its
// event key.
func Enqueue(ctx context.Context, c db.Conn, d Delivery) error {
	err := c.Gorm(ctx).Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "webhook_id"}, {Name: "event_key"}}, DoNothing: true}).
		Create(&d).Error
	if err != nil {
		return fmt.Errorf("enqueue %s for webhook %d: %w", d.EventKey, d.WebhookID, err)
	}
	return nil
}

// KeysEnqueued returns which of keys the webhook has a delivery for.
func KeysEnqueued(ctx context.Context, c db.Conn, webhookID int64, keys []string) ([]string, error) {
	var have []string
	if len(keys) == 0 {
		return nil, nil
	}
	err := c.Gorm(ctx).Model(&Delivery{}).Where("webhook_id = ? AND event_key IN ?", webhookID, keys).Pluck("event_key", &have).Error
	if err != nil {
		return nil, fmt.Errorf("deliveries of webhook %d: %w", webhookID, err)
	}
	return have, nil
}

// Due is a delivery to attempt, with where and how to send it.
type Due struct {
	ID        int64  `gorm:"column:id"`
	MsgID     string `gorm:"column:msg_id"`
	WebhookID int64  `gorm:"column:webhook_id"`
	Payload   string `gorm:"column:payload"`
	Attempts  int    `gorm:"column:attempts"`
	URL       string `gorm:"column:url"`
	Secret    string `gorm:"column:secret"`
}

// DueBy returns at most limit deliveries in state pending whose next
// attempt is at or before now, of live webhooks, the most overdue first.
func DueBy(ctx context.Context, c db.Conn, pending string, now time.Time, limit int) ([]Due, error) {
	var rows []Due
	err := c.Gorm(ctx).Table("webhook_deliveries d").
		Select("d.id, d.msg_id, d.webhook_id, d.payload, d.attempts, w.url, w.secret").
		Joins("JOIN webhooks w ON w.id = d.webhook_id").
		Where("d.state = ? AND d.next_attempt_at <= ? AND w.disabled_at IS NULL", pending, now).
		Order("d.next_attempt_at, d.id").Limit(limit).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("due deliveries: %w", err)
	}
	return rows, nil
}

// Outcome is what an attempt changes on its delivery.
type Outcome struct {
	Attempts      int
	LastStatus    int
	LastError     string
	State         string     // "" leaves the state as it is
	DeliveredAt   *time.Time // nil leaves it unset
	NextAttemptAt *time.Time // nil leaves it as it is
}

// RecordAttempt logs a and applies out to its delivery, if the delivery
// is still in state pending after prevAttempts attempts (c should be a
// transaction, so that the log and the delivery agree).
func RecordAttempt(ctx context.Context, c db.Conn, a Attempt, pending string, prevAttempts int, out Outcome) error {
	if err := c.Gorm(ctx).Create(&a).Error; err != nil {
		return fmt.Errorf("log attempt of delivery %d: %w", a.DeliveryID, err)
	}
	upd := map[string]any{"attempts": out.Attempts, "last_status": out.LastStatus, "last_error": out.LastError}
	if out.State != "" {
		upd["state"] = out.State
	}
	if out.DeliveredAt != nil {
		upd["delivered_at"] = *out.DeliveredAt
	}
	if out.NextAttemptAt != nil {
		upd["next_attempt_at"] = *out.NextAttemptAt
	}
	res := c.Gorm(ctx).Model(&Delivery{}).Where("id = ? AND state = ? AND attempts = ?", a.DeliveryID, pending, prevAttempts).Updates(upd)
	if res.Error != nil {
		return fmt.Errorf("record attempt of delivery %d: %w", a.DeliveryID, res.Error)
	}
	return nil
}

// DeliveriesOfWebhook returns a webhook's latest deliveries, newest first.
func DeliveriesOfWebhook(ctx context.Context, c db.Conn, webhookID int64, limit int) ([]Delivery, error) {
	return latest(c.Gorm(ctx).Where("webhook_id = ?", webhookID), limit)
}

// DeliveriesOfOffering returns the latest deliveries of an offering's
// live webhooks, newest first.
func DeliveriesOfOffering(ctx context.Context, c db.Conn, offeringID int64, limit int) ([]Delivery, error) {
	return latest(c.Gorm(ctx).Where("webhook_id IN (?)", live(ctx, c).Select("id").Where("offering_id = ?", offeringID)), limit)
}

func latest(q *gorm.DB, limit int) ([]Delivery, error) {
	var rows []Delivery
	if err := q.Order("id DESC").Limit(limit).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("deliveries: %w", err)
	}
	return rows, nil
}

// AttemptsOf returns the attempts of the deliveries ids, newest first.
func AttemptsOf(ctx context.Context, c db.Conn, ids []int64) ([]Attempt, error) {
	var rows []Attempt
	if len(ids) == 0 {
		return nil, nil
	}
	if err := c.Gorm(ctx).Where("delivery_id IN ?", ids).Order("id DESC").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("attempts: %w", err)
	}
	return rows, nil
}

// Package store holds the SQL of the demo node: the demo_invoices table
// is read and written here and nowhere else, through GORM's query
// builder. Only the demo package can import it.
package store

import (
	"context"
	"fmt"
	"time"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/lightning"
	"github.com/keepalive/keepalive/internal/money"
)

// Invoice is a row of demo_invoices.
type Invoice struct {
	PaymentHash    string `gorm:"primaryKey"`
	Preimage       string
	PaymentRequest string
	AmountMsat     money.Msat
	PaidMsat       money.Msat
	State          lightning.InvoiceState
	AddIndex       uint64
	SettleIndex    uint64
	CreatedAt      time.Time
	ExpiresAt      time.Time
	SettledAt      *time.Time
}

func (Invoice) TableName() string { return "demo_invoices" }

// Invoices returns every stored invoice in the order they were added.
func Invoices(ctx context.Context, d *db.DB) ([]Invoice, error) {
	var rows []Invoice
	if err := d.Gorm(ctx).Order("add_index").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("demo: load invoices: %w", db.TranslateError(err))
	}
	return rows, nil
}

// Save inserts the invoice's row or replaces the stored one.
func Save(ctx context.Context, d *db.DB, row Invoice) error {
	if err := d.Gorm(ctx).Save(&row).Error; err != nil {
		return fmt.Errorf("demo: save invoice %s: %w", row.PaymentHash, db.TranslateError(err))
	}
	return nil
}

package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/funding/internal/store"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/money"
	"github.com/keepalive/keepalive/internal/offering"
)

// Both INSERTs of an invoice, the one straight through database/sql on
// the pool and the one in a transaction, store every field as the
// invoice has it, on both databases, and a repeated payment hash is
// refused as a duplicate without a row.
func TestInsertInvoiceStoresEveryField(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		l := ledger.New(d, nil)
		offerings := offering.New(d, l, nil)
		name, slug, url := "Site", "site", "https://example.org"
		burn := money.Msat(1_000_000)
		o, _, err := offerings.Create(ctx, offering.Input{Name: &name, Slug: &slug, URL: &url, BurnRateMsatPerHour: &burn})
		if err != nil {
			t.Fatal(err)
		}
		at := time.Date(2026, 11, 23, 12, 0, 0, 123456000, time.UTC)
		mk := func(i int) *store.Invoice {
			return &store.Invoice{PaymentHash: fmt.Sprintf("%064x", i), PaymentRequest: fmt.Sprintf("lnbcrt%d", i),
				Purpose: "donation", OfferingID: o.ID, AmountMsat: money.Msat(1000 * (i + 1)), State: store.InvoiceOpen,
				PayerName: fmt.Sprintf("donor %d", i), PayerMessage: "thanks", Public: i%2 == 0, Via: "api",
				ExpiresAt: at.Add(time.Hour), CreatedAt: at}
		}
		inserts := map[string]func(inv *store.Invoice) error{
			"pool": func(inv *store.Invoice) error { return store.InsertInvoiceNow(ctx, d, inv) },
			"transaction": func(inv *store.Invoice) error {
				return d.Tx(ctx, func(tx db.Tx) error { return store.InsertInvoice(ctx, tx, inv) })
			},
		}
		i := 0
		for how, insert := range inserts {
			for range 3 {
				i++
				want := mk(i)
				if err := insert(want); err != nil {
					t.Fatalf("%s, invoice %d: %v", how, i, err)
				}
				got, ok, err := store.InvoiceByHash(ctx, d, want.PaymentHash)
				if err != nil || !ok {
					t.Fatalf("%s, invoice %d: found %v, %v", how, i, ok, err)
				}
				if got.ID == 0 || got.ID != want.ID || got.PaymentRequest != want.PaymentRequest || got.Purpose != want.Purpose ||
					got.OfferingID != want.OfferingID || got.AmountMsat != want.AmountMsat || got.State != want.State ||
					got.PayerName != want.PayerName || got.PayerMessage != want.PayerMessage || got.Public != want.Public ||
					got.Via != want.Via || !got.ExpiresAt.Equal(want.ExpiresAt) || !got.CreatedAt.Equal(want.CreatedAt) ||
					got.SettledAt != nil || got.SettleIndex != nil {
					t.Fatalf("%s: stored %+v, want %+v", how, got, *want)
				}
			}
			if err := insert(mk(i)); !errors.Is(err, db.ErrDuplicate) {
				t.Fatalf("%s: repeated payment hash: err = %v, want a duplicate", how, err)
			}
		}
		var n int64
		d.Gorm(ctx).Table("invoices").Count(&n)
		if n != int64(i) {
			t.Fatalf("%d invoices stored, want %d", n, i)
		}
	})
}

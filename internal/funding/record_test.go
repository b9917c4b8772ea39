package funding

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/money"
	"github.com/keepalive/keepalive/internal/offering"
)

// The hand-written INSERT stores every field as the invoice has it, on
// both databases, and a repeated payment hash is refused without a row.
func TestRecordInvoiceStoresEveryField(t *testing.T) {
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
		s := New(d, l, nil, offerings, Limits{}, nil, nil)
		at := time.Date(2026, 11, 23, 12, 0, 0, 123456000, time.UTC)
		mk := func(i int) *Invoice {
			return &Invoice{PaymentHash: fmt.Sprintf("%064x", i), PaymentRequest: fmt.Sprintf("lnbcrt%d", i),
				Purpose: PurposeDonation, OfferingID: o.ID, AmountMsat: money.Msat(1000 * (i + 1)), State: InvoiceOpen,
				PayerName: fmt.Sprintf("donor %d", i), PayerMessage: "thanks", Public: i%2 == 0, Via: "api",
				ExpiresAt: at.Add(time.Hour), CreatedAt: at}
		}
		for i := 1; i <= 5; i++ {
			want := mk(i)
			if err := s.recordInvoice(ctx, want); err != nil {
				t.Fatalf("invoice %d: %v", i, err)
			}
			got, err := s.Invoice(ctx, want.PaymentHash)
			if err != nil {
				t.Fatal(err)
			}
			if got.ID == 0 || got.ID != want.ID || got.PaymentRequest != want.PaymentRequest || got.Purpose != want.Purpose ||
				got.OfferingID != want.OfferingID || got.AmountMsat != want.AmountMsat || got.State != want.State ||
				got.PayerName != want.PayerName || got.PayerMessage != want.PayerMessage || got.Public != want.Public ||
				got.Via != want.Via || !got.ExpiresAt.Equal(want.ExpiresAt) || !got.CreatedAt.Equal(want.CreatedAt) {
				t.Fatalf("stored %+v, want %+v", got, *want)
			}
		}
		if err := s.recordInvoice(ctx, mk(3)); !errors.Is(db.TranslateError(err), db.ErrDuplicate) {
			t.Fatalf("repeated payment hash: err = %v, want a duplicate", err)
		}
		var n int64
		d.Gorm(context.Background()).Table("invoices").Count(&n)
		if n != 5 {
			t.Fatalf("%d invoices stored, want 5", n)
		}
	})
}

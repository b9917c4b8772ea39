package funding_test

import (
	"context"
	"testing"
	"time"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/funding"
	"github.com/keepalive/keepalive/internal/money"
)

// TestSettleIfPaid: invoices the node settled while the site was not
// listening are credited on request, once, at the node's settle time,
// without moving the stream's cursor past earlier settlements it has yet
// to read; open ones, ones the site did not issue and ones the node does
// not know are left alone; the stream reaching them later changes nothing.
func TestSettleIfPaid(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		earlier, paid, unpaid := f.donate(t, 1_000_000), f.donate(t, 2_000_000), f.donate(t, 3_000_000)
		earlierNI := f.node.settle(hashOf(t, earlier), 4)
		paidAt := f.clock.Now()
		paidNI := f.node.settle(hashOf(t, paid), 5)
		f.clock.Advance(time.Hour) // the site hears of it an hour later

		// An invoice the node lost (it was replaced) holds nothing up.
		lost := f.donate(t, 4_000_000)
		f.node.mu.Lock()
		delete(f.node.invoices, hashOf(t, lost))
		f.node.mu.Unlock()

		hashes := []string{lost.PaymentHash, paid.PaymentHash, unpaid.PaymentHash, "00" + paid.PaymentHash[2:]}
		for range 2 {
			if err := f.funding.SettleIfPaid(ctx, hashes); err != nil {
				t.Fatal(err)
			}
		}
		got, _ := f.funding.Invoice(ctx, paid.PaymentHash)
		if got.State != funding.InvoiceSettled || got.PaidMsat != 2_000_000 || got.SettledAt == nil || !got.SettledAt.Equal(paidAt) {
			t.Fatalf("paid invoice after SettleIfPaid: %+v, want settled at %v", got, paidAt)
		}
		if got, _ := f.funding.Invoice(ctx, unpaid.PaymentHash); got.State != funding.InvoiceOpen {
			t.Fatalf("unpaid invoice: %s", got.State)
		}
		if idx, _ := f.funding.SettleIndex(ctx); idx != 0 {
			t.Fatalf("cursor moved to %d: the stream would skip settle index 4", idx)
		}
		if err := f.funding.Settle(ctx, earlierNI); err != nil {
			t.Fatal(err)
		}
		if err := f.funding.Settle(ctx, paidNI); err != nil {
			t.Fatal(err)
		}
		if idx, _ := f.funding.SettleIndex(ctx); idx != 5 {
			t.Fatalf("cursor = %d after the stream, want 5", idx)
		}
		if got, _ := f.funding.Invoice(ctx, earlier.PaymentHash); got.State != funding.InvoiceSettled {
			t.Fatalf("earlier invoice: %s", got.State)
		}
		f.check(t) // each settled invoice credited exactly once
	})
}

// TestSettlerSeesTheNodesSettleTime: a purpose's settler is told when the
// node settled the invoice, not when the site credited it.
func TestSettlerSeesTheNodesSettleTime(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		var seen *time.Time
		f.funding.OnSettle(funding.PurposeBid, func(ctx context.Context, tx db.Tx, inv funding.Invoice, paid money.Msat) error {
			seen = inv.SettledAt
			return f.funding.CreditInvoice(ctx, tx, inv, paid)
		})
		inv, err := f.funding.IssueInvoice(ctx, funding.InvoiceRequest{Purpose: funding.PurposeBid, OfferingID: f.offering.ID, Amount: 5_000_000, Expiry: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		paidAt := f.clock.Now()
		ni := f.node.settle(hashOf(t, inv), 1)
		f.clock.Advance(10 * time.Minute)
		if err := f.funding.Settle(ctx, ni); err != nil {
			t.Fatal(err)
		}
		if seen == nil || !seen.Equal(paidAt) {
			t.Fatalf("the settler saw settled_at %v, want the node's %v", seen, paidAt)
		}
		f.check(t)
	})
}

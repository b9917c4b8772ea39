package sponsor_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/funding"
	"github.com/keepalive/keepalive/internal/sponsor"
)

// BenchmarkClearDue10k is BenchmarkClearPeriod10k through the job,
// ClearDue, on PostgreSQL: before clearing, it collects the period's
// 10,000 bid invoices and asks funding which are still open (none are:
// every bid is paid), so the node is not called. It reports the job's
// time and, separately, that check's (check-ms/op), the cost of counting
// bids paid in time but not credited yet.
func BenchmarkClearDue10k(b *testing.B) {
	const n = 10_000
	d := dbtest.Postgres(b)
	ctx := context.Background()
	f := newFixture(b, d)
	benchSettings(b, f)
	var due, check time.Duration
	for i := 0; b.Loop(); i++ {
		start := t0.Truncate(time.Hour).Add(time.Duration(i+1) * time.Hour)
		seedBids(b, f, start, n, i)
		hashes := seedBidInvoices(b, f, start, i)
		f.clock.Advance(start.Add(time.Minute).Sub(f.clock.Now()))
		t := time.Now()
		if err := f.funding.SettleIfPaid(ctx, hashes); err != nil {
			b.Fatal(err)
		}
		check += time.Since(t)
		t = time.Now()
		if cleared, err := f.sponsor.ClearDue(ctx); err != nil || cleared != 1 {
			b.Fatalf("ClearDue = %d, %v", cleared, err)
		}
		due += time.Since(t)
		f.clock.Advance(t0.Sub(f.clock.Now()))
	}
	b.ReportMetric(float64(due.Milliseconds())/float64(b.N), "due-ms/op")
	b.ReportMetric(float64(check.Milliseconds())/float64(b.N), "check-ms/op")
	if err := f.ledger.CheckInvariants(ctx); err != nil {
		b.Fatal(err)
	}
}

// seedBidInvoices gives each bid of the period a settled invoice, as
// settlement would have left it, and returns their payment hashes.
func seedBidInvoices(b *testing.B, f *fixture, start time.Time, round int) []string {
	ctx := context.Background()
	var bids []sponsor.Bid
	if err := f.db.Gorm(ctx).Where("offering_id = ? AND period_start = ?", f.offering.ID, start).Order("id").Find(&bids).Error; err != nil {
		b.Fatal(err)
	}
	invs := make([]funding.Invoice, len(bids))
	links := make([]map[string]any, len(bids))
	hashes := make([]string, len(bids))
	for i, bid := range bids {
		hashes[i] = fmt.Sprintf("%064x", round*1_000_000+i+1)
		invs[i] = funding.Invoice{PaymentHash: hashes[i], PaymentRequest: "lnbcrt" + hashes[i][:20], Purpose: funding.PurposeBid,
			OfferingID: f.offering.ID, AmountMsat: bid.Amount, PaidMsat: bid.Amount, State: funding.InvoiceSettled, Via: "api",
			ExpiresAt: start, SettledAt: bid.SettledAt, CreatedAt: bid.CreatedAt}
		links[i] = map[string]any{"payment_hash": hashes[i], "bid_id": bid.ID, "amount_msat": int64(bid.Amount), "created_at": bid.CreatedAt}
	}
	if err := f.db.Gorm(ctx).CreateInBatches(&invs, 1000).Error; err != nil {
		b.Fatal(err)
	}
	for i := 0; i < len(links); i += 1000 {
		if err := f.db.Gorm(ctx).Table("sponsor_bid_invoices").Create(links[i:min(i+1000, len(links))]).Error; err != nil {
			b.Fatal(err)
		}
	}
	return hashes
}

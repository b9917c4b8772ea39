package sponsor_test

import (
	"context"
	"testing"
	"time"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/funding"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/lightning"
	"github.com/keepalive/keepalive/internal/sponsor"
)

// TestPaidInTimeCountsHoweverLateTheSiteHears: a bid is paid (the node
// settles its invoice) before its period starts, but the site hears of it
// only after the start: its settlement stream was behind (credited late),
// or it was down and clears before the stream catches up (never credited
// by the stream before clearing). Either way the bid counts, at the
// node's settle time. (A bid invoice expires when its period starts, so
// the node takes no payment after.)
func TestPaidInTimeCountsHoweverLateTheSiteHears(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d)
		f.enable(t)
		nodePay := func(p sponsor.Placed) lightning.Invoice {
			t.Helper()
			h, err := lightning.ParseHash(p.Invoice.PaymentHash)
			if err != nil {
				t.Fatal(err)
			}
			ni, err := f.node.Pay(ctx, h)
			if err != nil {
				t.Fatal(err)
			}
			return ni
		}
		late := f.bid(t, sat(9000), "StreamLate", false)
		down := f.bid(t, sat(8000), "SiteDown", false)
		f.clock.Advance(10 * time.Minute)
		lateNI := nodePay(late)
		f.clock.Advance(10 * time.Minute)
		downAt := f.clock.Now()
		nodePay(down) // the site never hears of it from the stream

		start, _ := time.Parse(time.RFC3339, period)
		f.clock.Advance(start.Add(time.Minute).Sub(f.clock.Now()))
		if err := f.funding.Settle(ctx, lateNI); err != nil {
			t.Fatal(err)
		}
		if n, err := f.sponsor.ClearDue(ctx); err != nil || n != 1 {
			t.Fatalf("ClearDue = %d, %v", n, err)
		}
		rec, err := f.sponsor.PeriodRecord(ctx, f.offering, period)
		if err != nil {
			t.Fatal(err)
		}
		if len(rec.Bids) != 2 || len(rec.Winners) != 2 || rec.Winners[0].Bid != late.Bid.PublicID || rec.Winners[1].Bid != down.Bid.PublicID {
			t.Fatalf("record: bids %+v, winners %+v; want the two bids paid in time", rec.Bids, rec.Winners)
		}
		if !rec.Bids[1].SettledAt.Equal(downAt) && !rec.Bids[0].SettledAt.Equal(downAt) {
			t.Errorf("settled_at %v / %v; the node settled the second at %v", rec.Bids[0].SettledAt, rec.Bids[1].SettledAt, downAt)
		}
		inv, err := f.funding.Invoice(ctx, down.Invoice.PaymentHash)
		if err != nil || inv.State != funding.InvoiceSettled || f.transfersOf(t, "invoice:"+down.Invoice.PaymentHash) != 1 {
			t.Fatalf("the bid paid while the site was down: %+v, %v", inv, err)
		}
		if got := f.balance(t, ledger.OfferingEscrow(f.offering.ID)); got != 0 {
			t.Errorf("escrow %s after clearing", got)
		}
		f.check(t)
	})
}

// TestClockSkew: with Config.ClockSkew the sponsorship clock runs that far
// ahead, and a node's settle time is read on the same clock: a bid paid
// (by the node's wall clock) before the skewed start counts.
func TestClockSkew(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d)
		f.enable(t)
		p := f.bid(t, sat(5000), "Skewed", false)
		h, _ := lightning.ParseHash(p.Invoice.PaymentHash)
		ni, err := f.node.Pay(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(time.Hour) // the site hears of the payment an hour later
		start, _ := time.Parse(time.RFC3339, period)
		// A second service on the same database whose clock says the period
		// started 10 minutes ago: by it, the bid was paid 50 minutes before.
		skew := start.Add(10 * time.Minute).Sub(f.clock.Now())
		skewed := sponsor.New(f.db, f.ledger, f.offerings, f.funding, f.revenue, sponsor.Config{ClockSkew: skew}, nil, f.clock.Now)
		if got := skewed.Now(); !got.Equal(start.Add(10 * time.Minute)) {
			t.Fatalf("skewed Now = %v", got)
		}
		f.funding.OnSettle(funding.PurposeBid, skewed.SettleInvoice)
		if err := f.funding.Settle(ctx, ni); err != nil {
			t.Fatal(err)
		}
		if n, err := skewed.ClearDue(ctx); err != nil || n != 1 {
			t.Fatalf("ClearDue = %d, %v", n, err)
		}
		rec, err := skewed.PeriodRecord(ctx, f.offering, period)
		if err != nil || len(rec.Winners) != 1 || !rec.Bids[0].SettledAt.Equal(ni.SettledAt.Add(skew)) {
			t.Fatalf("record %+v, %v; want the bid to win, settled at %v", rec, err, ni.SettledAt.Add(skew))
		}
		f.check(t)
	})
}

func (f *fixture) transfersOf(t *testing.T, key string) int64 {
	t.Helper()
	var n int64
	if err := f.db.Gorm(context.Background()).Model(&ledger.Transfer{}).Where("key = ?", key).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

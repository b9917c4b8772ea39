package sponsor_test

import (
	"context"
	"strings"
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
		// The node's time is on a whole second, read as "within that
		// second": the bid counts as settled at its last instant.
		wantAt := downAt.Add(time.Second - time.Microsecond)
		if !rec.Bids[1].SettledAt.Equal(wantAt) && !rec.Bids[0].SettledAt.Equal(wantAt) {
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

// TestSettlementOrderOfEqualBids: bids credited as they are paid keep the
// order the site credited them in, finer than the node's second; a late
// credit does not jump ahead of a bid paid earlier.
func TestSettlementOrderOfEqualBids(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d)
		f.enable(t)
		pay := func(p sponsor.Placed) lightning.Invoice {
			h, _ := lightning.ParseHash(p.Invoice.PaymentHash)
			ni, err := f.node.Pay(ctx, h)
			if err != nil {
				t.Fatal(err)
			}
			ni.SettledAt = ni.SettledAt.Truncate(time.Second) // as lnd reports it
			return ni
		}
		a := f.bid(t, sat(3000), "A", false)
		b := f.bid(t, sat(3000), "B", false)
		c := f.bid(t, sat(3000), "C", false)
		f.clock.Advance(100 * time.Millisecond)
		niA := pay(a)
		f.clock.Advance(100 * time.Millisecond)
		niB := pay(b)
		niC := pay(c) // same second as B, credited only much later
		f.clock.Advance(200 * time.Millisecond)
		for _, ni := range []lightning.Invoice{niB, niA} { // B credited before A, in the same second
			if err := f.funding.Settle(ctx, ni); err != nil {
				t.Fatal(err)
			}
			f.clock.Advance(10 * time.Millisecond)
		}
		f.clock.Advance(time.Hour)
		if err := f.funding.Settle(ctx, niC); err != nil {
			t.Fatal(err)
		}
		start, _ := time.Parse(time.RFC3339, period)
		f.clock.Advance(start.Add(time.Minute).Sub(f.clock.Now()))
		if _, err := f.sponsor.ClearDue(ctx); err != nil {
			t.Fatal(err)
		}
		rec, err := f.sponsor.PeriodRecord(ctx, f.offering, period)
		if err != nil {
			t.Fatal(err)
		}
		var order []string
		for _, w := range rec.Winners {
			order = append(order, w.Display.Name)
		}
		if strings.Join(order, "") != "BAC" {
			t.Errorf("slots go to %v, want B, A (credited in that order), then C (credited an hour late)", order)
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
		wantAt := ni.SettledAt.Add(skew + time.Second - time.Microsecond) // to the second, like lnd
		if err != nil || len(rec.Winners) != 1 || !rec.Bids[0].SettledAt.Equal(wantAt) {
			t.Fatalf("record %+v, %v; want the bid to win, settled at %v", rec, err, wantAt)
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

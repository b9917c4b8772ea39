package invest_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/clocktest"
	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/funding"
	"github.com/keepalive/keepalive/internal/invest"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/lightning"
	"github.com/keepalive/keepalive/internal/lightning/demo"
	"github.com/keepalive/keepalive/internal/money"
	"github.com/keepalive/keepalive/internal/offering"
)

type fixture struct {
	db        *db.DB
	clock     *clocktest.Clock
	node      *demo.Node // the site's node
	payee     *demo.Node // someone else's: investors withdraw to it
	ledger    *ledger.Ledger
	offerings *offering.Service
	funding   *funding.Service
	invest    *invest.Service
	offering  offering.Offering
}

func newFixture(t testing.TB, d *db.DB) *fixture {
	t.Helper()
	c := clocktest.New(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	l := ledger.New(d, c.Now)
	offerings := offering.New(d, l, nil, offering.WithClock(c.Now), offering.WithStatusTTL(0))
	node := demo.New(demo.WithClock(c.Now))
	f := funding.New(d, l, node, offerings, funding.Limits{MinDonation: 1_000, MaxDonation: 100_000_000_000}, nil, c.Now)
	inv := invest.New(d, l, offerings, f, invest.WithClock(c.Now))
	name, slug, url := "Site", "site", "https://example.org"
	burn := money.Msat(1_000_000)
	o, _, err := offerings.Create(context.Background(), offering.Input{Name: &name, Slug: &slug, URL: &url, BurnRateMsatPerHour: &burn})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{db: d, clock: c, node: node, payee: demo.New(demo.WithClock(c.Now)), ledger: l, offerings: offerings,
		funding: f, invest: inv, offering: o}
}

// check asserts the ledger's invariants and the investments' own: every
// investment's returns equal what its payable account received, never
// above its cap, and capped exactly when they reach it.
func (f *fixture) check(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	if err := f.ledger.CheckInvariants(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.db.Snapshot(ctx, func(tx db.Tx) error { return offering.CheckConsumption(ctx, f.ledger, tx) }); err != nil {
		t.Fatal(err)
	}
	var invs []invest.Investment
	f.db.Gorm(ctx).Order("id").Find(&invs)
	for _, inv := range invs {
		a, err := f.ledger.Account(ctx, ledger.InvestmentPayable(inv.ID))
		if err != nil {
			t.Fatal(err)
		}
		if a.CreditsPosted != inv.ReturnedMsat || inv.ReturnedMsat > inv.CapMsat {
			t.Fatalf("investment %d: returned %d, payable received %d, cap %d", inv.ID, inv.ReturnedMsat, a.CreditsPosted, inv.CapMsat)
		}
		if (inv.State == invest.Capped) != (inv.ReturnedMsat == inv.CapMsat && inv.State != invest.Pending) {
			t.Fatalf("investment %d: state %s with %d of %d returned", inv.ID, inv.State, inv.ReturnedMsat, inv.CapMsat)
		}
	}
	// Every revenue event moved exactly its amount.
	var evs []invest.Event
	f.db.Gorm(ctx).Find(&evs)
	for _, e := range evs {
		var sum int64
		f.db.Gorm(ctx).Table("transfers").Where("key LIKE ?", e.Key+"/%").Select("COALESCE(SUM(amount_msat), 0)").Scan(&sum)
		if money.Msat(sum) != e.AmountMsat || e.InvestorsMsat+e.RunwayMsat != e.AmountMsat {
			t.Fatalf("revenue event %s: %d moved of %d", e.Key, sum, e.AmountMsat)
		}
	}
}

func (f *fixture) setTerms(t testing.TB, share, capBps int, minSats, maxSats, limitSats int64) invest.Terms {
	t.Helper()
	lo, hi, lim := money.MustSats(minSats), money.MustSats(maxSats), money.MustSats(limitSats)
	terms, err := f.invest.SetTerms(context.Background(), f.offering.ID, invest.TermsInput{
		ShareBps: &share, CapBps: &capBps, MinMsat: &lo, MaxMsat: &hi, RaiseLimitMsat: &lim})
	if err != nil {
		t.Fatal(err)
	}
	return terms
}

// pay settles an invoice the site issued, as the settlement stream would.
func (f *fixture) pay(t *testing.T, inv funding.Invoice) {
	t.Helper()
	h, err := lightning.ParseHash(inv.PaymentHash)
	if err != nil {
		t.Fatal(err)
	}
	ni, err := f.node.Pay(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.funding.Settle(context.Background(), ni); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) investPaid(t *testing.T, sats int64) invest.Made {
	t.Helper()
	m, err := f.invest.Invest(context.Background(), invest.InvestRequest{Slug: "site", Amount: money.MustSats(sats)})
	if err != nil {
		t.Fatal(err)
	}
	f.pay(t, m.Invoice)
	return m
}

func (f *fixture) revenue(t *testing.T, sats int64) {
	t.Helper()
	rep, err := f.invest.ReportRevenue(context.Background(), f.offering, invest.RevenueRequest{Amount: money.MustSats(sats), Note: "ads"})
	if err != nil {
		t.Fatal(err)
	}
	f.pay(t, *rep.Invoice)
}

func (f *fixture) position(t *testing.T, id int64) invest.Position {
	t.Helper()
	inv, err := f.invest.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.invest.Position(context.Background(), inv)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// waitPayout runs the payout worker until the payout is finished.
func (f *fixture) waitPayout(t *testing.T, hash string) funding.Payout {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < 200; i++ {
		if err := f.funding.ProcessPending(ctx); err != nil {
			t.Fatal(err)
		}
		p, err := f.funding.Payout(ctx, hash)
		if err != nil {
			t.Fatal(err)
		}
		if p.State != funding.PayoutPending {
			return p
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("payout %s still pending", hash)
	return funding.Payout{}
}

func (f *fixture) payeeInvoice(t *testing.T, amount money.Msat) string {
	t.Helper()
	inv, err := f.payee.CreateInvoice(context.Background(), lightning.CreateInvoiceRequest{AmountMsat: amount, Expiry: time.Hour, Memo: "returns"})
	if err != nil {
		t.Fatal(err)
	}
	return inv.PaymentRequest
}

func (f *fixture) runway(t *testing.T) money.Msat {
	t.Helper()
	b, err := f.ledger.Balance(context.Background(), ledger.OfferingRunway(f.offering.ID))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestInvestorJourney: terms → two investments → an owner's revenue
// invoice settles → split → one investor withdraws → more revenue until
// both are capped → the excess lands in the runway.
func TestInvestorJourney(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		f.setTerms(t, 5000, 15000, 1_000, 1_000_000, 500_000)
		a := f.investPaid(t, 100_000)
		b := f.investPaid(t, 300_000)
		f.check(t)
		if got := f.runway(t); got != money.MustSats(400_000) {
			t.Fatalf("runway after two investments = %s", got)
		}
		for _, m := range []invest.Made{a, b} {
			if p := f.position(t, m.Investment.ID); p.State != invest.Active || p.CapMsat != money.MustSats(150_000)*money.Msat(m.Investment.PrincipalMsat/money.MustSats(100_000)) {
				t.Fatalf("investment %d: %+v", m.Investment.ID, p.Investment)
			}
		}

		// 80,000 sats of revenue: 40,000 to investors, 1:3.
		runwayBefore := f.runway(t)
		f.revenue(t, 80_000)
		f.check(t)
		if pa, pb := f.position(t, a.Investment.ID), f.position(t, b.Investment.ID); pa.PayableMsat != money.MustSats(10_000) || pb.PayableMsat != money.MustSats(30_000) {
			t.Fatalf("payable after the first revenue: %s and %s", pa.PayableMsat, pb.PayableMsat)
		}
		if got := f.runway(t) - runwayBefore; got != money.MustSats(40_000) {
			t.Fatalf("runway grew by %s, want 40,000 sats", got)
		}

		// A withdraws what it can to an invoice for 9,000 sats.
		pr := f.payeeInvoice(t, money.MustSats(9_000))
		invA, _ := f.invest.Get(ctx, a.Investment.ID)
		p, err := f.invest.Withdraw(ctx, invA, pr)
		if err != nil {
			t.Fatal(err)
		}
		if done := f.waitPayout(t, p.PaymentHash); done.State != funding.PayoutSucceeded {
			t.Fatalf("payout: %+v", done)
		}
		f.check(t)
		pa := f.position(t, a.Investment.ID)
		if pa.WithdrawnMsat != money.MustSats(9_000)+done(t, f, p.PaymentHash).FeeMsat || pa.PayableMsat != money.MustSats(10_000)-pa.WithdrawnMsat {
			t.Fatalf("after withdrawing: %+v", pa)
		}

		// Revenue until both are capped: caps are 150,000 and 450,000 sats,
		// 600,000 in all; investors take half of each event.
		for i := 0; i < 6; i++ {
			f.revenue(t, 250_000)
			f.check(t)
		}
		pa, pb := f.position(t, a.Investment.ID), f.position(t, b.Investment.ID)
		if pa.State != invest.Capped || pb.State != invest.Capped || pa.ReturnedMsat != pa.CapMsat || pb.ReturnedMsat != pb.CapMsat {
			t.Fatalf("after the revenue: %+v / %+v", pa.Investment, pb.Investment)
		}
		// Everything that was not returned went to the runway.
		var evs []invest.Event
		d.Gorm(ctx).Find(&evs)
		var total, toInvestors money.Msat
		for _, e := range evs {
			total += e.AmountMsat
			toInvestors += e.InvestorsMsat
		}
		if toInvestors != money.MustSats(600_000) || total != money.MustSats(80_000+6*250_000) {
			t.Fatalf("investors got %s of %s", toInvestors, total)
		}
		// Once capped, all of a revenue event is runway.
		before := f.runway(t)
		f.revenue(t, 1_000)
		if got := f.runway(t) - before; got != money.MustSats(1_000) {
			t.Fatalf("runway grew by %s after both were capped", got)
		}
		f.check(t)
	})
}

func done(t *testing.T, f *fixture, hash string) funding.Payout {
	p, err := f.funding.Payout(context.Background(), hash)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRevenueEventPostedTwiceCountsOnce: the same key distributes once,
// also when the settlement is seen again.
func TestRevenueEventPostedTwiceCountsOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		f.setTerms(t, 5000, 15000, 1_000, 1_000_000, 0)
		m := f.investPaid(t, 100_000)
		ev := invest.RevenueEvent{OfferingID: f.offering.ID, Amount: money.MustSats(10_000), Key: "revenue:test-1", From: ledger.Lightning}
		var first invest.Distribution
		for i := 0; i < 3; i++ {
			var got invest.Distribution
			err := d.Tx(ctx, func(tx db.Tx) error {
				var err error
				got, err = f.invest.Distribute(ctx, tx, ev)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				first = got
			} else if fmt.Sprint(got) != fmt.Sprint(first) {
				t.Fatalf("repeat %d: %+v, first %+v", i, got, first)
			}
		}
		if p := f.position(t, m.Investment.ID); p.PayableMsat != money.MustSats(5_000) {
			t.Fatalf("payable = %s after one event posted three times", p.PayableMsat)
		}
		// The same key with another amount is refused.
		ev.Amount++
		err := d.Tx(ctx, func(tx db.Tx) error { _, err := f.invest.Distribute(ctx, tx, ev); return err })
		if apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("reused key: %v", err)
		}
		// A revenue invoice whose settlement is replayed distributes once.
		rep, err := f.invest.ReportRevenue(ctx, f.offering, invest.RevenueRequest{Amount: money.MustSats(2_000)})
		if err != nil {
			t.Fatal(err)
		}
		f.pay(t, *rep.Invoice)
		h, _ := lightning.ParseHash(rep.Invoice.PaymentHash)
		ni, _ := f.node.LookupInvoice(ctx, h)
		if err := f.funding.Settle(ctx, ni); err != nil {
			t.Fatal(err)
		}
		if p := f.position(t, m.Investment.ID); p.PayableMsat != money.MustSats(6_000) {
			t.Fatalf("payable = %s", p.PayableMsat)
		}
		f.check(t)
	})
}

// TestConcurrentWithdrawalsPayOnce: two withdrawals of the same payable
// at once make one payout.
func TestConcurrentWithdrawalsPayOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		f.setTerms(t, 10000, 15000, 1_000, 1_000_000, 0)
		m := f.investPaid(t, 100_000)
		f.revenue(t, 20_000)
		inv, _ := f.invest.Get(ctx, m.Investment.ID)
		prs := []string{f.payeeInvoice(t, money.MustSats(15_000)), f.payeeInvoice(t, money.MustSats(15_000))}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range prs {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_, errs[i] = f.invest.Withdraw(ctx, inv, prs[i])
			}(i)
		}
		wg.Wait()
		var ok int
		for _, err := range errs {
			if err == nil {
				ok++
			} else if apperr.CodeOf(err) != apperr.Conflict {
				t.Fatalf("the other withdrawal: %v", err)
			}
		}
		var payouts int64
		d.Gorm(ctx).Model(&funding.Payout{}).Where("source_account = ?", ledger.InvestmentPayable(inv.ID)).Count(&payouts)
		if ok != 1 || payouts != 1 {
			t.Fatalf("%d withdrawals accepted, %d payouts recorded", ok, payouts)
		}
		f.check(t)
	})
}

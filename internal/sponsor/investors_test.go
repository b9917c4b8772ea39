package sponsor_test

import (
	"context"
	"testing"
	"time"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/funding"
	"github.com/keepalive/keepalive/internal/invest"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/money"
	"github.com/keepalive/keepalive/internal/sponsor"
)

// withInvestors rebuilds the fixture's sponsorship around the real
// investors' door, invest.Distribute, as main wires it.
func withInvestors(t *testing.T, f *fixture) *invest.Service {
	t.Helper()
	inv := invest.New(f.db, f.ledger, f.offerings, f.funding, invest.WithClock(f.clock.Now))
	f.sponsor = sponsor.New(f.db, f.ledger, f.offerings, f.funding, sponsor.InvestorsRevenue{Investments: inv},
		sponsor.Config{PlatformFeeBps: 100}, nil, f.clock.Now)
	f.funding.OnSettle(funding.PurposeBid, f.sponsor.SettleInvoice)
	return inv
}

// TestClearingPaysInvestors: an offering with investment terms (share
// 50%, cap 1.5×) and two settled investments of 10,000 and 30,000 sat;
// the worked example's winners' charges, less the 1% fee, are split by
// invest.Distribute: half to the investors pro rata to principal (1:3),
// half to the runway. Clearing again moves nothing.
func TestClearingPaysInvestors(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d)
		inv := withInvestors(t, f)
		share, capBps := 5000, 15000
		lo, hi := sat(1000), sat(100000)
		if _, err := inv.SetTerms(ctx, f.offering.ID, invest.TermsInput{ShareBps: &share, CapBps: &capBps, MinMsat: &lo, MaxMsat: &hi}); err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, amount := range []int64{10000, 30000} {
			m, err := inv.Invest(ctx, invest.InvestRequest{Slug: "game", Amount: sat(amount)})
			if err != nil {
				t.Fatal(err)
			}
			f.pay(t, m.Invoice.PaymentHash)
			ids = append(ids, m.Investment.ID)
		}
		for _, id := range ids {
			p, err := inv.Get(ctx, id)
			if err != nil || p.State != invest.Active {
				t.Fatalf("investment %d: %+v, %v", id, p, err)
			}
		}
		runwayBefore := f.balance(t, ledger.OfferingRunway(f.offering.ID)) + f.balance(t, ledger.OfferingEarned(f.offering.ID))
		f.enable(t)
		f.bid(t, sat(10000), "Alpha", true)
		f.bid(t, sat(8000), "Beta", true)
		f.bid(t, sat(5000), "Gamma", true)
		f.bid(t, sat(2000), "Delta", true)
		f.check(t)

		f.clock.Advance(5 * 24 * time.Hour)
		start := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
		if _, cleared, err := f.sponsor.ClearPeriod(ctx, f.offering.ID, start); err != nil || !cleared {
			t.Fatalf("ClearPeriod = %v, %v", cleared, err)
		}
		// Charges 5,300 / 2,100 / 600 sat less 1%: 5,247 / 2,079 / 594 sat of revenue.
		// Each: half to the investors, a quarter of that to the first, three
		// quarters to the second (no cap binds: 15,000 and 45,000 sat).
		want := func() (money.Msat, money.Msat, money.Msat) {
			var a, b, r money.Msat
			for _, rev := range []money.Msat{5_247_000, 2_079_000, 594_000} {
				p := rev * 5000 / 10000
				a += p / 4
				b += p - p/4
				r += rev - p
			}
			return a, b, r
		}
		for round := range 2 {
			wantA, wantB, wantRunway := want()
			if wantA != 990_000 || wantB != 2_970_000 || wantRunway != 3_960_000 {
				t.Fatalf("arithmetic: %d %d %d", wantA, wantB, wantRunway)
			}
			if got := f.balance(t, ledger.InvestmentPayable(ids[0])); got != wantA {
				t.Errorf("round %d: first investor's payable %s, want %s", round, got, wantA)
			}
			if got := f.balance(t, ledger.InvestmentPayable(ids[1])); got != wantB {
				t.Errorf("round %d: second investor's payable %s, want %s", round, got, wantB)
			}
			runway := f.balance(t, ledger.OfferingRunway(f.offering.ID)) + f.balance(t, ledger.OfferingEarned(f.offering.ID))
			if runway-runwayBefore != wantRunway {
				t.Errorf("round %d: runway grew by %s, want %s", round, runway-runwayBefore, wantRunway)
			}
			if got := f.balance(t, ledger.PlatformFees); got != 80_000 {
				t.Errorf("round %d: platform fees %s", round, got)
			}
			var evs []invest.Event
			if err := d.Gorm(ctx).Order("id").Find(&evs).Error; err != nil {
				t.Fatal(err)
			}
			if len(evs) != 3 {
				t.Fatalf("round %d: %d revenue events, want 3", round, len(evs))
			}
			for _, e := range evs {
				if e.InvestorsMsat*2 != e.AmountMsat || e.Investments != 2 || e.SourceAccount != ledger.OfferingEscrow(f.offering.ID) {
					t.Errorf("round %d: revenue event %+v", round, e)
				}
			}
			for _, id := range ids {
				p, err := inv.Get(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if p.ReturnedMsat != f.balance(t, ledger.InvestmentPayable(id)) || p.State != invest.Active {
					t.Errorf("round %d: investment %+v", round, p)
				}
			}
			f.check(t)
			if _, cleared, err := f.sponsor.ClearPeriod(ctx, f.offering.ID, start); err != nil || cleared {
				t.Fatalf("ClearPeriod again = %v, %v", cleared, err)
			}
			if n, err := f.sponsor.ClearDue(ctx); err != nil || n != 0 {
				t.Fatalf("ClearDue again = %d, %v", n, err)
			}
		}
	})
}

package sponsor_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/clocktest"
	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/funding"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/lightning"
	"github.com/keepalive/keepalive/internal/lightning/demo"
	"github.com/keepalive/keepalive/internal/money"
	"github.com/keepalive/keepalive/internal/offering"
	"github.com/keepalive/keepalive/internal/sponsor"
)

// Wednesday: the next weekly periods start on Mondays 7, 14, 21 and 28 December.
var t0 = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

const period = "2026-12-07T00:00:00Z"

func sat(n int64) money.Msat { return money.MustSats(n) }

// splitRevenue stands in for the investors' one door: a quarter to each
// of two investments, the rest to the runway, keyed from the event's key.
type splitRevenue struct {
	ledger    *ledger.Ledger
	offerings *offering.Service
	mu        sync.Mutex
	events    []sponsor.RevenueEvent
}

func (r *splitRevenue) Distribute(ctx context.Context, tx db.Tx, ev sponsor.RevenueEvent) error {
	l := r.ledger.In(tx)
	quarter := ev.Amount / 4
	for i, inv := range []int64{101, 102} {
		if _, err := l.Post(ctx, ledger.Entry{Key: fmt.Sprintf("%s:investor:%d", ev.Key, i), Debit: ev.From,
			Credit: ledger.InvestmentPayable(inv), Amount: quarter, Memo: ev.Memo}); err != nil {
			return err
		}
	}
	_, err := r.offerings.CreditRunway(ctx, tx, ev.OfferingID, offering.Credit{Key: ev.Key + ":runway", Debit: ev.From, Amount: ev.Amount - 2*quarter, Memo: ev.Memo})
	if err == nil {
		tx.AfterCommit(func() {
			r.mu.Lock()
			r.events = append(r.events, ev)
			r.mu.Unlock()
		})
	}
	return err
}

type fixture struct {
	db        *db.DB
	clock     *clocktest.Clock
	node      *demo.Node
	ledger    *ledger.Ledger
	offerings *offering.Service
	funding   *funding.Service
	sponsor   *sponsor.Service
	revenue   *splitRevenue
	offering  offering.Offering
}

func newFixture(t testing.TB, d *db.DB) *fixture {
	t.Helper()
	c := clocktest.New(t0)
	l := ledger.New(d, c.Now)
	offerings := offering.New(d, l, nil, offering.WithClock(c.Now), offering.WithStatusTTL(0))
	node := demo.New(demo.WithClock(c.Now))
	f := funding.New(d, l, node, offerings, funding.Limits{MinDonation: 1_000, MaxDonation: 100_000_000_000}, nil, c.Now)
	rev := &splitRevenue{ledger: l, offerings: offerings}
	s := sponsor.New(d, l, offerings, f, rev, sponsor.Config{PlatformFeeBps: 100}, nil, c.Now)
	f.OnSettle(funding.PurposeBid, s.SettleInvoice)
	name, slug, url := "Game server", "game", "https://game.example"
	burn := money.Msat(1_000_000)
	o, _, err := offerings.Create(context.Background(), offering.Input{Name: &name, Slug: &slug, URL: &url, BurnRateMsatPerHour: &burn})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{db: d, clock: c, node: node, ledger: l, offerings: offerings, funding: f, sponsor: s, revenue: rev, offering: o}
}

func (f *fixture) enable(t *testing.T) {
	t.Helper()
	on, slots, reserve, p := true, 3, sat(1000), sponsor.Week
	_, err := f.sponsor.UpdateSettings(context.Background(), f.offering.ID, sponsor.SettingsInput{
		Enabled: &on, Slots: &slots, Reserve: &reserve, Period: &p, Weights: []int{10000, 6000, 3000}})
	if err != nil {
		t.Fatal(err)
	}
}

// pay settles an invoice the site issued, as the settlement stream would.
func (f *fixture) pay(t *testing.T, paymentHash string) {
	t.Helper()
	ctx := context.Background()
	h, err := lightning.ParseHash(paymentHash)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := f.node.Pay(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.funding.Settle(ctx, inv); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) bid(t *testing.T, amount money.Msat, name string, paid bool) sponsor.Placed {
	t.Helper()
	p, err := f.sponsor.PlaceBid(context.Background(), sponsor.BidRequest{Slug: "game", Start: period, Amount: amount,
		Display: sponsor.Display{Name: name, URL: "https://" + strings.ToLower(name) + ".example", Tagline: name + " says hi"}})
	if err != nil {
		t.Fatal(err)
	}
	if paid {
		f.clock.Advance(time.Second) // settlement order decides ties
		f.pay(t, p.Invoice.PaymentHash)
	}
	return p
}

func (f *fixture) balance(t *testing.T, account string) money.Msat {
	t.Helper()
	b, err := f.ledger.Balance(context.Background(), account)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (f *fixture) check(t *testing.T) {
	t.Helper()
	if err := f.ledger.CheckInvariants(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) bidRow(t *testing.T, publicID string) sponsor.Bid {
	t.Helper()
	var b sponsor.Bid
	if err := f.db.Gorm(context.Background()).Where("public_id = ?", publicID).Take(&b).Error; err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSponsorshipScenario: bids, a raise, a withdrawal, a rejection, an
// unpaid bid, clearing (the worked example, with a 1% platform fee),
// refunds claimed, the revenue split; clearing again changes nothing.
func TestSponsorshipScenario(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d)
		f.enable(t)

		a := f.bid(t, sat(10000), "Alpha", true)
		b := f.bid(t, sat(6000), "Beta", true)
		c := f.bid(t, sat(5000), "Gamma", true)
		dd := f.bid(t, sat(2000), "Delta", true)
		e := f.bid(t, sat(3000), "Epsilon", true)
		r := f.bid(t, sat(4000), "Rho", true)
		unpaid := f.bid(t, sat(9000), "Unpaid", false)
		f.check(t)

		// Beta raises to 8,000: an invoice for the difference.
		inv, err := f.sponsor.Raise(ctx, b.Bid.PublicID, b.ClaimKey, sat(8000))
		if err != nil {
			t.Fatal(err)
		}
		if inv.AmountMsat != sat(2000) {
			t.Fatalf("raise invoice for %s, want 2,000 sat", inv.AmountMsat)
		}
		f.pay(t, inv.PaymentHash)
		// Epsilon withdraws; the owner rejects Rho.
		if _, err := f.sponsor.WithdrawBid(ctx, e.Bid.PublicID, e.ClaimKey); err != nil {
			t.Fatal(err)
		}
		if _, err := f.sponsor.Reject(ctx, f.offering.ID, r.Bid.PublicID, "Not a fit for this page"); err != nil {
			t.Fatal(err)
		}
		if got := f.balance(t, ledger.OfferingEscrow(f.offering.ID)); got != sat(10000+8000+5000+2000) {
			t.Fatalf("escrow %s before clearing", got)
		}
		if got := f.balance(t, ledger.BidRefund(e.Bid.ID)); got != sat(3000) {
			t.Fatalf("withdrawn bid refund %s", got)
		}
		if got := f.bidRow(t, r.Bid.PublicID); got.State != sponsor.BidRejected || got.RejectReason != "Not a fit for this page" {
			t.Fatalf("rejected bid: %+v", got)
		}
		f.check(t)

		// Before the start nothing is due; after it (and the delay) the period clears once.
		if n, err := f.sponsor.ClearDue(ctx); err != nil || n != 0 {
			t.Fatalf("ClearDue before the start = %d, %v", n, err)
		}
		f.clock.Advance(5 * 24 * time.Hour) // Monday 12:00
		if n, err := f.sponsor.ClearDue(ctx); err != nil || n != 1 {
			t.Fatalf("ClearDue = %d, %v; want 1", n, err)
		}
		for range 2 {
			if n, err := f.sponsor.ClearDue(ctx); err != nil || n != 0 {
				t.Fatalf("ClearDue again = %d, %v; want 0", n, err)
			}
			if _, cleared, err := f.sponsor.ClearPeriod(ctx, f.offering.ID, time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)); err != nil || cleared {
				t.Fatalf("ClearPeriod again = %v, %v", cleared, err)
			}
		}
		f.check(t)

		rec, err := f.sponsor.PeriodRecord(ctx, f.offering, period)
		if err != nil {
			t.Fatal(err)
		}
		wantWinners := []struct {
			id             string
			charge, refund money.Msat
		}{{a.Bid.PublicID, sat(5300), sat(4700)}, {b.Bid.PublicID, sat(2100), sat(5900)}, {c.Bid.PublicID, sat(600), sat(4400)}}
		if len(rec.Winners) != 3 || len(rec.Losers) != 1 || len(rec.Bids) != 4 {
			t.Fatalf("record: %+v", rec)
		}
		for i, w := range wantWinners {
			got := rec.Winners[i]
			if got.Bid != w.id || got.Charge != w.charge || got.Refund != w.refund || got.Slot != i+1 || got.Display == nil {
				t.Errorf("winner %d = %+v, want %+v", i+1, got, w)
			}
		}
		if rec.Losers[0].Bid != dd.Bid.PublicID || rec.Losers[0].Refund != sat(2000) {
			t.Errorf("loser = %+v", rec.Losers[0])
		}
		for _, id := range []string{a.Bid.PublicID, b.Bid.PublicID, c.Bid.PublicID} {
			if got := f.bidRow(t, id); got.State != sponsor.BidWon {
				t.Errorf("bid %s is %s, want won", id, got.State)
			}
		}
		if got := f.bidRow(t, dd.Bid.PublicID).State; got != sponsor.BidLost {
			t.Errorf("loser is %s", got)
		}
		if got := f.bidRow(t, unpaid.Bid.PublicID).State; got != sponsor.BidUnpaid {
			t.Errorf("unpaid bid is %s", got)
		}

		// Money: escrow empty; refunds; 1% fee; revenue split by the door.
		if got := f.balance(t, ledger.OfferingEscrow(f.offering.ID)); got != 0 {
			t.Errorf("escrow %s after clearing", got)
		}
		for id, want := range map[int64]money.Msat{a.Bid.ID: sat(4700), b.Bid.ID: sat(5900), c.Bid.ID: sat(4400), dd.Bid.ID: sat(2000), e.Bid.ID: sat(3000), r.Bid.ID: sat(4000)} {
			if got := f.balance(t, ledger.BidRefund(id)); got != want {
				t.Errorf("refund of bid %d = %s, want %s", id, got, want)
			}
		}
		charges := sat(5300 + 2100 + 600)
		fees := money.Msat(53_000 + 21_000 + 6_000)
		if got := f.balance(t, ledger.PlatformFees); got != fees {
			t.Errorf("platform fees %s, want %s", got, fees)
		}
		inv1, inv2 := f.balance(t, ledger.InvestmentPayable(101)), f.balance(t, ledger.InvestmentPayable(102))
		runway := f.balance(t, ledger.OfferingRunway(f.offering.ID)) + f.balance(t, ledger.OfferingEarned(f.offering.ID))
		if inv1 != inv2 || inv1+inv2+runway+fees != charges {
			t.Errorf("revenue: investors %s + %s, runway %s, fees %s; charges %s", inv1, inv2, runway, fees, charges)
		}
		if len(f.revenue.events) != 3 {
			t.Errorf("%d revenue events, want 3", len(f.revenue.events))
		}

		// The loser takes its refund over Lightning.
		payer, err := f.node.CreateInvoice(ctx, lightning.CreateInvoiceRequest{AmountMsat: sat(1990), Expiry: time.Hour, Preimage: &lightning.Hash{7}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.sponsor.WithdrawRefund(ctx, dd.Bid.PublicID, a.ClaimKey, payer.PaymentRequest); apperr.CodeOf(err) != apperr.Forbidden {
			t.Fatalf("withdrawing another's refund: %v", err)
		}
		p, err := f.sponsor.WithdrawRefund(ctx, dd.Bid.PublicID, dd.ClaimKey, payer.PaymentRequest)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.funding.ProcessPending(ctx); err != nil {
			t.Fatal(err)
		}
		waitPayout(t, f, p.PaymentHash)
		if got := f.balance(t, ledger.BidRefund(dd.Bid.ID)); got != sat(10) {
			t.Errorf("loser's refund after withdrawing 1,990 sat: %s", got)
		}
		v, err := f.sponsor.View(ctx, f.bidRow(t, dd.Bid.PublicID))
		if err != nil || len(v.Withdrawals) != 1 || v.RefundPayable != sat(10) {
			t.Errorf("view = %+v, %v", v, err)
		}
		f.check(t)

		// The winners show during the period, by slot.
		shown, err := f.sponsor.Showing(ctx, f.offering.ID)
		if err != nil || len(shown) != 3 || shown[0].Display.Name != "Alpha" || shown[1].Weight != 6000 {
			t.Errorf("showing = %+v, %v", shown, err)
		}
	})
}

func waitPayout(t *testing.T, f *fixture, hash string) {
	t.Helper()
	for range 200 {
		p, err := f.funding.Payout(context.Background(), hash)
		if err != nil {
			t.Fatal(err)
		}
		if p.State == funding.PayoutSucceeded {
			return
		}
		if p.State == funding.PayoutFailed {
			t.Fatalf("payout failed: %s", p.FailureReason)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("payout did not finish")
}

// TestClearConcurrently: two replicas clear the same period at once; the
// effects happen once.
func TestClearConcurrently(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d)
		f.enable(t)
		for i, amt := range []int64{10000, 8000, 5000, 2000} {
			f.bid(t, sat(amt), fmt.Sprint("S", i), true)
		}
		// A second service on the same database is a second replica.
		other := sponsor.New(d, ledger.New(d, f.clock.Now), f.offerings, f.funding, f.revenue, sponsor.Config{PlatformFeeBps: 100}, nil, f.clock.Now)
		f.clock.Advance(5 * 24 * time.Hour)
		start := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
		var wg sync.WaitGroup
		cleared := make([]bool, 4)
		errs := make([]error, 4)
		for i := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				svc := f.sponsor
				if i%2 == 1 {
					svc = other
				}
				_, cleared[i], errs[i] = svc.ClearPeriod(ctx, f.offering.ID, start)
			}()
		}
		wg.Wait()
		n := 0
		for i := range 4 {
			if errs[i] != nil {
				t.Fatalf("clearing %d: %v", i, errs[i])
			}
			if cleared[i] {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d clearings took effect, want 1", n)
		}
		f.check(t)
		if got := f.balance(t, ledger.OfferingEscrow(f.offering.ID)); got != 0 {
			t.Errorf("escrow %s", got)
		}
		if got := f.balance(t, ledger.PlatformFees); got != 80_000 {
			t.Errorf("fees %s, want 80 sat", got)
		}
		if len(f.revenue.events) != 3 {
			t.Errorf("%d revenue events", len(f.revenue.events))
		}
	})
}

// TestBadInput: every refusal is a clear 4xx code and writes nothing.
func TestBadInput(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d)
		f.enable(t)
		mine := f.bid(t, sat(5000), "Mine", true)
		theirs := f.bid(t, sat(6000), "Theirs", true)
		ok := sponsor.Display{Name: "Acme", URL: "https://acme.example", Tagline: "Rockets"}
		place := func(start string, amount money.Msat, d sponsor.Display) func() error {
			return func() error {
				_, err := f.sponsor.PlaceBid(ctx, sponsor.BidRequest{Slug: "game", Start: start, Amount: amount, Display: d})
				return err
			}
		}
		tests := []struct {
			name string
			do   func() error
			code apperr.Code
		}{
			{"below reserve", place(period, sat(999), ok), apperr.Unprocessable},
			{"closed period", place("2026-11-30T00:00:00Z", sat(5000), ok), apperr.Conflict},
			{"not open yet", place("2027-01-04T00:00:00Z", sat(5000), ok), apperr.Conflict},
			{"unknown period", place("2026-12-08T00:00:00Z", sat(5000), ok), apperr.NotFound},
			{"not UTC", place("2026-12-07T01:00:00+01:00", sat(5000), ok), apperr.NotFound},
			{"unknown offering", func() error {
				_, err := f.sponsor.PlaceBid(ctx, sponsor.BidRequest{Slug: "nope", Start: period, Amount: sat(5000), Display: ok})
				return err
			}, apperr.NotFound},
			{"name too long", place(period, sat(5000), sponsor.Display{Name: strings.Repeat("x", 41), URL: ok.URL}), apperr.Unprocessable},
			{"bidi in name", place(period, sat(5000), sponsor.Display{Name: "evil\u202etxt", URL: ok.URL}), apperr.Unprocessable},
			{"control in tagline", place(period, sat(5000), sponsor.Display{Name: "x", URL: ok.URL, Tagline: "a\x07b"}), apperr.Unprocessable},
			{"tagline too long", place(period, sat(5000), sponsor.Display{Name: "x", URL: ok.URL, Tagline: strings.Repeat("é", 81)}), apperr.Unprocessable},
			{"not https", place(period, sat(5000), sponsor.Display{Name: "x", URL: "http://acme.example"}), apperr.Unprocessable},
			{"javascript url", place(period, sat(5000), sponsor.Display{Name: "x", URL: "javascript:alert(1)"}), apperr.Unprocessable},
			{"forged claim key", func() error {
				_, err := f.sponsor.Raise(ctx, mine.Bid.PublicID, sponsor.ClaimKeyPrefix+strings.Repeat("A", 43), sat(9000))
				return err
			}, apperr.Unauthorized},
			{"raising someone else's bid", func() error {
				_, err := f.sponsor.Raise(ctx, theirs.Bid.PublicID, mine.ClaimKey, sat(9000))
				return err
			}, apperr.Forbidden},
			{"raise to less", func() error {
				_, err := f.sponsor.Raise(ctx, mine.Bid.PublicID, mine.ClaimKey, sat(4000))
				return err
			}, apperr.Unprocessable},
			{"editing someone else's display", func() error {
				_, err := f.sponsor.EditDisplay(ctx, theirs.Bid.PublicID, mine.ClaimKey, ok)
				return err
			}, apperr.Forbidden},
			{"withdrawing someone else's bid", func() error {
				_, err := f.sponsor.WithdrawBid(ctx, theirs.Bid.PublicID, mine.ClaimKey)
				return err
			}, apperr.Forbidden},
			{"unknown bid", func() error {
				_, err := f.sponsor.WithdrawBid(ctx, "b0000000000000000", mine.ClaimKey)
				return err
			}, apperr.NotFound},
			{"rejecting without a reason", func() error {
				_, err := f.sponsor.Reject(ctx, f.offering.ID, mine.Bid.PublicID, " ")
				return err
			}, apperr.Unprocessable},
			{"rejecting another offering's bid", func() error {
				_, err := f.sponsor.Reject(ctx, f.offering.ID+1, mine.Bid.PublicID, "no")
				return err
			}, apperr.NotFound},
			{"refund before there is one", func() error {
				_, err := f.sponsor.WithdrawRefund(ctx, mine.Bid.PublicID, mine.ClaimKey, "lnbcrt1")
				return err
			}, apperr.Conflict},
			{"bad weights", func() error {
				_, err := f.sponsor.UpdateSettings(ctx, f.offering.ID, sponsor.SettingsInput{Weights: []int{10000, 7000, 8000}})
				return err
			}, apperr.Unprocessable},
			{"too many slots", func() error {
				n := 11
				_, err := f.sponsor.UpdateSettings(ctx, f.offering.ID, sponsor.SettingsInput{Slots: &n})
				return err
			}, apperr.Unprocessable},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before := f.counts(t)
				err := tt.do()
				if apperr.CodeOf(err) != tt.code {
					t.Fatalf("error = %v, want code %s", err, tt.code)
				}
				if after := f.counts(t); after != before {
					t.Errorf("rows changed: %s → %s", before, after)
				}
			})
		}
		// After the period starts: no withdrawal, no raise, no edit.
		f.clock.Advance(5 * 24 * time.Hour)
		before := f.counts(t)
		if _, err := f.sponsor.WithdrawBid(ctx, mine.Bid.PublicID, mine.ClaimKey); apperr.CodeOf(err) != apperr.Conflict {
			t.Errorf("withdrawing after the start: %v", err)
		}
		if _, err := f.sponsor.Raise(ctx, mine.Bid.PublicID, mine.ClaimKey, sat(9000)); apperr.CodeOf(err) != apperr.Conflict {
			t.Errorf("raising after the start: %v", err)
		}
		if _, err := f.sponsor.EditDisplay(ctx, mine.Bid.PublicID, mine.ClaimKey, ok); apperr.CodeOf(err) != apperr.Conflict {
			t.Errorf("editing after the start: %v", err)
		}
		if after := f.counts(t); after != before {
			t.Errorf("rows changed: %s → %s", before, after)
		}
		f.check(t)
	})
}

// counts summarises what the tests may not change.
func (f *fixture) counts(t *testing.T) string {
	t.Helper()
	var out []string
	for _, table := range []string{"sponsor_bids", "sponsor_bid_invoices", "invoices", "transfers", "sponsorship_settings", "sponsor_period_terms", "payouts"} {
		var n int64
		if err := f.db.Gorm(context.Background()).Table(table).Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s=%d", table, n))
	}
	var states []string
	f.db.Gorm(context.Background()).Table("sponsor_bids").Order("id").Pluck("state || display_name || amount_msat", &states)
	return strings.Join(append(out, states...), " ")
}

// TestLatePayment: a bid paid after it was withdrawn is refunded in full,
// never counted.
func TestLatePayment(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d)
		f.enable(t)
		p := f.bid(t, sat(5000), "Late", false)
		if _, err := f.sponsor.WithdrawBid(ctx, p.Bid.PublicID, p.ClaimKey); err != nil {
			t.Fatal(err)
		}
		f.pay(t, p.Invoice.PaymentHash)
		if got := f.balance(t, ledger.BidRefund(p.Bid.ID)); got != sat(5000) {
			t.Errorf("refund %s", got)
		}
		if got := f.balance(t, ledger.OfferingEscrow(f.offering.ID)); got != 0 {
			t.Errorf("escrow %s", got)
		}
		f.check(t)
	})
}

func TestPeriods(t *testing.T) {
	tests := []struct {
		p         sponsor.Period
		now, want string
	}{
		{sponsor.Hour, "2026-12-02T12:30:00Z", "2026-12-02T13:00:00Z"},
		{sponsor.Day, "2026-12-02T12:30:00Z", "2026-12-03T00:00:00Z"},
		{sponsor.Week, "2026-12-02T12:30:00Z", "2026-12-07T00:00:00Z"},
		{sponsor.Week, "2026-12-07T00:00:00Z", "2026-12-14T00:00:00Z"},
		{sponsor.Week, "2026-12-06T23:59:59Z", "2026-12-07T00:00:00Z"},
		{sponsor.Month, "2026-12-31T23:00:00Z", "2027-01-01T00:00:00Z"},
	}
	for _, tt := range tests {
		now, _ := time.Parse(time.RFC3339, tt.now)
		if got := sponsor.FormatStart(tt.p.Open(now, 1)[0]); got != tt.want {
			t.Errorf("%s after %s = %s, want %s", tt.p, tt.now, got, tt.want)
		}
	}
}

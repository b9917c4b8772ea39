package funding_test

import (
	"context"
	"errors"
	"github.com/keepalive/keepalive/internal/clocktest"
	"sync"
	"testing"
	"time"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/funding"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/lightning"
	"github.com/keepalive/keepalive/internal/money"
	"github.com/keepalive/keepalive/internal/offering"
)

type fixture struct {
	db        *db.DB
	clock     *clocktest.Clock
	node      *fakeNode
	ledger    *ledger.Ledger
	offerings *offering.Service
	funding   *funding.Service
	offering  offering.Offering
}

func newFixture(t testing.TB, d *db.DB) *fixture {
	t.Helper()
	c := clocktest.New(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	l := ledger.New(d, c.Now)
	offerings := offering.New(d, l, nil, offering.WithClock(c.Now), offering.WithStatusTTL(0))
	node := newFakeNode(c.Now)
	f := funding.New(d, l, node, offerings, funding.Limits{MinDonation: 1_000, MaxDonation: 100_000_000_000}, nil, c.Now)
	name, slug, url := "Site", "site", "https://example.org"
	burn := money.Msat(1_000_000)
	o, _, err := offerings.Create(context.Background(), offering.Input{Name: &name, Slug: &slug, URL: &url, BurnRateMsatPerHour: &burn})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{db: d, clock: c, node: node, ledger: l, offerings: offerings, funding: f, offering: o}
}

func (f *fixture) check(t testing.TB) {
	t.Helper()
	if err := f.ledger.CheckInvariants(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := f.db.Snapshot(context.Background(), func(tx db.Tx) error { return offering.CheckConsumption(context.Background(), f.ledger, tx) }); err != nil {
		t.Fatal(err)
	}
	// Every settled invoice is credited exactly once, with what was paid.
	var rows []struct {
		PaymentHash string
		PaidMsat    int64
	}
	f.db.Gorm(context.Background()).Table("invoices").Where("state = ?", "settled").Find(&rows)
	for _, r := range rows {
		tr, err := f.ledger.TransferByKey(context.Background(), "invoice:"+r.PaymentHash)
		if err != nil || int64(tr.Amount) != r.PaidMsat {
			t.Fatalf("settled invoice %s: credit %v (%v), want %d", r.PaymentHash, tr.Amount, err, r.PaidMsat)
		}
	}
	var credits int64
	f.db.Gorm(context.Background()).Table("transfers").Where("key LIKE ?", "invoice:%").Count(&credits)
	if credits != int64(len(rows)) {
		t.Fatalf("%d invoice credits for %d settled invoices", credits, len(rows))
	}
}

func (f *fixture) donate(t testing.TB, amount money.Msat) funding.Invoice {
	t.Helper()
	inv, err := f.funding.Donate(context.Background(), funding.DonationRequest{Slug: "site", Amount: amount, Name: "Ann", Message: "keep going"})
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

func hashOf(t testing.TB, inv funding.Invoice) lightning.Hash {
	h, err := lightning.ParseHash(inv.PaymentHash)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestDonationSettlesExactlyOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		inv := f.donate(t, 24_000_000)
		if inv.State != funding.InvoiceOpen || inv.PaymentRequest == "" || inv.ExpiresAt.IsZero() {
			t.Fatalf("invoice: %+v", inv)
		}
		ni := f.node.settle(hashOf(t, inv), 7)
		for i := 0; i < 3; i++ { // the stream may replay a settlement
			if err := f.funding.Settle(ctx, ni); err != nil {
				t.Fatal(err)
			}
		}
		st, _ := f.offerings.Status(ctx, "site")
		if st.State != offering.Alive || !st.FundedUntil.Equal(f.clock.Now().Add(24*time.Hour)) {
			t.Fatalf("status after settlement: %+v", st)
		}
		got, _ := f.funding.Invoice(ctx, inv.PaymentHash)
		if got.State != funding.InvoiceSettled || got.PaidMsat != 24_000_000 || got.SettledAt == nil {
			t.Fatalf("invoice after settlement: %+v", got)
		}
		if idx, _ := f.funding.SettleIndex(ctx); idx != 7 {
			t.Fatalf("cursor = %d, want 7", idx)
		}
		// A settlement the site did not issue only moves the cursor on; an
		// older index never moves it back.
		stranger := lightning.Invoice{PaymentHash: lightning.Hash{1}, State: lightning.InvoiceSettled, AmountMsat: 5, PaidMsat: 5, SettleIndex: 9}
		if err := f.funding.Settle(ctx, stranger); err != nil {
			t.Fatal(err)
		}
		if err := f.funding.Settle(ctx, ni); err != nil {
			t.Fatal(err)
		}
		if idx, _ := f.funding.SettleIndex(ctx); idx != 9 {
			t.Fatalf("cursor = %d, want 9", idx)
		}
		f.check(t)
	})
}

func TestConcurrentSettlementsCreditOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		var invs []lightning.Invoice
		for i := 0; i < 5; i++ {
			inv := f.donate(t, money.Msat(1_000_000*(i+1)))
			invs = append(invs, f.node.settle(hashOf(t, inv), uint64(i+1)))
		}
		var wg sync.WaitGroup
		for round := 0; round < 4; round++ {
			for _, ni := range invs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := f.funding.Settle(ctx, ni); err != nil {
						t.Error(err)
					}
				}()
			}
		}
		wg.Wait()
		runway, _ := f.ledger.Balance(ctx, ledger.OfferingRunway(f.offering.ID))
		if runway != 15_000_000 {
			t.Fatalf("runway = %d, want 15,000,000 (each invoice once)", runway)
		}
		f.check(t)
	})
}

func TestDonationBadInputWritesNothing(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		long := make([]byte, 300)
		for i := range long {
			long[i] = 'x'
		}
		cases := []struct {
			name string
			req  funding.DonationRequest
			code apperr.Code
		}{
			{"below minimum", funding.DonationRequest{Slug: "site", Amount: 999}, apperr.Unprocessable},
			{"zero", funding.DonationRequest{Slug: "site", Amount: 0}, apperr.Unprocessable},
			{"negative", funding.DonationRequest{Slug: "site", Amount: -5}, apperr.Unprocessable},
			{"above maximum", funding.DonationRequest{Slug: "site", Amount: 100_000_000_001}, apperr.Unprocessable},
			{"long message", funding.DonationRequest{Slug: "site", Amount: 5000, Message: string(long)}, apperr.Unprocessable},
			{"control characters", funding.DonationRequest{Slug: "site", Amount: 5000, Name: "a\x00b"}, apperr.Unprocessable},
			{"unknown offering", funding.DonationRequest{Slug: "nope", Amount: 5000}, apperr.NotFound},
		}
		for _, c := range cases {
			if _, err := f.funding.Donate(ctx, c.req); apperr.CodeOf(err) != c.code {
				t.Errorf("%s: err = %v, want %s", c.name, err, c.code)
			}
		}
		f.node.failAdd = errors.New("connection refused")
		if _, err := f.funding.Donate(ctx, funding.DonationRequest{Slug: "site", Amount: 5000}); apperr.CodeOf(err) != apperr.Unavailable {
			t.Fatalf("node down: err = %v, want unavailable", err)
		}
		var n int64
		f.db.Gorm(context.Background()).Table("invoices").Count(&n)
		if n != 0 {
			t.Fatalf("%d invoices written by bad requests", n)
		}
		if _, err := f.funding.Invoice(ctx, "zz"); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("bad hash: %v", err)
		}
	})
}

// fund puts earned money in the offering: a donation consumed over time.
func (f *fixture) fund(t testing.TB, amount money.Msat, consume time.Duration) {
	t.Helper()
	inv := f.donate(t, amount)
	if err := f.funding.Settle(context.Background(), f.node.settle(hashOf(t, inv), uint64(inv.ID))); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(consume)
}

// waitPayout runs the worker until the payout is no longer pending.
func (f *fixture) waitPayout(t *testing.T, hash string) funding.Payout {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
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

func TestWithdrawEarnedToAmountlessInvoice(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		f.fund(t, 10_000_000, 4*time.Hour) // 4,000 sat consumed
		f.node.fee = 1_500
		pr := f.node.addPayable(0, time.Hour)
		p, err := f.funding.WithdrawEarned(ctx, f.offering, pr)
		if err != nil {
			t.Fatal(err)
		}
		if p.AmountMsat+p.FeeLimitMsat > 4_000_000 || p.AmountMsat < 3_900_000 {
			t.Fatalf("payout of %d with fee budget %d from 4,000,000 earned", p.AmountMsat, p.FeeLimitMsat)
		}
		acct, _ := f.ledger.Account(ctx, ledger.OfferingEarned(f.offering.ID))
		if acct.Available() != 4_000_000-p.AmountMsat-p.FeeLimitMsat {
			t.Fatalf("reserved: available %d", acct.Available())
		}
		done := f.waitPayout(t, p.PaymentHash)
		if done.State != funding.PayoutSucceeded || done.FeeMsat != 1_500 {
			t.Fatalf("payout: %+v", done)
		}
		earned, _ := f.ledger.Balance(ctx, ledger.OfferingEarned(f.offering.ID))
		fees, _ := f.ledger.Balance(ctx, ledger.RoutingFees)
		if earned != 4_000_000-p.AmountMsat-1_500 || fees != 1_500 {
			t.Fatalf("after payout: earned %d, routing fees %d", earned, fees)
		}
		// Paying the same invoice again is refused; the worker never pays twice.
		if _, err := f.funding.WithdrawEarned(ctx, f.offering, pr); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("same invoice again: %v", err)
		}
		f.waitPayout(t, p.PaymentHash)
		if f.node.sends != 1 {
			t.Fatalf("%d payments sent, want 1", f.node.sends)
		}
		f.check(t)
	})
}

func TestWithdrawFailureReleasesTheMoney(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		f.fund(t, 10_000_000, 4*time.Hour)
		f.node.outcome = lightning.PaymentFailed
		p, err := f.funding.WithdrawEarned(ctx, f.offering, f.node.addPayable(2_000_000, time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		done := f.waitPayout(t, p.PaymentHash)
		if done.State != funding.PayoutFailed || done.FailureReason == "" {
			t.Fatalf("payout: %+v", done)
		}
		acct, _ := f.ledger.Account(ctx, ledger.OfferingEarned(f.offering.ID))
		if acct.Balance() != 4_000_000 || acct.Available() != 4_000_000 {
			t.Fatalf("after a failed payout: balance %d, available %d; want all 4,000,000 back", acct.Balance(), acct.Available())
		}
		f.check(t)
	})
}

func TestPayoutAfterCrashIsTrackedNotResent(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		f.fund(t, 10_000_000, 4*time.Hour)
		// The site records the payout and the node pays it, then the site
		// dies before booking the outcome (the transport error stands in
		// for the crash: the worker books nothing).
		f.node.mu.Lock()
		f.node.sendError = errors.New("connection reset")
		f.node.mu.Unlock()
		pr := f.node.addPayable(1_000_000, time.Hour)
		p, err := f.funding.WithdrawEarned(ctx, f.offering, pr)
		if err != nil {
			t.Fatal(err)
		}
		f.funding.ProcessPending(ctx)
		time.Sleep(50 * time.Millisecond)
		if got, _ := f.funding.Payout(ctx, p.PaymentHash); got.State != funding.PayoutPending {
			t.Fatalf("a transport error booked an outcome: %+v", got)
		}
		d2, _ := f.node.DecodePaymentRequest(ctx, pr)
		f.node.mu.Lock() // the first worker may still be asking the node
		f.node.sendError = nil
		f.node.payments[d2.PaymentHash] = lightning.Payment{PaymentHash: d2.PaymentHash, State: lightning.PaymentSucceeded, AmountMsat: 1_000_000, FeeMsat: 10}
		f.node.mu.Unlock()
		// A restarted site finds the pending payout and asks the node.
		restarted := funding.New(d, f.ledger, f.node, f.offerings, funding.Limits{MinDonation: 1, MaxDonation: 1 << 40}, nil, f.clock.Now)
		f.funding = restarted
		done := f.waitPayout(t, p.PaymentHash)
		if done.State != funding.PayoutSucceeded || done.FeeMsat != 10 || f.node.sends != 0 {
			t.Fatalf("after restart: %+v, %d sends (want tracked, none sent)", done, f.node.sends)
		}
		f.check(t)
	})
}

func TestWithdrawBadDestinationsWriteNothing(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		if _, err := f.funding.WithdrawEarned(ctx, f.offering, f.node.addPayable(0, time.Hour)); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("nothing earned: %v", err)
		}
		f.fund(t, 10_000_000, 4*time.Hour)
		cases := map[string]struct {
			dest string
			code apperr.Code
		}{
			"empty":         {"", apperr.Unprocessable},
			"garbage":       {"lnbcnonsense", apperr.Unprocessable},
			"too large":     {f.node.addPayable(3_999_000, time.Hour), apperr.Conflict},
			"expired":       {f.node.addPayable(1_000, -time.Minute), apperr.Unprocessable},
			"no resolver":   {"ann@example.org", apperr.Unprocessable},
			"not lightning": {"bitcoin:bc1qxyz", apperr.Unprocessable},
		}
		for name, c := range cases {
			if _, err := f.funding.WithdrawEarned(ctx, f.offering, c.dest); apperr.CodeOf(err) != c.code {
				t.Errorf("%s: err = %v, want %s", name, err, c.code)
			}
		}
		var n int64
		f.db.Gorm(context.Background()).Table("payouts").Count(&n)
		acct, _ := f.ledger.Account(ctx, ledger.OfferingEarned(f.offering.ID))
		if n != 0 || acct.Available() != acct.Balance() {
			t.Fatalf("bad destinations wrote %d payouts, reserved %d", n, acct.Balance()-acct.Available())
		}
		f.check(t)
	})
}

func TestMaxPayableFitsTheBudget(t *testing.T) {
	for _, avail := range []money.Msat{0, 5_000, 6_000, 10_000, 1_000_000, 1_005_000, 123_456_789, money.MaxMsat} {
		m := funding.MaxPayable(avail)
		if m < 0 || (m > 0 && m+funding.FeeLimit(m) > avail) {
			t.Fatalf("MaxPayable(%d) = %d, which with its fee budget %d exceeds it", avail, m, funding.FeeLimit(m))
		}
		if m%money.MsatPerSat != 0 {
			t.Fatalf("MaxPayable(%d) = %d, not whole sats", avail, m)
		}
		if next := m + money.MsatPerSat; next+funding.FeeLimit(next) <= avail {
			t.Fatalf("MaxPayable(%d) = %d is not the largest whole number of sats", avail, m)
		}
	}
}

// Donations made at the same moment are stored together (one batch) and
// each comes back with its own row.
func TestConcurrentDonationsEachGetTheirRow(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		const n = 32
		invs := make([]funding.Invoice, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				inv, err := f.funding.Donate(ctx, funding.DonationRequest{Slug: "site", Amount: money.Msat(1_000 * (i + 1))})
				if err != nil {
					t.Error(err)
				}
				invs[i] = inv
			}()
		}
		wg.Wait()
		ids := map[int64]bool{}
		for i, inv := range invs {
			if inv.ID == 0 || ids[inv.ID] {
				t.Fatalf("donation %d: id %d missing or repeated", i, inv.ID)
			}
			ids[inv.ID] = true
			got, err := f.funding.Invoice(ctx, inv.PaymentHash)
			if err != nil || got.ID != inv.ID || got.AmountMsat != money.Msat(1_000*(i+1)) {
				t.Fatalf("donation %d stored as %+v (%v), returned %+v", i, got, err, inv)
			}
		}
		f.check(t)
	})
}

// TestCreditedHere: the replica that credits an invoice hands it, as
// committed, to requests waiting here; an invoice it did not credit is
// not there (and is read from the database).
func TestCreditedHere(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		inv := f.donate(t, 1_000_000)
		if _, ok := f.funding.CreditedHere(inv.PaymentHash); ok {
			t.Fatal("an open invoice is among the credited")
		}
		if err := f.funding.Settle(context.Background(), f.node.settle(hashOf(t, inv), 1)); err != nil {
			t.Fatal(err)
		}
		got, ok := f.funding.CreditedHere(inv.PaymentHash)
		stored, err := f.funding.Invoice(context.Background(), inv.PaymentHash)
		if err != nil {
			t.Fatal(err)
		}
		if !ok || got.State != funding.InvoiceSettled || got.SettledAt == nil || !got.SettledAt.Equal(*stored.SettledAt) ||
			got.PaidMsat != stored.PaidMsat || got.ID != stored.ID {
			t.Fatalf("credited here: %+v (%v), stored: %+v", got, ok, stored)
		}
	})
}

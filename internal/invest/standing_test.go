package invest_test

import (
	"context"
	"testing"
	"time"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/funding"
	"github.com/keepalive/keepalive/internal/lightning"
	"github.com/keepalive/keepalive/internal/lightning/demo"
	"github.com/keepalive/keepalive/internal/money"
)

// fakeResolver pays a Lightning Address with an invoice of the payee's
// node for exactly the amount asked, and counts what it was asked.
type fakeResolver struct {
	payee *demo.Node
	asked []money.Msat
}

func (r *fakeResolver) Resolve(ctx context.Context, destination string, amount money.Msat) (string, error) {
	r.asked = append(r.asked, amount)
	inv, err := r.payee.CreateInvoice(ctx, lightning.CreateInvoiceRequest{AmountMsat: amount, Expiry: time.Hour, Memo: destination})
	if err != nil {
		return "", err
	}
	return inv.PaymentRequest, nil
}

// TestStandingPayout: a standing Lightning Address with a threshold is
// not paid below it, is paid the whole payable once above it, and is not
// paid again when the job runs again; the running job pays when a
// distribution commits.
func TestStandingPayout(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		r := &fakeResolver{payee: f.payee}
		f.funding.SetResolver(r)
		f.setTerms(t, 5000, 15000, 1_000, 1_000_000, 0)
		m := f.investPaid(t, 100_000)
		inv, err := f.invest.Get(ctx, m.Investment.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.invest.SetPayout(ctx, inv, "investor@example.org", money.MustSats(10_000)); err != nil {
			t.Fatal(err)
		}
		payouts := func() []funding.Payout {
			t.Helper()
			ps, err := f.invest.Withdrawals(ctx, inv)
			if err != nil {
				t.Fatal(err)
			}
			return ps
		}

		// 5,000 sats payable: below the threshold.
		f.revenue(t, 10_000)
		f.invest.PayStanding(ctx, nil)
		f.invest.PayStanding(ctx, []int64{inv.ID})
		if ps := payouts(); len(ps) != 0 || len(r.asked) != 0 {
			t.Fatalf("below the threshold: %d payouts, resolver asked %v", len(ps), r.asked)
		}
		f.check(t)

		// 15,000 sats payable: above it; the whole payable goes, less the fee budget.
		f.revenue(t, 20_000)
		payable := f.position(t, inv.ID).PayableMsat
		if payable != money.MustSats(15_000) {
			t.Fatalf("payable = %s", payable)
		}
		f.invest.PayStanding(ctx, nil)
		ps := payouts()
		if len(ps) != 1 || ps[0].AmountMsat != funding.MaxPayable(payable) || ps[0].Destination != "investor@example.org" {
			t.Fatalf("above the threshold: %+v", ps)
		}
		if p := f.waitPayout(t, ps[0].PaymentHash); p.State != funding.PayoutSucceeded {
			t.Fatalf("payout: %+v", p)
		}
		f.check(t)

		// The job again, both ways: nothing more to pay.
		f.invest.PayStanding(ctx, nil)
		f.invest.PayStanding(ctx, []int64{inv.ID})
		if ps := payouts(); len(ps) != 1 || len(r.asked) != 1 {
			t.Fatalf("after the payout: %d payouts, resolver asked %v", len(ps), r.asked)
		}
		pos := f.position(t, inv.ID)
		if pos.WithdrawnMsat != ps[0].AmountMsat+done(t, f, ps[0].PaymentHash).FeeMsat || pos.PayableMsat != payable-pos.WithdrawnMsat {
			t.Fatalf("after the payout: %+v", pos)
		}
		f.check(t)

		// The running job pays as soon as a distribution commits.
		jobCtx, stop := context.WithCancel(ctx)
		exited := make(chan struct{})
		defer func() { stop(); <-exited }()
		go func() { defer close(exited); f.invest.RunStandingPayouts(jobCtx) }()
		f.revenue(t, 30_000)
		for i := 0; len(payouts()) < 2; i++ {
			if i == 500 {
				t.Fatal("the running job made no payout")
			}
			time.Sleep(10 * time.Millisecond)
		}
		if ps := payouts(); len(ps) != 2 {
			t.Fatalf("running job: %d payouts", len(ps))
		} else if p := f.waitPayout(t, ps[0].PaymentHash); p.State != funding.PayoutSucceeded {
			t.Fatalf("payout: %+v", p)
		}
		f.check(t)
	})
}

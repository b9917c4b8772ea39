package funding_test

import (
	"context"
	"testing"
	"time"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/funding"
)

func TestWithdrawLinkPaysOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		f.fund(t, 10_000_000, 4*time.Hour) // 4,000 sat earned
		k1, expires, err := f.funding.NewWithdrawLink(ctx, f.offering)
		if err != nil || len(k1) != 64 || !expires.After(f.clock.Now()) {
			t.Fatalf("link: %q %v %v", k1, expires, err)
		}
		o, max, err := f.funding.WithdrawParams(ctx, k1)
		if err != nil || o.ID != f.offering.ID || max != funding.MaxPayable(4_000_000) {
			t.Fatalf("params: %v %d %v", o.ID, max, err)
		}
		// A bad invoice is refused and does not spend the link.
		if _, err := f.funding.RedeemWithdrawLink(ctx, k1, "lnbcrtgarbage"); apperr.CodeOf(err) != apperr.Unprocessable {
			t.Fatalf("bad invoice: %v", err)
		}
		if _, err := f.funding.RedeemWithdrawLink(ctx, k1, f.node.addPayable(max+1, time.Hour)); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("too large: %v", err)
		}
		p, err := f.funding.RedeemWithdrawLink(ctx, k1, f.node.addPayable(max, time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		// The wallet (or an attacker) replays the callback: nothing more is paid.
		if _, err := f.funding.RedeemWithdrawLink(ctx, k1, f.node.addPayable(1_000, time.Hour)); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("replayed callback: %v", err)
		}
		if _, _, err := f.funding.WithdrawParams(ctx, k1); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("params of a spent link: %v", err)
		}
		if done := f.waitPayout(t, p.PaymentHash); done.State != funding.PayoutSucceeded {
			t.Fatalf("payout: %+v", done)
		}
		// Unknown and expired links.
		if _, _, err := f.funding.WithdrawParams(ctx, "00"+k1[2:]); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("unknown link: %v", err)
		}
		late, _, _ := f.funding.NewWithdrawLink(ctx, f.offering)
		f.clock.Advance(funding.WithdrawLinkTTL)
		if _, err := f.funding.RedeemWithdrawLink(ctx, late, f.node.addPayable(1_000, time.Hour)); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("expired link: %v", err)
		}
		f.check(t)
	})
}

package funding_test

import (
	"context"
	"testing"
	"time"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/funding"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/money"
)

func TestWithdrawLinkPaysOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		f.fund(t, 10_000_000, 4*time.Hour) // 4,000 sat earned
		k1, expires, err := f.funding.NewWithdrawLink(ctx, funding.EarnedSource(f.offering))
		if err != nil || len(k1) != 64 || !expires.After(f.clock.Now()) {
			t.Fatalf("link: %q %v %v", k1, expires, err)
		}
		offer, err := f.funding.WithdrawParams(ctx, k1)
		max := offer.Max
		if err != nil || offer.Description != "Keepalive: earnings of Site" || max != funding.MaxPayable(4_000_000) {
			t.Fatalf("params: %+v %v", offer, err)
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
		if _, err := f.funding.WithdrawParams(ctx, k1); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("params of a spent link: %v", err)
		}
		if done := f.waitPayout(t, p.PaymentHash); done.State != funding.PayoutSucceeded {
			t.Fatalf("payout: %+v", done)
		}
		// Unknown and expired links.
		unknown := "0" + k1[1:] // another link's k1: its first digit changed
		if k1[0] == '0' {
			unknown = "1" + k1[1:]
		}
		if _, err := f.funding.WithdrawParams(ctx, unknown); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("unknown link: %v", err)
		}
		late, _, _ := f.funding.NewWithdrawLink(ctx, funding.EarnedSource(f.offering))
		f.clock.Advance(funding.WithdrawLinkTTL)
		if _, err := f.funding.RedeemWithdrawLink(ctx, late, f.node.addPayable(1_000, time.Hour)); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("expired link: %v", err)
		}
		f.check(t)
	})
}

// TestWithdrawLinksToOtherBalances: the one link table pays any balance
// owed to one person (here two sponsor bids' refunds) from its own
// account only, to the msat, once; other accounts and addresses in pr are
// refused with nothing written.
func TestWithdrawLinksToOtherBalances(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		refund := map[string]money.Msat{ledger.BidRefund(1): 7_654_321, ledger.BidRefund(2): 3_000_000}
		for acct, amount := range refund {
			if _, err := f.ledger.Post(ctx, ledger.Entry{Key: "test:" + acct, Debit: ledger.Lightning, Credit: acct, Amount: amount, Memo: "test refund"}); err != nil {
				t.Fatal(err)
			}
		}
		for _, bad := range []funding.WithdrawSource{
			{Account: ledger.OfferingEscrow(f.offering.ID)}, {Account: ledger.OfferingRunway(f.offering.ID)},
			{Account: ledger.Lightning}, {Account: ledger.PlatformFees}, {Account: "bid/0/refund"}, {Account: "bid/1/refund "},
			{Account: ledger.BidRefund(1), OfferingID: &f.offering.ID},
		} {
			if _, _, err := f.funding.NewWithdrawLink(ctx, bad); err == nil {
				t.Fatalf("link to %+v made", bad)
			}
		}
		k1, _, err := f.funding.NewWithdrawLink(ctx, funding.WithdrawSource{Account: ledger.BidRefund(1), Description: "Keepalive: sponsor bid refund"})
		if err != nil {
			t.Fatal(err)
		}
		offer, err := f.funding.WithdrawParams(ctx, k1)
		if err != nil || offer.Max != funding.MaxPayable(7_654_321) || offer.Description != "Keepalive: sponsor bid refund" {
			t.Fatalf("params: %+v %v", offer, err)
		}
		// A Lightning Address or LNURL in pr is refused: a wallet answers
		// with an invoice, and the site fetches no URL a caller names.
		for _, pr := range []string{"alice@example.org", "lnurl1dp68gurn8ghj7", "lightning:LNURL1DP68GURN8GHJ7"} {
			if _, err := f.funding.RedeemWithdrawLink(ctx, k1, pr); apperr.CodeOf(err) != apperr.Unprocessable {
				t.Fatalf("pr %q: %v", pr, err)
			}
		}
		f.node.fee = 2_000
		p, err := f.funding.RedeemWithdrawLink(ctx, k1, f.node.addPayable(offer.Max, time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if p.SourceAccount != ledger.BidRefund(1) || p.OfferingID != nil || p.AmountMsat != offer.Max {
			t.Fatalf("payout: %+v", p)
		}
		if _, err := f.funding.RedeemWithdrawLink(ctx, k1, f.node.addPayable(1_000, time.Hour)); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("replay: %v", err)
		}
		if done := f.waitPayout(t, p.PaymentHash); done.State != funding.PayoutSucceeded || done.FeeMsat != 2_000 {
			t.Fatalf("payout: %+v", done)
		}
		for acct, want := range map[string]money.Msat{ledger.BidRefund(1): 7_654_321 - offer.Max - 2_000, ledger.BidRefund(2): 3_000_000} {
			a, err := f.ledger.Account(ctx, acct)
			if err != nil || a.Balance() != want || a.Available() != want {
				t.Fatalf("%s: %+v, want %d (%v)", acct, a, want, err)
			}
		}
		// The owner's list of payouts is the owner's own.
		if list, err := f.funding.Payouts(ctx, f.offering.ID, 10); err != nil || len(list) != 0 {
			t.Fatalf("owner's payouts: %+v %v", list, err)
		}
		f.check(t)
	})
}

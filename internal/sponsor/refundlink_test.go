package sponsor_test

import (
	"context"
	"testing"
	"time"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/funding"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/lightning"
	"github.com/keepalive/keepalive/internal/sponsor"
)

// TestRefundLinkAndModeration: a withdrawn bid's refund is paid through a
// one-time LNURL-withdraw link made with its own claim key only, once, to
// the msat; the owner's moderation list shows coming bids' displays and
// states, then the rejection with its reason.
func TestRefundLinkAndModeration(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		f.enable(t)
		ctx := context.Background()
		keep := f.bid(t, sat(4000), "Keep", true)
		gone := f.bid(t, sat(3000), "Gone", true)
		if _, _, err := f.sponsor.RefundLink(ctx, gone.Bid.PublicID, gone.ClaimKey); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("link before any refund: %v", err)
		}
		if _, err := f.sponsor.WithdrawBid(ctx, gone.Bid.PublicID, gone.ClaimKey); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.sponsor.RefundLink(ctx, gone.Bid.PublicID, keep.ClaimKey); apperr.CodeOf(err) != apperr.Forbidden {
			t.Fatalf("link with another bid's key: %v", err)
		}
		k1, _, err := f.sponsor.RefundLink(ctx, gone.Bid.PublicID, gone.ClaimKey)
		if err != nil {
			t.Fatal(err)
		}
		offer, err := f.funding.WithdrawParams(ctx, k1)
		if err != nil || offer.Max != funding.MaxPayable(sat(3000)) {
			t.Fatalf("params %+v %v", offer, err)
		}
		inv, err := f.node.CreateInvoice(ctx, lightning.CreateInvoiceRequest{AmountMsat: offer.Max, Expiry: time.Hour, Preimage: &lightning.Hash{9}})
		if err != nil {
			t.Fatal(err)
		}
		p, err := f.funding.RedeemWithdrawLink(ctx, k1, inv.PaymentRequest)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.funding.RedeemWithdrawLink(ctx, k1, inv.PaymentRequest); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("replay: %v", err)
		}
		if err := f.funding.ProcessPending(ctx); err != nil {
			t.Fatal(err)
		}
		waitPayout(t, f, p.PaymentHash)
		done, err := f.funding.Payout(ctx, p.PaymentHash)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := f.balance(t, ledger.BidRefund(gone.Bid.ID)), sat(3000)-offer.Max-done.FeeMsat; got != want {
			t.Fatalf("refund left %s, want %s", got, want)
		}
		if got := f.balance(t, ledger.BidRefund(keep.Bid.ID)); got != 0 {
			t.Fatalf("the other bid's refund moved: %s", got)
		}

		list, err := f.sponsor.ForModeration(ctx, f.offering.ID)
		if err != nil || len(list) != 1 || list[0].PublicID != keep.Bid.PublicID || list[0].State != sponsor.BidActive || list[0].Display.Name != "Keep" {
			t.Fatalf("moderation list %+v %v", list, err)
		}
		if _, err := f.sponsor.Reject(ctx, f.offering.ID, keep.Bid.PublicID, "Off topic."); err != nil {
			t.Fatal(err)
		}
		list, err = f.sponsor.ForModeration(ctx, f.offering.ID)
		if err != nil || len(list) != 1 || list[0].State != sponsor.BidRejected || list[0].RejectReason != "Off topic." {
			t.Fatalf("after rejecting %+v %v", list, err)
		}
		f.check(t)
	})
}

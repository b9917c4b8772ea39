package sponsor_test

import (
	"context"
	"testing"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/sponsor"
)

// TestRaiseSupersedesUnpaidRaise: two raises asked before either is paid
// are both priced from the same paid amount; paying both must not make
// the bid more than the later target. The later raise supersedes the
// earlier: whichever order they are paid in, the bid becomes the later
// target and the earlier raise's payment goes to the bid's refund.
func TestRaiseSupersedesUnpaidRaise(t *testing.T) {
	for _, laterFirst := range []bool{false, true} {
		name := "earlier paid first"
		if laterFirst {
			name = "later paid first"
		}
		t.Run(name, func(t *testing.T) {
			dbtest.Each(t, func(t *testing.T, d *db.DB) {
				ctx := context.Background()
				f := newFixture(t, d)
				f.enable(t)
				b := f.bid(t, sat(5000), "Beta", true)
				first, err := f.sponsor.Raise(ctx, b.Bid.PublicID, b.ClaimKey, sat(8000))
				if err != nil {
					t.Fatal(err)
				}
				second, err := f.sponsor.Raise(ctx, b.Bid.PublicID, b.ClaimKey, sat(9000))
				if err != nil {
					t.Fatal(err)
				}
				if first.AmountMsat != sat(3000) || second.AmountMsat != sat(4000) {
					t.Fatalf("raise invoices for %s and %s, want 3,000 and 4,000 sat", first.AmountMsat, second.AmountMsat)
				}
				order := []string{first.PaymentHash, second.PaymentHash}
				if laterFirst {
					order[0], order[1] = order[1], order[0]
				}
				for _, h := range order {
					f.pay(t, h)
					f.check(t)
				}
				got := f.bidRow(t, b.Bid.PublicID)
				if got.Amount != sat(9000) || got.State != sponsor.BidActive {
					t.Fatalf("bid after both raises paid: %s %s, want 9,000 sat active", got.Amount, got.State)
				}
				if esc := f.balance(t, ledger.OfferingEscrow(f.offering.ID)); esc != sat(9000) {
					t.Fatalf("escrow %s, want the bid's 9,000 sat", esc)
				}
				if ref := f.balance(t, ledger.BidRefund(b.Bid.ID)); ref != sat(3000) {
					t.Fatalf("refund %s, want the superseded raise's 3,000 sat", ref)
				}
			})
		})
	}
}

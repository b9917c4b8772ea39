package sponsor_test

import (
	"context"
	"testing"
	"time"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/sponsor"
)

func wantCode(t *testing.T, err error, code apperr.Code) {
	t.Helper()
	if apperr.CodeOf(err) != code {
		t.Fatalf("error %v, want code %v", err, code)
	}
}

// TestTermsFixedByFirstBid: once a period has a bid, the owner's changes
// to reserve, slots, weights and length apply only to periods without
// bids; the period takes bids and clears under its own rules, and its
// record is found by its start after the length changed (week → month).
func TestTermsFixedByFirstBid(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d)
		f.enable(t) // weekly, 3 slots at 10000/6000/3000, reserve 1,000 sat
		a := f.bid(t, sat(10000), "Alpha", true)
		b := f.bid(t, sat(8000), "Beta", true)
		c := f.bid(t, sat(5000), "Gamma", true)
		loser := f.bid(t, sat(2000), "Delta", true)

		// The owner raises the reserve above three of the bids, cuts the
		// slots to one and switches to months.
		slots, reserve, month := 1, sat(9000), sponsor.Month
		st, err := f.sponsor.UpdateSettings(ctx, f.offering.ID, sponsor.SettingsInput{Slots: &slots, Reserve: &reserve, Period: &month})
		if err != nil {
			t.Fatal(err)
		}
		open, err := f.sponsor.OpenPeriods(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		if len(open) != 5 { // the week with bids and four months
			t.Fatalf("%d open periods: %+v", len(open), open)
		}
		week := open[0]
		if sponsor.FormatStart(week.Start) != period || sponsor.FormatStart(week.End) != "2026-12-14T00:00:00Z" || !week.Fixed ||
			week.Slots != 3 || week.Reserve != sat(1000) || len(week.Weights) != 3 || week.Weights[2] != 3000 || week.Bids != 4 {
			t.Fatalf("the week with bids: %+v", week)
		}
		if m := open[1]; sponsor.FormatStart(m.Start) != "2027-01-01T00:00:00Z" || m.Fixed || m.Slots != 1 || m.Reserve != sat(9000) || m.Bids != 0 {
			t.Fatalf("the first month: %+v", m)
		}

		// The week still takes bids at its own reserve, not the new one.
		late := f.bid(t, sat(1500), "Late", false)
		if !late.Bid.PeriodEnd.Equal(week.End) {
			t.Fatalf("late bid ends %s, want the week's end", late.Bid.PeriodEnd)
		}
		before := f.counts(t)
		for _, tt := range []struct{ start string }{{period}, {"2027-01-01T00:00:00Z"}} {
			_, err := f.sponsor.PlaceBid(ctx, sponsor.BidRequest{Slug: "game", Start: tt.start, Amount: sat(900),
				Display: sponsor.Display{Name: "Low", URL: "https://low.example"}})
			wantCode(t, err, apperr.Unprocessable)
		}
		// A week that has no bid is not a period any more.
		_, err = f.sponsor.PlaceBid(ctx, sponsor.BidRequest{Slug: "game", Start: "2026-12-14T00:00:00Z", Amount: sat(20000),
			Display: sponsor.Display{Name: "Week", URL: "https://week.example"}})
		wantCode(t, err, apperr.NotFound)
		if after := f.counts(t); after != before {
			t.Fatalf("refused bids wrote:\n%s\n%s", before, after)
		}
		f.check(t)

		// Cleared under the week's rules: the worked example.
		f.clock.Advance(5 * 24 * time.Hour)
		if n, err := f.sponsor.ClearDue(ctx); err != nil || n != 1 {
			t.Fatalf("cleared %d, %v", n, err)
		}
		rec, err := f.sponsor.PeriodRecord(ctx, f.offering, period)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Slots != 3 || rec.Reserve != sat(1000) || rec.Weights[1] != 6000 || sponsor.FormatStart(rec.End) != "2026-12-14T00:00:00Z" {
			t.Fatalf("record rules: %+v", rec.Auction)
		}
		want := map[string]int64{a.Bid.PublicID: 5300, b.Bid.PublicID: 2100, c.Bid.PublicID: 600}
		if len(rec.Winners) != 3 || len(rec.Losers) != 1 || rec.Losers[0].Bid != loser.Bid.PublicID {
			t.Fatalf("outcome %+v", rec.Outcome)
		}
		for _, w := range rec.Winners {
			if w.Charge != sat(want[w.Bid]) {
				t.Errorf("%s charged %s, want %d sat", w.Bid, w.Charge, want[w.Bid])
			}
		}
		if got := f.balance(t, ledger.OfferingEscrow(f.offering.ID)); got != 0 {
			t.Errorf("escrow %s after clearing", got)
		}
		if got := f.bidRow(t, late.Bid.PublicID).State; got != sponsor.BidUnpaid {
			t.Errorf("unpaid late bid %s", got)
		}
		// Shown with the week's weights, not the settings' single slot.
		shown, err := f.sponsor.Showing(ctx, f.offering.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(shown) != 3 || shown[2].Weight != 3000 {
			t.Errorf("shown %+v", shown)
		}
		f.check(t)

		// Found by its start after the week ended, whatever the length now;
		// a week that never had a bid is no period.
		f.clock.Advance(10 * 24 * time.Hour)
		if again, err := f.sponsor.PeriodRecord(ctx, f.offering, period); err != nil || len(again.Winners) != 3 {
			t.Fatalf("record after the change: %+v %v", again, err)
		}
		_, err = f.sponsor.PeriodRecord(ctx, f.offering, "2026-12-14T00:00:00Z")
		wantCode(t, err, apperr.NotFound)
		f.check(t)
	})
}

// TestDisableWithBids: disabling sponsorship closes bidding, and the
// periods that already have bids still clear under their rules (their
// sponsors paid for them); withdrawing stays open until the start.
func TestDisableWithBids(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d)
		f.enable(t)
		a := f.bid(t, sat(10000), "Alpha", true)
		w := f.bid(t, sat(3000), "Withdrawn", true)
		off := false
		if _, err := f.sponsor.UpdateSettings(ctx, f.offering.ID, sponsor.SettingsInput{Enabled: &off}); err != nil {
			t.Fatal(err)
		}
		before := f.counts(t)
		_, err := f.sponsor.PlaceBid(ctx, sponsor.BidRequest{Slug: "game", Start: period, Amount: sat(5000),
			Display: sponsor.Display{Name: "Off", URL: "https://off.example"}})
		wantCode(t, err, apperr.Conflict)
		if after := f.counts(t); after != before {
			t.Fatalf("refused bid wrote:\n%s\n%s", before, after)
		}
		if _, err := f.sponsor.WithdrawBid(ctx, w.Bid.PublicID, w.ClaimKey); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(5 * 24 * time.Hour)
		if n, err := f.sponsor.ClearDue(ctx); err != nil || n != 1 {
			t.Fatalf("cleared %d, %v", n, err)
		}
		got := f.bidRow(t, a.Bid.PublicID)
		if got.State != sponsor.BidWon || got.Charge != sat(1000) { // alone: the reserve
			t.Fatalf("winner %+v", got)
		}
		if refund := f.balance(t, ledger.BidRefund(a.Bid.ID)); refund != sat(9000) {
			t.Errorf("winner's change %s", refund)
		}
		if refund := f.balance(t, ledger.BidRefund(w.Bid.ID)); refund != sat(3000) {
			t.Errorf("withdrawn refund %s", refund)
		}
		if escrow := f.balance(t, ledger.OfferingEscrow(f.offering.ID)); escrow != 0 {
			t.Errorf("escrow %s", escrow)
		}
		f.check(t)
	})
}

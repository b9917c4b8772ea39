package invest_test

import (
	"context"
	"testing"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/invest"
)

// TestLedgerNotes: on the offering's public ledger, an investment and a
// revenue event are named, with amounts, and a name only when public.
func TestLedgerNotes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		f.setTerms(t, 5000, 15000, 1_000, 1_000_000, 0)
		f.investPaid(t, 100_000)
		m, err := f.invest.Invest(ctx, invest.InvestRequest{Slug: "site", Amount: 300_000_000, Name: "Ada", Public: true})
		if err != nil {
			t.Fatal(err)
		}
		f.pay(t, m.Invoice)
		f.revenue(t, 10_000)
		f.check(t)
		page, err := f.offerings.PublicLedger(ctx, f.offering.ID, 50, 0)
		if err != nil {
			t.Fatal(err)
		}
		ids := make([]int64, len(page.Entries))
		for i, e := range page.Entries {
			ids[i] = e.ID
		}
		notes, err := f.invest.LedgerNotes(ctx, f.offering.ID, ids)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{
			"investment · 100,000 sats":       false,
			"investment · 300,000 sats · Ada": false,
			"revenue event · 10,000 sats · 5,000 sats to 2 investors · 5,000 sats to the runway": false,
		}
		for _, n := range notes {
			if _, ok := want[n]; !ok {
				t.Errorf("unexpected note %q", n)
			}
			want[n] = true
		}
		for n, seen := range want {
			if !seen {
				t.Errorf("no note %q among %v", n, notes)
			}
		}
	})
}

package hooks_test

import (
	"context"
	"testing"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/invest"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/money"
)

// TestRevenueDistributedSentOnce: a revenue event reaches the webhooks
// that subscribe to it, once, however often it is posted.
func TestRevenueDistributedSentOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		r := newReceiver(t)
		subscribe(t, e, e.hooks, r, []string{"revenue_distributed"}, nil)
		other := newReceiver(t)
		subscribe(t, e, e.hooks, other, []string{"funded"}, nil)
		inv := invest.New(d, ledger.New(d, e.clock.Now), e.offerings, e.funding, invest.WithClock(e.clock.Now), invest.WithNotifier(e.hooks))
		ev := invest.RevenueEvent{OfferingID: e.offering.ID, Amount: money.MustSats(5_000), Key: "revenue:hook-test", From: ledger.Lightning}
		for range 2 {
			if err := d.Tx(ctx, func(tx db.Tx) error { _, err := inv.Distribute(ctx, tx, ev); return err }); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := e.hooks.SendDue(ctx); err != nil {
			t.Fatal(err)
		}
		ms := r.messages()
		if len(ms) != 1 || ms[0].raw["type"] != "revenue_distributed" || len(other.messages()) != 0 {
			t.Fatalf("got %d messages: %+v; the funded-only webhook got %d", len(ms), ms, len(other.messages()))
		}
		data := ms[0].raw["data"].(map[string]any)
		if data["offering"] != "my-site" || data["amount_msat"] != 5_000_000.0 || data["runway_msat"] != 5_000_000.0 || data["investors_msat"] != 0.0 {
			t.Fatalf("payload data: %v", data)
		}
	})
}

package hooks_test

import (
	"context"
	"testing"
	"time"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/funding"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/money"
	"github.com/keepalive/keepalive/internal/sponsor"
)

// TestSponsorshipStartedSentOnce: a period clears with two winners; the
// subscribed webhook hears sponsorship_started once, though clearing
// runs twice (and the job once more), and another webhook not at all.
// With equal weights each winner pays the losing bid, 3,000 sat.
func TestSponsorshipStartedSentOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		r := newReceiver(t)
		subscribe(t, e, e.hooks, r, []string{"sponsorship_started"}, nil)
		other := newReceiver(t)
		subscribe(t, e, e.hooks, other, []string{"funded"}, nil)
		l := ledger.New(d, e.clock.Now)
		s := sponsor.New(d, l, e.offerings, e.funding, sponsor.RunwayRevenue{Offerings: e.offerings}, sponsor.Config{}, nil, e.clock.Now)
		s.SetEvents(e.hooks)
		e.funding.OnSettle(funding.PurposeBid, s.SettleInvoice)
		on, slots := true, 2
		if _, err := s.UpdateSettings(ctx, e.offering.ID, sponsor.SettingsInput{Enabled: &on, Slots: &slots, Period: ptr(sponsor.Day), Weights: []int{10000, 10000}}); err != nil {
			t.Fatal(err)
		}
		start := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC) // the clock is 1 November, noon
		for i, name := range []string{"Alpha", "Beta", "Gamma"} {
			p, err := s.PlaceBid(ctx, sponsor.BidRequest{Slug: e.offering.Slug, Start: sponsor.FormatStart(start),
				Amount: money.MustSats(int64(5000 - 1000*i)), Display: sponsor.Display{Name: name, URL: "https://example.com/" + name}})
			if err != nil {
				t.Fatal(err)
			}
			e.settle(t, p.Invoice.PaymentHash)
		}
		e.clock.Advance(13 * time.Hour)
		for i := range 2 {
			if _, cleared, err := s.ClearPeriod(ctx, e.offering.ID, start); err != nil || cleared != (i == 0) {
				t.Fatalf("clearing %d: cleared %v, %v", i, cleared, err)
			}
		}
		if n, err := s.ClearDue(ctx); err != nil || n != 0 {
			t.Fatalf("ClearDue = %d, %v", n, err)
		}
		for range 2 {
			if _, err := e.hooks.SendDue(ctx); err != nil {
				t.Fatal(err)
			}
		}
		ms := r.messages()
		if len(ms) != 1 || ms[0].raw["type"] != "sponsorship_started" || len(other.messages()) != 0 {
			t.Fatalf("got %d messages: %+v; the funded-only webhook got %d", len(ms), ms, len(other.messages()))
		}
		data := ms[0].raw["data"].(map[string]any)
		winners, _ := data["winners"].([]any)
		if data["offering"] != "my-site" || data["start"] != "2026-11-02T00:00:00Z" || data["end"] != "2026-11-03T00:00:00Z" || len(winners) != 2 {
			t.Fatalf("payload data: %v", data)
		}
		top := winners[0].(map[string]any)
		if top["slot"] != 1.0 || top["charge_msat"] != 3_000_000.0 || top["display"].(map[string]any)["name"] != "Alpha" {
			t.Fatalf("top winner: %v", top)
		}
		if err := l.CheckInvariants(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

func ptr[T any](v T) *T { return &v }

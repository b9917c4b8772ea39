package sponsor_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/sponsor"
)

// TestRecordReadWhileClearing: a period's record read while the period
// is being cleared is either "being cleared" (404) or the whole record,
// never an empty record, as if nobody had bid, published in between.
func TestRecordReadWhileClearing(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d)
		const periods = 25
		hour, slots, reserve, open, on := sponsor.Hour, 2, sat(1000), periods, true
		if _, err := f.sponsor.UpdateSettings(ctx, f.offering.ID, sponsor.SettingsInput{Enabled: &on, Period: &hour, Slots: &slots,
			Reserve: &reserve, Weights: []int{10000, 5000}, OpenPeriods: &open}); err != nil {
			t.Fatal(err)
		}
		starts := sponsor.Hour.Open(f.clock.Now(), periods)
		for _, start := range starts {
			for k, name := range []string{"Ann", "Bob", "Cat"} {
				p, err := f.sponsor.PlaceBid(ctx, sponsor.BidRequest{Slug: "game", Start: sponsor.FormatStart(start), Amount: sat(int64(2000 + 1000*k)),
					Display: sponsor.Display{Name: name, URL: "https://" + strings.ToLower(name) + ".example"}})
				if err != nil {
					t.Fatal(err)
				}
				f.pay(t, p.Invoice.PaymentHash)
			}
		}
		f.clock.Advance(starts[len(starts)-1].Add(time.Minute).Sub(f.clock.Now()))
		for _, start := range starts {
			name := sponsor.FormatStart(start)
			done := make(chan error, 1)
			go func() {
				_, _, err := f.sponsor.ClearPeriod(ctx, f.offering.ID, start)
				done <- err
			}()
			cleared := false
			for !cleared {
				select {
				case err := <-done:
					if err != nil {
						t.Fatal(err)
					}
					cleared = true
				default:
				}
				rec, err := f.sponsor.PeriodRecord(ctx, f.offering, name)
				if apperr.CodeOf(err) == apperr.NotFound {
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				if len(rec.Bids) != 3 || len(rec.Winners) != 2 {
					t.Fatalf("record of %s read while clearing: %d bids, %d winners; want 3 and 2", name, len(rec.Bids), len(rec.Winners))
				}
			}
		}
		f.check(t)
	})
}

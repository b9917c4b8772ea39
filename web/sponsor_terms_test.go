package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/sponsor/clearing"
)

// TestSponsorTermsFixedByFirstBid: the owner's new reserve, slots and
// length leave a period with bids alone; the public periods list shows
// each period's own rules; the record is found by its start after the
// length changed; disabling closes bidding.
func TestSponsorTermsFixedByFirstBid(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s, sp := newSponsorSite(t, d)
		_, key := createOffering(t, s, createBody)
		auth := []string{"Authorization", "Bearer " + key}
		s.sponsorTerms(t, key)
		s.placeBid(t, 10000, "Alpha")
		s.placeBid(t, 2000, "Beta")

		status, body, _ := s.do(t, "PUT", "/api/v1/offerings/my-site/sponsorship", `{"slots":1,"reserve_msat":5000000,"period":"month"}`, auth...)
		week := `{"start":"2026-12-07T00:00:00Z","end":"2026-12-14T00:00:00Z","bids":2,"slots":3,"weights_bps":[10000,6000,3000],"reserve_msat":1000000,"fixed":true}`
		month := `{"start":"2027-01-01T00:00:00Z","end":"2027-02-01T00:00:00Z","bids":0,"slots":1,"weights_bps":[10000],"reserve_msat":5000000,"fixed":false}`
		if status != 200 || !strings.Contains(body, `"periods":[`+week+`,`+month) {
			t.Fatalf("put sponsorship: %d %s", status, body)
		}
		if _, page, _ := s.do(t, "GET", "/o/my-site/sponsor", ""); !strings.Contains(page, "its own terms: until Mon 14 Dec 00:00 UTC, 3 slot(s), reserve 1,000 sats") {
			t.Errorf("bid form does not show the week's own terms:\n%s", page)
		}
		// The week takes a bid at its own reserve; a month does not at it.
		s.placeBid(t, 1500, "Gamma")
		for _, bad := range []struct {
			name, start string
			status      int
		}{
			{"below the new reserve", "2027-01-01T00:00:00Z", 422},
			{"a week with no bid, after the change to months", "2026-12-14T00:00:00Z", 404},
		} {
			before := s.sponsorCounts(t)
			status, body, _ := s.do(t, "POST", "/api/v1/offerings/my-site/periods/"+bad.start+"/bids", `{"amount_msat":1500000,"display":{"name":"x","url":"https://x.example"}}`)
			if status != bad.status || strings.Contains(body, "sponsor:") {
				t.Errorf("%s: %d %s", bad.name, status, body)
			}
			if after := s.sponsorCounts(t); after != before {
				t.Errorf("%s wrote: %s → %s", bad.name, before, after)
			}
		}

		s.clock.Advance(5 * 24 * time.Hour)
		if n, err := sp.ClearDue(context.Background()); err != nil || n != 1 {
			t.Fatalf("ClearDue = %d, %v", n, err)
		}
		s.clock.Advance(10 * 24 * time.Hour) // the week is over; the settings still say months
		status, body, _ = s.do(t, "GET", "/api/v1/offerings/my-site/periods/"+firstPeriod, "")
		if status != 200 {
			t.Fatalf("record after the length changed: %d %s", status, body)
		}
		rec, err := clearing.ReadRecord(strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if err := clearing.Verify(rec); err != nil {
			t.Fatalf("record does not verify: %v\n%s", err, body)
		}
		// Three winners under the week's rules; with one slot and a 5,000-sat
		// reserve there would have been one.
		if rec.Slots != 3 || rec.Reserve != 1_000_000 || len(rec.Winners) != 3 || rec.Winners[2].Charge != 300_000 {
			t.Fatalf("record: %s", body)
		}
		if status, body, _ := s.do(t, "GET", "/api/v1/offerings/my-site/periods/2026-12-14T00:00:00Z", ""); status != 404 {
			t.Errorf("a week that was never a period: %d %s", status, body)
		}

		// Disabled: no more bids, 409 and nothing written.
		if status, body, _ := s.do(t, "PUT", "/api/v1/offerings/my-site/sponsorship", `{"enabled":false}`, auth...); status != 200 {
			t.Fatalf("disable: %d %s", status, body)
		}
		before := s.sponsorCounts(t)
		if status, body, _ := s.do(t, "POST", "/api/v1/offerings/my-site/periods/2027-01-01T00:00:00Z/bids", `{"amount_msat":6000000,"display":{"name":"x","url":"https://x.example"}}`); status != 409 {
			t.Errorf("bid while disabled: %d %s", status, body)
		}
		if after := s.sponsorCounts(t); after != before {
			t.Errorf("bid while disabled wrote: %s → %s", before, after)
		}
		if err := s.ledger.CheckInvariants(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

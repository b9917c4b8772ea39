package web_test

import (
	"context"
	"strings"
	"testing"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/lightning"
	"github.com/keepalive/keepalive/internal/lightning/demo"
)

// TestSponsorshipProbes: inputs an outside prober sent that the site took
// (or paid) when it should have answered a clear 4xx and written nothing.
func TestSponsorshipProbes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s, _ := newSponsorSite(t, d)
		_, key := createOffering(t, s, createBody)
		auth := []string{"Authorization", "Bearer " + key}
		if status, body, _ := s.do(t, "PUT", "/api/v1/offerings/my-site/sponsorship",
			`{"enabled":true,"slots":3,"period":"week","reserve_msat":1000000}`, auth...); status != 200 {
			t.Fatalf("put sponsorship: %d %s", status, body)
		}
		// A bad reserve is the reserve's problem alone, said as it is.
		for _, bad := range []struct{ body, want string }{
			{`{"reserve_msat":-1}`, "positive"},
			{`{"reserve_msat":9223372036854775807}`, "21,000,000 BTC"},
		} {
			status, body, _ := s.do(t, "PUT", "/api/v1/offerings/my-site/sponsorship", bad.body, auth...)
			if status != 422 || !strings.Contains(body, bad.want) || strings.Contains(body, "weights_bps") {
				t.Errorf("PUT %s: %d %s, want 422 about the reserve only", bad.body, status, body)
			}
		}
		bids := "/api/v1/offerings/my-site/periods/" + firstPeriod + "/bids"
		for _, bad := range []struct {
			name, body string
			status     int
		}{
			// Which amount counts would depend on the parser reading it.
			{"duplicate key", `{"amount_msat":1000000,"amount_msat":90000000,"display":{"name":"x","url":"https://x.example"}}`, 400},
			{"duplicate nested key", `{"amount_msat":1000000,"display":{"name":"x","name":"y","url":"https://x.example"}}`, 400},
			// encoding/json would store U+FFFD in place of the bad byte.
			{"invalid UTF-8", "{\"amount_msat\":1000000,\"display\":{\"name\":\"a\xffb\",\"url\":\"https://x.example\"}}", 400},
			// A host in another script can pass for a well-known one.
			{"IDN homograph host", `{"amount_msat":1000000,"display":{"name":"x","url":"https://аpple.com"}}`, 422},
		} {
			before := s.sponsorCounts(t)
			if status, body, _ := s.do(t, "POST", bids, bad.body); status != bad.status {
				t.Errorf("%s: %d %s, want %d", bad.name, status, body, bad.status)
			}
			if after := s.sponsorCounts(t); after != before {
				t.Errorf("%s wrote: %s → %s", bad.name, before, after)
			}
		}
		// The same host in its ASCII (punycode) form is what a bid shows.
		if status, body, _ := s.do(t, "POST", bids, `{"amount_msat":1000000,"display":{"name":"x","url":"https://xn--pple-43d.com"}}`); status != 201 {
			t.Errorf("punycode host: %d %s", status, body)
		}

		// A refund is paid in whole sats: a 1-msat invoice is refused,
		// not paid.
		p := s.placeBid(t, 2000, "Alpha")
		if status, body, _ := s.do(t, "POST", "/api/v1/bids/"+p.BidID+"/withdraw", "", "Authorization", "Bearer "+p.ClaimKey); status != 200 {
			t.Fatalf("withdraw: %d %s", status, body)
		}
		inv, err := demo.New(demo.WithClock(s.clock.Now)).CreateInvoice(context.Background(), lightning.CreateInvoiceRequest{AmountMsat: 1, Memo: "dust"})
		if err != nil {
			t.Fatal(err)
		}
		before := s.sponsorCounts(t)
		status, body, _ := s.do(t, "POST", "/api/v1/bids/"+p.BidID+"/withdrawals", `{"destination":"`+inv.PaymentRequest+`"}`, "Authorization", "Bearer "+p.ClaimKey)
		if status != 422 || !strings.Contains(body, "sat") {
			t.Errorf("1-msat refund invoice: %d %s, want 422", status, body)
		}
		if after := s.sponsorCounts(t); after != before {
			t.Errorf("1-msat refund invoice wrote: %s → %s", before, after)
		}
	})
}

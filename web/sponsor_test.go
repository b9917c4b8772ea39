package web_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keepalive/keepalive/internal/clocktest"
	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/funding"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/lightning/demo"
	"github.com/keepalive/keepalive/internal/offering"
	"github.com/keepalive/keepalive/internal/sponsor"
	"github.com/keepalive/keepalive/internal/sponsor/clearing"
	"github.com/keepalive/keepalive/web"
)

// sponsorStart is a Wednesday: weekly periods start on Mondays 7, 14, 21, 28 December.
var sponsorStart = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

const firstPeriod = "2026-12-07T00:00:00Z"

// newSponsorSite is newSite with sponsorship wired as main wires it.
func newSponsorSite(t testing.TB, d *db.DB) (*site, *sponsor.Service) {
	t.Helper()
	c := clocktest.New(sponsorStart)
	l := ledger.New(d, c.Now)
	svc := offering.New(d, l, nil, offering.WithClock(c.Now), offering.WithStatusTTL(0))
	node := demo.New(demo.WithClock(c.Now))
	fund := funding.New(d, l, node, svc, funding.Limits{MinDonation: 1_000, MaxDonation: 10_000_000_000}, nil, c.Now)
	sp := sponsor.New(d, l, svc, fund, sponsor.RunwayRevenue{Offerings: svc}, sponsor.Config{}, nil, c.Now)
	fund.OnSettle(funding.PurposeBid, sp.SettleInvoice)
	s := &site{db: d, offerings: svc, funding: fund, node: node, ledger: l, clock: c}
	s.Server = httptest.NewUnstartedServer(nil)
	srv := web.New(web.Deps{BaseURL: "http://" + s.Listener.Addr().String(), Demo: true, CookieKey: []byte("0123456789abcdef0123456789abcdef"),
		Offerings: svc, Funding: fund, DemoPayer: node, MinDonation: 1_000, MaxDonation: 10_000_000_000, Sponsors: sp,
		InvoiceRate: web.RateLimits{PerClient: 1000, PerClientBurst: 1000, Total: 1000, TotalBurst: 1000}})
	s.Config.Handler = srv
	s.Start()
	t.Cleanup(s.Close)
	return s, sp
}

type placedBid struct {
	BidID, ClaimKey, PaymentHash string
}

func (s *site) placeBid(t *testing.T, amountSat int64, name string) placedBid {
	t.Helper()
	host := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' {
			return r
		}
		return -1
	}, strings.ToLower(name))
	body := fmt.Sprintf(`{"amount_msat":%d,"display":{"name":%q,"url":"https://%s.example","tagline":"hello"}}`, amountSat*1000, name, host)
	status, resp, _ := s.do(t, "POST", "/api/v1/offerings/my-site/periods/"+firstPeriod+"/bids", body)
	if status != 201 {
		t.Fatalf("bid: %d %s", status, resp)
	}
	var p struct {
		BidID          string `json:"bid_id"`
		ClaimKey       string `json:"claim_key"`
		PaymentHash    string `json:"payment_hash"`
		PaymentRequest string `json:"payment_request"`
	}
	decodeInto(t, resp, &p)
	if !strings.HasPrefix(p.ClaimKey, "ka_ck_") || !strings.HasPrefix(p.PaymentRequest, "lnbcrt") {
		t.Fatalf("bid answer: %s", resp)
	}
	s.clock.Advance(time.Second)
	if status, resp, _ := s.do(t, "POST", "/api/v1/demo/invoices/"+p.PaymentHash+"/pay", ""); status != 200 {
		t.Fatalf("pay: %d %s", status, resp)
	}
	return placedBid{p.BidID, p.ClaimKey, p.PaymentHash}
}

func (s *site) sponsorCounts(t *testing.T) string {
	t.Helper()
	var out []string
	for _, table := range []string{"sponsor_bids", "sponsor_bid_invoices", "invoices", "transfers", "sponsorship_settings", "sponsor_period_terms", "payouts"} {
		var n int64
		if err := s.db.Gorm(context.Background()).Table(table).Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s=%d", table, n))
	}
	return strings.Join(out, " ")
}

func TestSponsorshipAPI(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s, sp := newSponsorSite(t, d)
		_, key := createOffering(t, s, createBody)
		auth := []string{"Authorization", "Bearer " + key}

		status, body, _ := s.do(t, "PUT", "/api/v1/offerings/my-site/sponsorship",
			`{"enabled":true,"slots":3,"period":"week","reserve_msat":1000000,"weights_bps":[10000,6000,3000],"open_periods":4}`, auth...)
		if status != 200 || !strings.Contains(body, `"periods":[{"start":"2026-12-07T00:00:00Z","end":"2026-12-14T00:00:00Z","bids":0,"slots":3,"weights_bps":[10000,6000,3000],"reserve_msat":1000000,"fixed":false}`) {
			t.Fatalf("put sponsorship: %d %s", status, body)
		}
		for _, bad := range []struct {
			body   string
			header []string
			status int
		}{
			{`{"enabled":true}`, nil, 401},
			{`{"slots":0}`, auth, 422},
			{`{"period":"year"}`, auth, 422},
			{`{"weights_bps":[10000,6000]}`, auth, 422},
			{`{"reserve_msat":-5}`, auth, 422},
			{`{"colour":"red"}`, auth, 400},
		} {
			before := s.sponsorCounts(t)
			if status, body, _ := s.do(t, "PUT", "/api/v1/offerings/my-site/sponsorship", bad.body, bad.header...); status != bad.status {
				t.Errorf("PUT %s: %d %s, want %d", bad.body, status, body, bad.status)
			}
			if after := s.sponsorCounts(t); after != before {
				t.Errorf("PUT %s wrote: %s → %s", bad.body, before, after)
			}
		}

		a := s.placeBid(t, 10000, "Alpha")
		b := s.placeBid(t, 8000, "Beta")
		c := s.placeBid(t, 5000, "Gamma")
		dd := s.placeBid(t, 2000, "Delta")
		_, body, _ = s.do(t, "GET", "/api/v1/offerings/my-site/sponsorship", "")
		if !strings.Contains(body, `"bids":4`) || strings.Contains(body, "10000000") {
			t.Fatalf("public sponsorship shows counts only: %s", body)
		}
		// Bids are sealed: not on the donor wall, amounts nowhere public.
		if _, page, _ := s.do(t, "GET", "/o/my-site", ""); strings.Contains(page, "Anonymous") || strings.Contains(page, "8,000 sats") {
			t.Fatalf("a bid shows on the offering page before clearing:\n%s", page)
		}
		status, body, _ = s.do(t, "GET", "/api/v1/bids/"+a.BidID, "", "Authorization", "Bearer "+a.ClaimKey)
		if status != 200 || !strings.Contains(body, `"state":"active"`) || !strings.Contains(body, `"amount_msat":10000000`) {
			t.Fatalf("bid: %d %s", status, body)
		}

		// Bad input: a clear 4xx and nothing written.
		longName := strings.Repeat("n", 41)
		for _, bad := range []struct {
			name, method, path, body string
			header                   []string
			status                   int
		}{
			{"below reserve", "POST", "/api/v1/offerings/my-site/periods/" + firstPeriod + "/bids", `{"amount_msat":999999,"display":{"name":"x","url":"https://x.example"}}`, nil, 422},
			{"closed period", "POST", "/api/v1/offerings/my-site/periods/2026-11-30T00:00:00Z/bids", `{"amount_msat":5000000,"display":{"name":"x","url":"https://x.example"}}`, nil, 409},
			{"unknown period", "POST", "/api/v1/offerings/my-site/periods/2026-12-08T00:00:00Z/bids", `{"amount_msat":5000000,"display":{"name":"x","url":"https://x.example"}}`, nil, 404},
			{"garbage period", "POST", "/api/v1/offerings/my-site/periods/next-week/bids", `{"amount_msat":5000000,"display":{"name":"x","url":"https://x.example"}}`, nil, 404},
			{"name too long", "POST", "/api/v1/offerings/my-site/periods/" + firstPeriod + "/bids", `{"amount_msat":5000000,"display":{"name":"` + longName + `","url":"https://x.example"}}`, nil, 422},
			{"not https", "POST", "/api/v1/offerings/my-site/periods/" + firstPeriod + "/bids", `{"amount_msat":5000000,"display":{"name":"x","url":"http://x.example"}}`, nil, 422},
			{"forged claim key", "POST", "/api/v1/bids/" + a.BidID + "/raise", `{"amount_msat":20000000}`, []string{"Authorization", "Bearer ka_ck_" + strings.Repeat("Z", 43)}, 401},
			{"no claim key", "GET", "/api/v1/bids/" + a.BidID, "", nil, 401},
			{"raising someone else's bid", "POST", "/api/v1/bids/" + a.BidID + "/raise", `{"amount_msat":20000000}`, []string{"Authorization", "Bearer " + b.ClaimKey}, 403},
			{"reading someone else's bid", "GET", "/api/v1/bids/" + a.BidID, "", []string{"Authorization", "Bearer " + b.ClaimKey}, 403},
			{"rejecting without the manage key", "POST", "/api/v1/offerings/my-site/bids/" + a.BidID + "/reject", `{"reason":"no"}`, []string{"Authorization", "Bearer " + a.ClaimKey}, 401},
			{"record before clearing", "GET", "/api/v1/offerings/my-site/periods/" + firstPeriod, "", nil, 404},
		} {
			before := s.sponsorCounts(t)
			status, body, _ := s.do(t, bad.method, bad.path, bad.body, bad.header...)
			if status != bad.status || strings.Contains(body, "sponsor:") {
				t.Errorf("%s: %d %s, want %d", bad.name, status, body, bad.status)
			}
			if after := s.sponsorCounts(t); after != before {
				t.Errorf("%s wrote: %s → %s", bad.name, before, after)
			}
		}

		// The period starts and clears; the record verifies.
		s.clock.Advance(5 * 24 * time.Hour)
		if n, err := sp.ClearDue(context.Background()); err != nil || n != 1 {
			t.Fatalf("ClearDue = %d, %v", n, err)
		}
		before := s.sponsorCounts(t)
		if status, _, _ := s.do(t, "POST", "/api/v1/bids/"+dd.BidID+"/withdraw", "", "Authorization", "Bearer "+dd.ClaimKey); status != 409 {
			t.Errorf("withdrawing after close: %d", status)
		}
		if after := s.sponsorCounts(t); after != before {
			t.Errorf("withdrawing after close wrote: %s → %s", before, after)
		}
		status, body, _ = s.do(t, "GET", "/api/v1/offerings/my-site/periods/"+firstPeriod, "")
		if status != 200 || strings.Contains(body, "ka_ck_") || strings.Contains(body, a.PaymentHash) {
			t.Fatalf("record: %d %s", status, body)
		}
		rec, err := clearing.ReadRecord(strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if err := clearing.Verify(rec); err != nil {
			t.Fatalf("published record does not verify: %v\n%s", err, body)
		}
		if len(rec.Winners) != 3 || rec.Winners[0].Charge != 5_300_000 || rec.Winners[1].Bid != b.BidID || rec.Losers[0].Bid != dd.BidID {
			t.Fatalf("record: %s", body)
		}
		_, body, _ = s.do(t, "GET", "/api/v1/bids/"+c.BidID, "", "Authorization", "Bearer "+c.ClaimKey)
		if !strings.Contains(body, `"state":"won"`) || !strings.Contains(body, `"slot":3`) || !strings.Contains(body, `"refund_payable_msat":4400000`) {
			t.Fatalf("winner's bid: %s", body)
		}

		// Winners on the offering page, by slot, rel="sponsored".
		_, page, _ := s.do(t, "GET", "/o/my-site", "")
		iA, iB := strings.Index(page, "https://alpha.example"), strings.Index(page, "https://beta.example")
		if iA < 0 || iB < iA || !strings.Contains(page, `rel="sponsored noopener"`) || strings.Contains(page, "delta.example") {
			t.Fatalf("offering page sponsors wrong:\n%s", page)
		}
		_, page, _ = s.do(t, "GET", "/o/my-site/widget", "")
		if !strings.Contains(page, `data-testid="widget-sponsors"`) || !strings.Contains(page, "https://alpha.example") {
			t.Fatalf("widget lacks the sponsor line:\n%s", page)
		}
		_, page, _ = s.do(t, "GET", "/sponsors", "")
		if !strings.Contains(page, "https://gamma.example") {
			t.Fatalf("directory lacks the winners")
		}

		// The loser's page shows its refund; it withdraws it over Lightning.
		br := newBrowser(t, s)
		_, page, _ = br.post("/sponsor", "/sponsor", url.Values{"claim_key": {dd.ClaimKey}})
		if !strings.Contains(page, `data-state="lost"`) || !strings.Contains(page, "2,000 sats") {
			t.Fatalf("sponsor page:\n%s", page)
		}
		_, page, _ = br.post("/sponsor", "/sponsor", url.Values{"claim_key": {a.ClaimKey}})
		if !strings.Contains(page, "won slot 1") {
			t.Fatalf("winner's page:\n%s", page)
		}
	})
}

func TestSponsorPages(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s, _ := newSponsorSite(t, d)
		br := newBrowser(t, s)
		status, _, _ := br.post("/offerings/new", "/offerings", offeringForm("form-site"))
		if status != 201 {
			t.Fatalf("create: %d", status)
		}
		// The owner sets the terms with the form.
		status, page, _ := br.post("/offerings/form-site/sponsorship", "/offerings/form-site/sponsorship", url.Values{
			"enabled": {"on"}, "slots": {"2"}, "period": {"day"}, "reserve": {"500"}, "weights": {"10000,5000"}, "open_periods": {"3"}})
		if status != 200 || !strings.Contains(page, `data-testid="saved"`) {
			t.Fatalf("settings: %d %s", status, page)
		}
		status, page, _ = br.post("/offerings/form-site/sponsorship", "/offerings/form-site/sponsorship", url.Values{
			"enabled": {"on"}, "slots": {"2"}, "period": {"day"}, "reserve": {"500"}, "weights": {"10000,12000"}, "open_periods": {"3"}})
		if status != 422 || !strings.Contains(page, "never increasing") {
			t.Fatalf("bad settings: %d", status)
		}
		// A visitor bids with the form and gets a claim key once.
		_, page, _ = br.get("/o/form-site")
		if !strings.Contains(page, `href="/o/form-site/sponsor"`) {
			t.Fatal("offering page does not invite sponsors")
		}
		status, page, _ = br.post("/o/form-site/sponsor", "/o/form-site/sponsor", url.Values{
			"period": {"2026-12-03T00:00:00Z"}, "amount": {"800"}, "name": {"Acme"}, "url": {"https://acme.example"}, "tagline": {"Rockets"}})
		if status != 201 || !strings.Contains(page, "ka_ck_") || !strings.Contains(page, `href="/invoices/`) {
			t.Fatalf("bid form: %d %s", status, page)
		}
		status, page, _ = br.post("/o/form-site/sponsor", "/o/form-site/sponsor", url.Values{
			"period": {"2026-12-03T00:00:00Z"}, "amount": {"100"}, "name": {"Acme"}, "url": {"http://acme.example"}})
		if status != 422 || !strings.Contains(page, "https://") || !strings.Contains(page, "reserve") {
			t.Fatalf("bad bid: %d %s", status, page)
		}
	})
}

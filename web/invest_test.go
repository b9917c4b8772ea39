package web_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keepalive/keepalive/internal/clocktest"
	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/funding"
	"github.com/keepalive/keepalive/internal/invest"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/lightning"
	"github.com/keepalive/keepalive/internal/lightning/demo"
	"github.com/keepalive/keepalive/internal/offering"
	"github.com/keepalive/keepalive/internal/statustoken"
	"github.com/keepalive/keepalive/web"
)

// newInvestSite is newSite with investing and signed receipts.
func newInvestSite(t testing.TB, d *db.DB) (*site, *invest.Service, *statustoken.Signer) {
	t.Helper()
	c := clocktest.New(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	l := ledger.New(d, c.Now)
	svc := offering.New(d, l, nil, offering.WithClock(c.Now), offering.WithStatusTTL(0))
	node := demo.New(demo.WithClock(c.Now))
	fund := funding.New(d, l, node, svc, funding.Limits{MinDonation: 1_000, MaxDonation: 10_000_000_000}, nil, c.Now)
	inv := invest.New(d, l, svc, fund, invest.WithClock(c.Now))
	s := &site{db: d, offerings: svc, funding: fund, node: node, ledger: l, clock: c}
	s.Server = httptest.NewUnstartedServer(nil)
	base := "http://" + s.Listener.Addr().String()
	signer, err := statustoken.NewSigner(bytes.Repeat([]byte{7}, ed25519.SeedSize), base)
	if err != nil {
		t.Fatal(err)
	}
	srv := web.New(web.Deps{BaseURL: base, Demo: true, CookieKey: []byte("0123456789abcdef0123456789abcdef"),
		Offerings: svc, Funding: fund, DemoPayer: node, MinDonation: 1_000, MaxDonation: 10_000_000_000, Invest: inv, Tokens: signer,
		InvoiceRate: web.RateLimits{PerClient: 1000, PerClientBurst: 1000, Total: 1000, TotalBurst: 1000}})
	s.Config.Handler = srv
	s.Start()
	t.Cleanup(s.Close)
	return s, inv, signer
}

func decode(t testing.TB, body string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return m
}

// rows counts what investing writes, to check that refused requests write
// nothing.
func (s *site) rows(t testing.TB) string {
	t.Helper()
	var out []string
	for _, table := range []string{"investment_terms", "investments", "invoices", "revenue_events", "payouts", "transfers"} {
		var n int64
		if err := s.db.Gorm(context.Background()).Table(table).Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s=%d", table, n))
	}
	return strings.Join(out, " ")
}

const termsBody = `{"share_bps":5000,"cap_bps":15000,"min_msat":1000000,"max_msat":500000000,"raise_limit_msat":600000000}`

func (s *site) demoPay(t testing.TB, hash string) {
	t.Helper()
	if st, body, _ := s.do(t, "POST", "/api/v1/demo/invoices/"+hash+"/pay", ""); st != http.StatusOK {
		t.Fatalf("demo pay: %d %s", st, body)
	}
}

// TestInvestAPIJourney: terms, an investment paid, a revenue invoice
// paid, the investor's view and a receipt that verifies against the
// published key.
func TestInvestAPIJourney(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s, _, _ := newInvestSite(t, d)
		_, key := createOffering(t, s, createBody)
		auth := []string{"Authorization", "Bearer " + key}
		if st, body, _ := s.do(t, "PUT", "/api/v1/offerings/my-site/terms", termsBody, auth...); st != http.StatusOK {
			t.Fatalf("terms: %d %s", st, body)
		}
		st, body, _ := s.do(t, "GET", "/api/v1/offerings/my-site/terms", "")
		if st != http.StatusOK || decode(t, body)["share_bps"] != 5000.0 {
			t.Fatalf("public terms: %d %s", st, body)
		}
		st, body, _ = s.do(t, "POST", "/api/v1/offerings/my-site/investments", `{"amount_msat":100000000,"name":"Ann","public":true}`)
		if st != http.StatusCreated {
			t.Fatalf("invest: %d %s", st, body)
		}
		made := decode(t, body)
		claim := made["claim_key"].(string)
		id := int64(made["investment_id"].(float64))
		if !strings.HasPrefix(claim, "ka_ck_") || made["payment_request"] == "" || made["terms"].(map[string]any)["cap_bps"] != 15000.0 {
			t.Fatalf("made: %s", body)
		}
		bearer := []string{"Authorization", "Bearer " + claim}
		path := fmt.Sprintf("/api/v1/investments/%d", id)
		if st, body, _ := s.do(t, "GET", path, "", bearer...); st != http.StatusOK || decode(t, body)["state"] != "pending" {
			t.Fatalf("pending investment: %d %s", st, body)
		}
		s.demoPay(t, made["payment_hash"].(string))

		st, body, _ = s.do(t, "POST", "/api/v1/offerings/my-site/revenue", `{"amount_msat":20000000,"note":"ads"}`, auth...)
		if st != http.StatusCreated {
			t.Fatalf("revenue: %d %s", st, body)
		}
		s.demoPay(t, decode(t, body)["payment_hash"].(string))
		st, body, _ = s.do(t, "GET", path, "", bearer...)
		got := decode(t, body)
		if st != http.StatusOK || got["state"] != "active" || got["payable_msat"] != 10000000.0 || got["cap_msat"] != 150000000.0 || got["offering"] != "my-site" {
			t.Fatalf("active investment: %d %s", st, body)
		}
		// The public ledger names both, with the public investor's name.
		st, body, _ = s.do(t, "GET", "/o/my-site/ledger", "")
		if st != http.StatusOK || !strings.Contains(body, "investment · 100,000 sats · Ann") ||
			!strings.Contains(body, "revenue event · 20,000 sats · 10,000 sats to 1 investor · 10,000 sats to the runway") {
			t.Fatalf("public ledger: %d %s", st, body)
		}
		// From earned, at once: nothing has been earned yet.
		if st, body, _ := s.do(t, "POST", "/api/v1/offerings/my-site/revenue", `{"amount_msat":5000000,"from":"earned"}`, auth...); st != http.StatusConflict {
			t.Fatalf("revenue from empty earned: %d %s", st, body)
		}

		// The receipt verifies against the published key.
		st, body, _ = s.do(t, "GET", path+"/receipt", "", bearer...)
		if st != http.StatusOK {
			t.Fatalf("receipt: %d %s", st, body)
		}
		_, jwks, _ := s.do(t, "GET", "/.well-known/jwks.json", "")
		var set statustoken.JWKS
		if err := json.Unmarshal([]byte(jwks), &set); err != nil || len(set.Keys) != 1 {
			t.Fatalf("jwks: %s", jwks)
		}
		pub, _ := base64.RawURLEncoding.DecodeString(set.Keys[0].X)
		var r web.Receipt
		if err := statustoken.VerifyClaims(decode(t, body)["receipt"].(string), ed25519.PublicKey(pub), &r); err != nil {
			t.Fatal(err)
		}
		if r.Type != web.ReceiptType || r.Subject != fmt.Sprintf("investment/%d", id) || r.PrincipalMsat != 100000000 || r.CapBps != 15000 {
			t.Fatalf("receipt says %+v", r)
		}
		if err := s.ledger.CheckInvariants(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

// TestInvestAPIRefusesBadInput: each bad request gets a clear 4xx and
// writes nothing.
func TestInvestAPIRefusesBadInput(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s, _, _ := newInvestSite(t, d)
		_, key := createOffering(t, s, createBody)
		_, otherKey := createOffering(t, s, strings.Replace(createBody, `"my-site"`, `"other"`, 1))
		auth := []string{"Authorization", "Bearer " + key}
		if st, body, _ := s.do(t, "PUT", "/api/v1/offerings/my-site/terms", termsBody, auth...); st != http.StatusOK {
			t.Fatalf("terms: %d %s", st, body)
		}
		// Two investments: A paid, B pending.
		_, body, _ := s.do(t, "POST", "/api/v1/offerings/my-site/investments", `{"amount_msat":100000000}`)
		a := decode(t, body)
		s.demoPay(t, a["payment_hash"].(string))
		_, body, _ = s.do(t, "POST", "/api/v1/offerings/my-site/investments", `{"amount_msat":100000000}`)
		b := decode(t, body)
		pathA := fmt.Sprintf("/api/v1/investments/%d", int64(a["investment_id"].(float64)))
		forged := "ka_ck_" + base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))

		cases := []struct {
			name, method, path, body string
			header                   []string
			want                     int
		}{
			{"forged claim key", "GET", pathA, "", []string{"Authorization", "Bearer " + forged}, 401},
			{"other investment's claim key", "GET", pathA, "", []string{"Authorization", "Bearer " + b["claim_key"].(string)}, 401},
			{"malformed claim key", "GET", pathA, "", []string{"Authorization", "Bearer ka_ck_short"}, 401},
			{"no claim key", "GET", pathA, "", nil, 401},
			{"withdraw with another key", "POST", pathA + "/withdrawals", `{"destination":"x@example.org"}`, []string{"Authorization", "Bearer " + b["claim_key"].(string)}, 401},
			{"share above 10000", "PUT", "/api/v1/offerings/my-site/terms", strings.Replace(termsBody, "5000,", "10001,", 1), auth, 422},
			{"cap below 1x", "PUT", "/api/v1/offerings/my-site/terms", strings.Replace(termsBody, "15000", "9999", 1), auth, 422},
			{"min above max", "PUT", "/api/v1/offerings/my-site/terms", strings.Replace(termsBody, `"max_msat":500000000`, `"max_msat":1000`, 1), auth, 422},
			{"negative share", "PUT", "/api/v1/offerings/my-site/terms", strings.Replace(termsBody, "5000,", "-1,", 1), auth, 422},
			{"terms by a non-owner", "PUT", "/api/v1/offerings/my-site/terms", termsBody, []string{"Authorization", "Bearer " + otherKey}, 401},
			{"below the minimum", "POST", "/api/v1/offerings/my-site/investments", `{"amount_msat":999999}`, nil, 422},
			{"above the maximum", "POST", "/api/v1/offerings/my-site/investments", `{"amount_msat":500000001}`, nil, 422},
			{"past the raise limit", "POST", "/api/v1/offerings/my-site/investments", `{"amount_msat":400000001}`, nil, 409},
			{"amount that overflows int64", "POST", "/api/v1/offerings/my-site/investments", `{"amount_msat":99999999999999999999}`, nil, 400},
			{"amount above 21M BTC", "POST", "/api/v1/offerings/my-site/investments", `{"amount_msat":2100000000000000001}`, nil, 422},
			{"no amount", "POST", "/api/v1/offerings/my-site/investments", `{}`, nil, 422},
			{"name with a newline", "POST", "/api/v1/offerings/my-site/investments", `{"amount_msat":2000000,"name":"a\nb"}`, nil, 422},
			{"offering not open to investment", "POST", "/api/v1/offerings/other/investments", `{"amount_msat":2000000}`, nil, 404},
			{"revenue by a non-owner", "POST", "/api/v1/offerings/my-site/revenue", `{"amount_msat":2000000}`, []string{"Authorization", "Bearer " + otherKey}, 401},
			{"revenue without a key", "POST", "/api/v1/offerings/my-site/revenue", `{"amount_msat":2000000}`, nil, 401},
			{"revenue that overflows", "POST", "/api/v1/offerings/my-site/revenue", `{"amount_msat":9223372036854775807}`, auth, 422},
			{"revenue from elsewhere", "POST", "/api/v1/offerings/my-site/revenue", `{"amount_msat":2000000,"from":"escrow"}`, auth, 422},
			{"withdraw from an empty payable", "POST", pathA + "/withdrawals", `{"destination":"lnbcrt1"}`, []string{"Authorization", "Bearer " + a["claim_key"].(string)}, 409},
			{"withdraw a pending investment", "POST", fmt.Sprintf("/api/v1/investments/%d/withdrawals", int64(b["investment_id"].(float64))), `{"destination":"x@example.org"}`, []string{"Authorization", "Bearer " + b["claim_key"].(string)}, 409},
			{"standing payout to an invoice", "PUT", pathA + "/payout", `{"destination":"lnbcrt1","threshold_msat":100000}`, []string{"Authorization", "Bearer " + a["claim_key"].(string)}, 422},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				before := s.rows(t)
				st, body, _ := s.do(t, tc.method, tc.path, tc.body, tc.header...)
				if st != tc.want {
					t.Fatalf("%d %s, want %d", st, body, tc.want)
				}
				var e struct {
					Error struct{ Message string }
				}
				if json.Unmarshal([]byte(body), &e) != nil || e.Error.Message == "" {
					t.Fatalf("no clear message: %s", body)
				}
				if after := s.rows(t); after != before {
					t.Fatalf("wrote something: %s → %s", before, after)
				}
			})
		}
		var got invest.Terms
		s.db.Gorm(context.Background()).Take(&got)
		if got.ShareBps != 5000 || got.CapBps != 15000 {
			t.Fatalf("terms changed: %+v", got)
		}
	})
}

// TestInvestPages: the offering page shows the terms in words and takes
// an investment; the claim key is shown once and kept by the browser;
// the portfolio shows the return after the owner's revenue; the owner's
// round page closes and reopens the round; a withdrawal with nothing
// payable is refused on the page.
func TestInvestPages(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s, _, _ := newInvestSite(t, d)
		_, key := createOffering(t, s, createBody)
		auth := []string{"Authorization", "Bearer " + key}
		if st, body, _ := s.do(t, "PUT", "/api/v1/offerings/my-site/terms", termsBody, auth...); st != http.StatusOK {
			t.Fatalf("terms: %d %s", st, body)
		}
		b := newBrowser(t, s)
		st, page, _ := b.get("/o/my-site")
		if st != http.StatusOK || !strings.Contains(page, `data-testid="invest-terms"`) ||
			!strings.Contains(page, "invest 100,000 sats, receive half of every revenue event pro rata until you have received 150,000 sats") {
			t.Fatalf("offering page: %d %s", st, page)
		}
		st, page, _ = b.post("/o/my-site", "/o/my-site/invest", url.Values{"amount": {"500"}})
		if st != http.StatusUnprocessableEntity || !strings.Contains(page, "The smallest investment is 1,000 sats.") {
			t.Fatalf("too small: %d", st)
		}
		st, page, _ = b.post("/o/my-site", "/o/my-site/invest", url.Values{"amount": {"100000"}, "name": {"Ann <b>"}, "public": {"1"}})
		if st != http.StatusCreated {
			t.Fatalf("invest: %d %s", st, page)
		}
		m := regexp.MustCompile(`ka_ck_[A-Za-z0-9_-]{43}`).FindString(page)
		pay := regexp.MustCompile(`/invoices/([0-9a-f]{64})`).FindStringSubmatch(page)
		if m == "" || pay == nil {
			t.Fatalf("no claim key or invoice link: %s", page)
		}
		s.demoPay(t, pay[1])
		_, page, _ = b.get("/portfolio")
		if !strings.Contains(page, `data-state="active"`) || !strings.Contains(page, "100,000 sats") {
			t.Fatalf("portfolio: %s", page)
		}
		st, page, _ = b.post("/portfolio", "/portfolio/1/withdraw", url.Values{"destination": {"someone@example.org"}})
		if st != http.StatusConflict || !strings.Contains(page, "nothing to withdraw") {
			t.Fatalf("empty withdrawal: %d", st)
		}
		st, body, _ := s.do(t, "POST", "/api/v1/offerings/my-site/revenue", `{"amount_msat":20000000}`, auth...)
		if st != http.StatusCreated {
			t.Fatalf("revenue: %d %s", st, body)
		}
		s.demoPay(t, decode(t, body)["payment_hash"].(string))
		_, page, _ = b.get("/portfolio")
		if !strings.Contains(page, `data-testid="payable">10,000 sats`) || !strings.Contains(page, "<polyline") {
			t.Fatalf("portfolio after revenue: %s", page)
		}
		if _, page, _ = b.get("/o/my-site"); !strings.Contains(page, "Ann &lt;b&gt;") {
			t.Fatalf("backers list: %s", page)
		}
		// Another browser holds no key: no portfolio, no receipt.
		other := newBrowser(t, s)
		if _, page, _ := other.get("/portfolio"); !strings.Contains(page, "no-investments") {
			t.Fatal("another browser sees the investment")
		}
		if st, _, _ := other.get("/portfolio/1/receipt"); st != http.StatusUnauthorized {
			t.Fatalf("receipt without the key: %d", st)
		}
		if st, _, _ := b.get("/portfolio/1/receipt"); st != http.StatusOK {
			t.Fatalf("receipt: %d", st)
		}
		// The owner closes the round from the dashboard's round page.
		owner := newBrowser(t, s)
		if st, _, _ := owner.post("/signin", "/signin", url.Values{"manage_key": {key}}); st != http.StatusSeeOther {
			t.Fatalf("sign in: %d", st)
		}
		if st, page, _ := owner.get("/offerings/my-site/round"); st != http.StatusOK || !strings.Contains(page, "100,000 sats from 1 investor") {
			t.Fatalf("round page: %d %s", st, page)
		}
		if st, _, _ := owner.post("/offerings/my-site/round", "/offerings/my-site/round/open", url.Values{"open": {"0"}}); st != http.StatusSeeOther {
			t.Fatalf("close: %d", st)
		}
		if _, page, _ := b.get("/o/my-site"); !strings.Contains(page, "invest-closed") {
			t.Fatal("the round is still open on the offering page")
		}
		if st, _, _ := b.get("/offerings/my-site/round"); st != http.StatusUnauthorized {
			t.Fatalf("round page for a non-owner: %d", st)
		}
	})
}

// TestInvestLNURLWithdrawOnce: a one-time LNURL-withdraw code pays the
// investor's wallet once; the code cannot be used again.
func TestInvestLNURLWithdrawOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s, _, _ := newInvestSite(t, d)
		_, key := createOffering(t, s, createBody)
		auth := []string{"Authorization", "Bearer " + key}
		s.do(t, "PUT", "/api/v1/offerings/my-site/terms", termsBody, auth...)
		_, body, _ := s.do(t, "POST", "/api/v1/offerings/my-site/investments", `{"amount_msat":100000000}`)
		made := decode(t, body)
		s.demoPay(t, made["payment_hash"].(string))
		_, body, _ = s.do(t, "POST", "/api/v1/offerings/my-site/revenue", `{"amount_msat":20000000}`, auth...)
		s.demoPay(t, decode(t, body)["payment_hash"].(string))
		bearer := []string{"Authorization", "Bearer " + made["claim_key"].(string)}
		st, body, _ := s.do(t, "POST", fmt.Sprintf("/api/v1/investments/%d/lnurl-withdraw", int64(made["investment_id"].(float64))), "", bearer...)
		if st != http.StatusCreated {
			t.Fatalf("link: %d %s", st, body)
		}
		link := decode(t, body)["url"].(string)
		path := strings.TrimPrefix(link, s.URL)
		st, body, _ = s.do(t, "GET", path, "")
		params := decode(t, body)
		if st != http.StatusOK || params["tag"] != "withdrawRequest" || params["maxWithdrawable"].(float64) < 9_000_000 {
			t.Fatalf("params: %d %s", st, body)
		}
		wallet := demo.New(demo.WithClock(s.clock.Now))
		winv, err := wallet.CreateInvoice(context.Background(), lightning.CreateInvoiceRequest{AmountMsat: 9_000_000, Expiry: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		cb := path + "/callback?k1=" + params["k1"].(string) + "&pr=" + winv.PaymentRequest
		if st, body, _ := s.do(t, "GET", cb, ""); st != http.StatusOK || decode(t, body)["status"] != "OK" {
			t.Fatalf("callback: %d %s", st, body)
		}
		if st, body, _ := s.do(t, "GET", cb, ""); st != http.StatusConflict {
			t.Fatalf("second callback: %d %s", st, body)
		}
		var n int64
		d.Gorm(context.Background()).Model(&funding.Payout{}).Count(&n)
		if n != 1 {
			t.Fatalf("%d payouts", n)
		}
	})
}

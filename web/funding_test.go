package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/lightning"
	"github.com/keepalive/keepalive/internal/lightning/demo"
	"github.com/keepalive/keepalive/internal/lnurl"
	"github.com/keepalive/keepalive/internal/money"
	"github.com/keepalive/keepalive/internal/offering"
	"github.com/keepalive/keepalive/web"
)

func (s *site) checkLedger(t *testing.T) {
	t.Helper()
	if err := s.ledger.CheckInvariants(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Snapshot(context.Background(), func(tx db.Tx) error { return offering.CheckConsumption(context.Background(), s.ledger, tx) }); err != nil {
		t.Fatal(err)
	}
}

func decodeInto(t *testing.T, body string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("%v in %s", err, body)
	}
}

func TestAPIDonationPaidExtendsRunway(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newSite(t, d)
		createOffering(t, s, createBody) // 1,000 sat an hour
		status, body, hdr := s.do(t, "POST", "/api/v1/offerings/my-site/donations", `{"amount_msat":24000000,"name":"Ann","message":"go on"}`)
		if status != 201 {
			t.Fatalf("donate: %d %s", status, body)
		}
		var inv struct {
			PaymentHash, PaymentRequest, ExpiresAt string `json:"-"`
		}
		var got map[string]any
		decodeInto(t, body, &got)
		inv.PaymentHash, _ = got["payment_hash"].(string)
		inv.PaymentRequest, _ = got["payment_request"].(string)
		if !strings.HasPrefix(inv.PaymentRequest, "lnbcrt240u") || got["amount_msat"] != float64(24000000) || got["expires_at"] == nil || hdr.Get("Location") == "" {
			t.Fatalf("donation answer: %s", body)
		}
		decoded, err := s.node.DecodePaymentRequest(context.Background(), inv.PaymentRequest)
		if err != nil || decoded.PaymentHash.String() != inv.PaymentHash || decoded.AmountMsat != 24_000_000 {
			t.Fatalf("the BOLT11 does not decode to the invoice: %+v %v", decoded, err)
		}
		status, body, _ = s.do(t, "GET", "/api/v1/invoices/"+inv.PaymentHash, "")
		if status != 200 || !strings.Contains(body, `"state":"open"`) || !strings.Contains(body, `"offering":"my-site"`) || !strings.Contains(body, `"settled_at":null`) {
			t.Fatalf("open invoice: %d %s", status, body)
		}
		status, body, _ = s.do(t, "POST", "/api/v1/demo/invoices/"+inv.PaymentHash+"/pay", "")
		if status != 200 || !strings.Contains(body, `"state":"settled"`) {
			t.Fatalf("demo pay: %d %s", status, body)
		}
		// Paying again changes nothing.
		s.do(t, "POST", "/api/v1/demo/invoices/"+inv.PaymentHash+"/pay", "")
		_, body, _ = s.do(t, "GET", "/api/v1/offerings/my-site/status", "")
		if !strings.Contains(body, `"state":"alive"`) || !strings.Contains(body, `"runway_seconds":86400`) {
			t.Fatalf("status after the donation: %s", body)
		}
		s.checkLedger(t)
	})
}

func TestAPIDonationBadInput(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newSite(t, d)
		createOffering(t, s, createBody)
		cases := []struct {
			body   string
			status int
		}{
			{`{"amount_msat":999}`, 422},
			{`{"amount_msat":0}`, 422},
			{`{"amount_msat":-1}`, 422},
			{`{"amount_msat":10000000001}`, 422},
			{`{"amount_msat":92233720368547758070}`, 400},
			{`{"amount_msat":"1000"}`, 400},
			{`{"amount_msat":1.5}`, 400},
			{`{}`, 422},
			{`{"amount_msat":5000,"message":"` + strings.Repeat("m", 281) + `"}`, 422},
			{`{"amount_msat":5000,"tip":1}`, 400},
			{`nonsense`, 400},
		}
		for _, c := range cases {
			status, body, _ := s.do(t, "POST", "/api/v1/offerings/my-site/donations", c.body)
			if status != c.status || !strings.Contains(body, `"error"`) {
				t.Errorf("%.60s: %d %s, want %d", c.body, status, body, c.status)
			}
		}
		if status, _, _ := s.do(t, "POST", "/api/v1/offerings/nope/donations", `{"amount_msat":5000}`); status != 404 {
			t.Errorf("donation to a missing offering: %d", status)
		}
		var n int64
		s.db.Gorm(context.Background()).Table("invoices").Count(&n)
		if n != 0 {
			t.Fatalf("%d invoices written by bad requests", n)
		}
		for _, h := range []string{"zz", strings.Repeat("0", 64)} {
			if status, _, _ := s.do(t, "GET", "/api/v1/invoices/"+h, ""); status != 400 && status != 404 {
				t.Errorf("GET invoice %s: %d", h, status)
			}
			if status, _, _ := s.do(t, "POST", "/api/v1/demo/invoices/"+h+"/pay", ""); status != 400 && status != 404 {
				t.Errorf("demo pay %s: %d", h, status)
			}
		}
	})
}

func TestInvoiceRateLimit(t *testing.T) {
	d := dbtest.SQLite(t)
	s := newSite(t, d)
	createOffering(t, s, createBody)
	// A site with the default limits: a burst, then 429.
	srv := web.New(web.Deps{BaseURL: s.URL, Demo: true, CookieKey: []byte("0123456789abcdef0123456789abcdef"),
		Offerings: s.offerings, Funding: s.funding, DemoPayer: s.node, MinDonation: 1_000, MaxDonation: 10_000_000_000})
	limited := 0
	for i := 0; i < 15; i++ {
		req, _ := http.NewRequest("POST", "/api/v1/offerings/my-site/donations", strings.NewReader(`{"amount_msat":5000}`))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = "192.0.2.1:1234"
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code == 429 {
			limited++
			if rec.Header().Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
		}
	}
	if limited != 5 {
		t.Fatalf("%d of 15 quick donations refused, want 5 (burst of 10)", limited)
	}
}

func TestWithdrawEarnedThroughAPI(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newSite(t, d)
		_, key := createOffering(t, s, createBody)
		_, body, _ := s.do(t, "POST", "/api/v1/offerings/my-site/donations", `{"amount_msat":10000000}`)
		var inv map[string]any
		decodeInto(t, body, &inv)
		s.do(t, "POST", fmt.Sprintf("/api/v1/demo/invoices/%s/pay", inv["payment_hash"]), "")
		s.clock.Advance(5 * time.Hour) // 5,000 sat earned

		// The owner's wallet: another node on the same network.
		wallet := demo.New()
		walletInv, err := wallet.CreateInvoice(context.Background(), lightning.CreateInvoiceRequest{Memo: "payout", Expiry: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		req := `{"destination":"` + walletInv.PaymentRequest + `"}`
		if status, _, _ := s.do(t, "POST", "/api/v1/offerings/my-site/withdrawals", req); status != 401 {
			t.Fatalf("withdraw without the key: %d", status)
		}
		status, body, _ := s.do(t, "POST", "/api/v1/offerings/my-site/withdrawals", req, "Authorization", "Bearer "+key)
		if status != 202 {
			t.Fatalf("withdraw: %d %s", status, body)
		}
		var p map[string]any
		decodeInto(t, body, &p)
		s.payOut(t, p["payment_hash"].(string))
		status, body, _ = s.do(t, "GET", "/api/v1/offerings/my-site/withdrawals", "", "Authorization", "Bearer "+key)
		if status != 200 || !strings.Contains(body, `"state":"succeeded"`) {
			t.Fatalf("withdrawals: %d %s", status, body)
		}
		earned, _ := s.ledger.Balance(context.Background(), ledger.OfferingEarned(1))
		amount := msatOf(p["amount_msat"])
		if amount < 4_900_000 || earned != 5_000_000-amount-demo.SimulatedFee(amount) {
			t.Fatalf("earned %d after paying %d (fee %d)", earned, amount, demo.SimulatedFee(amount))
		}
		// Bad destinations: clear 4xx, nothing written.
		for _, dest := range []string{"", "nonsense", "lnbc1garbage", walletInv.PaymentRequest} {
			status, body, _ := s.do(t, "POST", "/api/v1/offerings/my-site/withdrawals", `{"destination":"`+dest+`"}`, "Authorization", "Bearer "+key)
			if status < 400 || status >= 500 {
				t.Errorf("destination %q: %d %s", dest, status, body)
			}
		}
		var n int64
		s.db.Gorm(context.Background()).Table("payouts").Count(&n)
		if n != 1 {
			t.Fatalf("%d payouts, want 1", n)
		}
		s.checkLedger(t)
	})
}

func msatOf(v any) money.Msat {
	f, _ := v.(float64)
	return money.Msat(f)
}

// TestLightningAddressEndToEnd resolves slug@host as a wallet does,
// fetches an invoice with a comment, checks it commits to the metadata,
// and pays it.
func TestLightningAddressEndToEnd(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newSite(t, d)
		createOffering(t, s, createBody)
		ctx := context.Background()
		u, _ := url.Parse(s.URL)
		addr, err := lnurl.ParseAddress("my-site@" + u.Host)
		if err != nil {
			t.Fatal(err)
		}
		client := &lnurl.Client{}
		params, err := client.FetchPayParams(ctx, addr.URL())
		if err != nil {
			t.Fatal(err)
		}
		if params.CommentAllowed == 0 || !strings.Contains(params.Metadata, "my-site@"+u.Host) {
			t.Fatalf("pay params: %+v", params)
		}
		pr, action, err := client.FetchInvoice(ctx, params, 12_000_000, "from my wallet")
		if err != nil {
			t.Fatal(err)
		}
		decoded, err := s.node.DecodePaymentRequest(ctx, pr)
		if err != nil {
			t.Fatal(err)
		}
		if err := lnurl.CheckInvoice(decoded.AmountMsat, decoded.DescriptionHash, params, 12_000_000); err != nil {
			t.Fatal(err)
		}
		if action == nil || !strings.Contains(action.Message, "funded until") {
			t.Fatalf("success action: %+v", action)
		}
		ni, err := s.node.Pay(ctx, decoded.PaymentHash)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.funding.Settle(ctx, ni); err != nil {
			t.Fatal(err)
		}
		inv, _ := s.funding.Invoice(ctx, decoded.PaymentHash.String())
		if inv.PayerMessage != "from my wallet" || inv.Via != "lnurl" {
			t.Fatalf("invoice: %+v", inv)
		}
		_, body, _ := s.do(t, "GET", "/api/v1/offerings/my-site/status", "")
		if !strings.Contains(body, `"runway_seconds":43200`) {
			t.Fatalf("status: %s", body)
		}
		// Bad callbacks answer LNURL errors.
		for _, q := range []string{"", "?amount=abc", "?amount=-5", "?amount=5&comment=" + strings.Repeat("x", 300), "?amount=1"} {
			status, body, _ := s.do(t, "GET", "/lnurlp/my-site/callback"+q, "")
			if status < 400 || !strings.Contains(body, `"status":"ERROR"`) {
				t.Errorf("callback%s: %d %s", q, status, body)
			}
		}
		if status, body, _ := s.do(t, "GET", "/.well-known/lnurlp/nobody", ""); status != 404 || !strings.Contains(body, `"ERROR"`) {
			t.Errorf("unknown address: %d %s", status, body)
		}
		s.checkLedger(t)
	})
}

func TestDashboardShowsRecentFundingRespectingPrivacy(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newSite(t, d)
		b := newBrowser(t, s)
		if status, _, _ := b.post("/offerings/new", "/offerings", offeringForm("form-site")); status != 201 {
			t.Fatalf("create: %d", status)
		}
		for _, body := range []string{
			`{"amount_msat":5000000,"name":"Ann","message":"for the forum","public":true}`,
			`{"amount_msat":3000000,"name":"Bob","message":"secret note"}`,
		} {
			_, resp, _ := s.do(t, "POST", "/api/v1/offerings/form-site/donations", body)
			var inv map[string]any
			decodeInto(t, resp, &inv)
			s.do(t, "POST", fmt.Sprintf("/api/v1/demo/invoices/%s/pay", inv["payment_hash"]), "")
		}
		status, page, _ := b.get("/dashboard")
		if status != 200 || !strings.Contains(page, "Ann") || !strings.Contains(page, "for the forum") ||
			!strings.Contains(page, "5,000 sats") || !strings.Contains(page, "3,000 sats") {
			t.Fatalf("dashboard misses the recent funding: %d", status)
		}
		if strings.Contains(page, "Bob") || strings.Contains(page, "secret note") {
			t.Fatal("the dashboard shows a private donor's name or message")
		}
	})
}

// payOut runs the payout worker until the payout with that hash is no
// longer pending (the worker sends in the background).
func (s *site) payOut(t *testing.T, hash string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		s.funding.ProcessPending(context.Background())
		if got, _ := s.funding.Payout(context.Background(), hash); got.State != "pending" {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("payout %s still pending", hash)
}

// TestAPIInvoiceWait: GET /api/v1/invoices/{hash}?wait=N answers an open
// invoice when it is paid (heard at once, not at the next re-check), or
// after N seconds still open; a paid or lapsed invoice is answered at
// once, and a bad wait is refused.
func TestAPIInvoiceWait(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newSite(t, d)
		createOffering(t, s, createBody)
		hash := func() string { return openDonation(t, s, `{"amount_msat":5000000}`) }
		for _, bad := range []string{"-1", "51", "abc", "1.5", "1e3", "99999999999999999999"} {
			status, body, _ := s.do(t, "GET", "/api/v1/invoices/"+hash()+"?wait="+bad, "")
			if status != 400 || !strings.Contains(body, `"error"`) || !strings.Contains(body, "wait") {
				t.Errorf("wait=%s: %d %s, want 400 naming wait", bad, status, body)
			}
		}

		// Paid while the request waits.
		h := hash()
		type answer struct {
			status int
			body   string
			took   time.Duration
		}
		got := make(chan answer, 1)
		go func() {
			began := time.Now()
			status, body, _ := s.do(t, "GET", "/api/v1/invoices/"+h+"?wait=30", "")
			got <- answer{status, body, time.Since(began)}
		}()
		time.Sleep(300 * time.Millisecond)
		select {
		case a := <-got:
			t.Fatalf("the wait answered before the payment: %d %s", a.status, a.body)
		default:
		}
		if status, body, _ := s.do(t, "POST", "/api/v1/demo/invoices/"+h+"/pay", ""); status != 200 {
			t.Fatalf("demo pay: %d %s", status, body)
		}
		a := <-got
		if a.status != 200 || !strings.Contains(a.body, `"state":"settled"`) || strings.Contains(a.body, `"settled_at":null`) {
			t.Fatalf("wait on a paid invoice: %d %s", a.status, a.body)
		}
		if a.took > 4*time.Second { // the database re-check is every 5 s: the settlement itself woke it
			t.Fatalf("the wait heard of the payment after %s", a.took)
		}
		// Already paid: at once.
		if status, body, _ := s.do(t, "GET", "/api/v1/invoices/"+h+"?wait=50", ""); status != 200 || !strings.Contains(body, `"state":"settled"`) {
			t.Fatalf("wait on a settled invoice: %d %s", status, body)
		}

		// Nobody pays: still open after the wait.
		open := hash()
		began := time.Now()
		status, body, _ := s.do(t, "GET", "/api/v1/invoices/"+open+"?wait=1", "")
		if status != 200 || !strings.Contains(body, `"state":"open"`) || time.Since(began) < time.Second {
			t.Fatalf("wait=1 on an unpaid invoice: %d %s after %s", status, body, time.Since(began))
		}
		// Lapsed: at once, as expired.
		s.clock.Advance(2 * time.Hour)
		if status, body, _ := s.do(t, "GET", "/api/v1/invoices/"+open+"?wait=50", ""); status != 200 || !strings.Contains(body, `"state":"expired"`) {
			t.Fatalf("wait on a lapsed invoice: %d %s", status, body)
		}
		s.checkLedger(t)
	})
}

// TestWaitsCapped: one client may hold only so many requests waiting for
// payments (API waits and invoice pages' streams together); one more is a
// 429 with the error envelope, and a slot freed is a slot taken again.
func TestWaitsCapped(t *testing.T) {
	defer web.SetMaxWaitsPerClient(2)()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newSite(t, d)
		createOffering(t, s, createBody)
		hash := func() string { return openDonation(t, s, `{"amount_msat":5000000}`) }
		paid, streamed, other := hash(), hash(), hash()

		waited := make(chan int, 1)
		go func() {
			status, _, _ := s.do(t, "GET", "/api/v1/invoices/"+paid+"?wait=30", "")
			waited <- status
		}()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, "GET", s.URL+"/invoices/"+streamed+"/events", nil)
		if err != nil {
			t.Fatal(err)
		}
		stream, err := s.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer stream.Body.Close()
		if stream.StatusCode != 200 {
			t.Fatalf("stream: %d", stream.StatusCode)
		}
		time.Sleep(300 * time.Millisecond) // the API wait is held by now

		status, body, header := s.do(t, "GET", "/api/v1/invoices/"+other+"?wait=1", "")
		if status != 429 || !strings.Contains(body, `"rate_limited"`) || header.Get("Retry-After") == "" {
			t.Fatalf("a third wait: %d %s (Retry-After %q), want 429", status, body, header.Get("Retry-After"))
		}
		if status, _, _ := s.do(t, "GET", "/invoices/"+other+"/events", ""); status != 429 {
			t.Fatalf("a third stream: %d, want 429", status)
		}
		// A plain read is not a wait: never refused.
		if status, body, _ := s.do(t, "GET", "/api/v1/invoices/"+other, ""); status != 200 {
			t.Fatalf("a read while waits are full: %d %s", status, body)
		}

		if status, body, _ := s.do(t, "POST", "/api/v1/demo/invoices/"+paid+"/pay", ""); status != 200 {
			t.Fatalf("demo pay: %d %s", status, body)
		}
		if status := <-waited; status != 200 {
			t.Fatalf("the held wait: %d", status)
		}
		status, body, _ = s.do(t, "GET", "/api/v1/invoices/"+other+"?wait=1", "")
		if status != 200 || !strings.Contains(body, `"state":"open"`) {
			t.Fatalf("a wait after one ended: %d %s", status, body)
		}
		s.checkLedger(t)
	})
}

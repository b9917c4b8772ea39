package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/lightning"
	"github.com/keepalive/keepalive/internal/lightning/demo"
)

// TestBrowserInvestorJourney: invest from the offering page, see the
// claim key, pay, open the portfolio, see the return arrive after the
// owner's revenue event, withdraw. Screenshots at phone and desktop
// widths go to artifacts/screenshots/invest-*.
func TestBrowserInvestorJourney(t *testing.T) {
	ctx := headless(t)
	s, _, _ := newInvestSite(t, dbtest.SQLite(t))
	_, key := createOffering(t, s, strings.Replace(createBody, `"description":"hi"`, `"description":"A small site for gardeners, kept alive by its readers."`, 1))
	auth := []string{"Authorization", "Bearer " + key}
	if st, body, _ := s.do(t, "PUT", "/api/v1/offerings/my-site/terms", termsBody, auth...); st != 200 {
		t.Fatalf("terms: %d %s", st, body)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844), chromedp.Navigate(s.URL+"/o/my-site#invest"),
		chromedp.WaitVisible(`[data-testid="invest-form"]`)); err != nil {
		t.Fatal(err)
	}
	shoot(t, ctx, "invest-offering")
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(`#invest-amount`, "100000"),
		chromedp.SendKeys(`#invest-name`, "Ann"),
		chromedp.Click(`#invest-public`),
		chromedp.Submit(`[data-testid="invest-form"]`),
		chromedp.WaitVisible(`[data-testid="claim-key"]`)); err != nil {
		t.Fatal(err)
	}
	claim, err := chromedp.Run(ctx, chromedp.Text(`[data-testid="claim-key"]`))
	if err != nil || !strings.HasPrefix(strings.TrimSpace(claim), "ka_ck_") {
		t.Fatalf("claim key %q (%v)", claim, err)
	}
	shoot(t, ctx, "invest-claim-key")
	if err := chromedp.Do(ctx, chromedp.Click(`[data-testid="pay-investment"]`), chromedp.WaitVisible(`[data-testid="bolt11"]`)); err != nil {
		t.Fatal(err)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	s.demoPay(t, loc[strings.LastIndex(loc, "/")+1:])
	if err := chromedp.Do(ctx, chromedp.WaitVisible(`[data-testid="paid"]`)); err != nil {
		t.Fatalf("the invoice page did not switch to paid: %v", err)
	}

	// The owner reports revenue; the investor's portfolio shows its share.
	st, body, _ := s.do(t, "POST", "/api/v1/offerings/my-site/revenue", `{"amount_msat":40000000,"note":"ads"}`, auth...)
	if st != 201 {
		t.Fatalf("revenue: %d %s", st, body)
	}
	s.demoPay(t, decode(t, body)["payment_hash"].(string))
	if err := chromedp.Do(ctx, chromedp.Navigate(s.URL+"/portfolio"), chromedp.WaitVisible(`[data-testid="returns-chart"]`)); err != nil {
		t.Fatal(err)
	}
	payable, err := chromedp.Run(ctx, chromedp.Text(`[data-testid="payable"]`))
	if err != nil || payable != "20,000 sats" {
		t.Fatalf("payable %q (%v)", payable, err)
	}
	shoot(t, ctx, "invest-portfolio")

	// Withdraw to the investor's own wallet.
	wallet := demo.New()
	winv, err := wallet.CreateInvoice(context.Background(), lightning.CreateInvoiceRequest{AmountMsat: 15_000_000, Memo: "returns", Expiry: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(`[data-testid="withdraw-form"] [name="destination"]`, winv.PaymentRequest),
		chromedp.Submit(`[data-testid="withdraw-form"]`),
		chromedp.WaitVisible(`[data-testid="payout-row"]`)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.funding.ProcessPending(context.Background())
		if err := chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible(`[data-testid="payout-row"]`)); err != nil {
			t.Fatal(err)
		}
		state, err := chromedp.Run(ctx, chromedp.AttributeValue(`[data-testid="payout-row"]`, "data-state"))
		if err == nil && state.Value == "succeeded" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("payout still %q", state.Value)
		}
		time.Sleep(200 * time.Millisecond)
	}
	shoot(t, ctx, "invest-withdrawn")
	if err := chromedp.Do(ctx, chromedp.Navigate(s.URL+"/o/my-site#invest"), chromedp.WaitVisible(`[data-testid="backers"]`)); err != nil {
		t.Fatal(err)
	}
	shoot(t, ctx, "invest-offering-after")
	s.checkLedger(t)
}

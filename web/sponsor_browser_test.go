package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/keepalive/keepalive/internal/db/dbtest"
)

// TestBrowserSponsorBidsFromAPhone: a sponsor bids with the form on a
// phone, sees the bid pending, pays, and after clearing sees its slot on
// the offering page and its change as a refund on its own page.
func TestBrowserSponsorBidsFromAPhone(t *testing.T) {
	ctx := headless(t)
	s, sp := newSponsorSite(t, dbtest.SQLite(t))
	_, key := createOffering(t, s, strings.Replace(createBody, `"description":"hi"`, `"description":"A small site for gardeners, kept alive by its readers."`, 1))
	if status, body, _ := s.do(t, "PUT", "/api/v1/offerings/my-site/sponsorship",
		`{"enabled":true,"slots":3,"period":"week","reserve_msat":1000000,"weights_bps":[10000,6000,3000]}`, "Authorization", "Bearer "+key); status != 200 {
		t.Fatalf("enable: %d %s", status, body)
	}
	s.placeBid(t, 8000, "Beta")
	s.placeBid(t, 5000, "Gamma")
	s.placeBid(t, 2000, "Delta")

	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844), chromedp.Navigate(s.URL+"/o/my-site/sponsor"),
		chromedp.WaitVisible(`[data-testid="bid-form"]`)); err != nil {
		t.Fatal(err)
	}
	shoot(t, ctx, "sponsor-bid-form")
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(`#amount`, "10000"),
		chromedp.SendKeys(`#name`, "Acme Rockets"),
		chromedp.SendKeys(`#url`, "https://acme.example"),
		chromedp.SendKeys(`#tagline`, "Parts for hobby rockets"),
		chromedp.Submit(`[data-testid="bid-form"]`),
		chromedp.WaitVisible(`[data-testid="claim-key"]`)); err != nil {
		t.Fatal(err)
	}
	shoot(t, ctx, "sponsor-bid-placed")
	claim, err := chromedp.Run(ctx, chromedp.Text(`[data-testid="claim-key"]`))
	if err != nil || !strings.HasPrefix(claim, "ka_ck_") {
		t.Fatalf("claim key %q (%v)", claim, err)
	}
	payHref, err := chromedp.Run(ctx, chromedp.AttributeValue(`[data-testid="pay-link"]`, "href"))
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(`[data-testid="open-bids"]`), chromedp.WaitVisible(`[data-testid="bid-state"]`)); err != nil {
		t.Fatal(err)
	}
	if state, _ := chromedp.Run(ctx, chromedp.Text(`[data-testid="bid-state"]`)); !strings.Contains(state, "pending") {
		t.Fatalf("before paying the bid is %q", state)
	}
	shoot(t, ctx, "sponsor-pending")

	hash := payHref.Value[strings.LastIndex(payHref.Value, "/")+1:]
	if status, body, _ := s.do(t, "POST", "/api/v1/demo/invoices/"+hash+"/pay", ""); status != 200 {
		t.Fatalf("pay: %d %s", status, body)
	}
	s.clock.Advance(5 * 24 * time.Hour)
	if n, err := sp.ClearDue(context.Background()); err != nil || n != 1 {
		t.Fatalf("ClearDue = %d, %v", n, err)
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(s.URL+"/o/my-site"), chromedp.WaitVisible(`[data-testid="sponsors"]`)); err != nil {
		t.Fatal(err)
	}
	first, err := chromedp.Run(ctx, chromedp.Text(`[data-testid="sponsor-slot"][data-slot="1"]`))
	if err != nil || !strings.Contains(first, "Acme Rockets") {
		t.Fatalf("slot 1 shows %q (%v)", first, err)
	}
	rel, _ := chromedp.Run(ctx, chromedp.AttributeValue(`[data-testid="sponsor-slot"] a`, "rel"))
	if !strings.Contains(rel.Value, "sponsored") {
		t.Fatalf("sponsor link rel=%q", rel.Value)
	}
	if err := chromedp.Do(ctx, chromedp.ScrollIntoView(`[data-testid="sponsors"]`)); err != nil {
		t.Fatal(err)
	}
	shoot(t, ctx, "offering-sponsors")

	if err := chromedp.Do(ctx, chromedp.Navigate(s.URL+"/sponsor"), chromedp.WaitVisible(`#claim_key`),
		chromedp.SendKeys(`#claim_key`, claim), chromedp.Submit(`[data-testid="claim-form"]`),
		chromedp.WaitVisible(`[data-testid="refund"]`)); err != nil {
		t.Fatal(err)
	}
	state, _ := chromedp.Run(ctx, chromedp.Text(`[data-testid="bid-state"]`))
	refund, _ := chromedp.Run(ctx, chromedp.Text(`[data-testid="refund"]`))
	// Charged 5,300 sats (the worked example): 4,700 back.
	if !strings.Contains(state, "won slot 1") || !strings.Contains(refund, "4,700") {
		t.Fatalf("sponsor page: state %q, refund %q", state, refund)
	}
	shoot(t, ctx, "sponsor-won")
	s.checkLedger(t)
}

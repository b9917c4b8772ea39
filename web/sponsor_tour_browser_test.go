package web_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/keepalive/keepalive/internal/db/dbtest"
)

// TestBrowserSponsorshipTour walks sponsorship as its three users do, on
// a phone and a desktop (artifacts/screenshots/issue11-*.png): the owner
// moderates the coming bids on the dashboard and rejects one with a
// reason; that sponsor sees the reason and takes the refund with a QR;
// after clearing, the winners show on the offering page, the directory
// and the badge.
func TestBrowserSponsorshipTour(t *testing.T) {
	ctx := headless(t)
	s, sp := newSponsorSite(t, dbtest.SQLite(t))
	_, key := createOffering(t, s, strings.Replace(createBody, `"description":"hi"`, `"description":"A small site for gardeners, kept alive by its readers."`, 1))
	s.sponsorTerms(t, key)
	s.donate(t, "my-site", "d1", 72_000_000)
	s.placeBid(t, 8000, "Beta Seeds")
	s.placeBid(t, 5000, "Gamma Tools")
	spam := s.placeBid(t, 2000, "Casino Royale")

	// The owner's dashboard: displays and states, no amounts.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844), chromedp.Navigate(s.URL+"/signin"),
		chromedp.SendKeys(`input[name="manage_key"]`, key), chromedp.Submit(`input[name="manage_key"]`),
		chromedp.WaitVisible(`[data-testid="sponsor-bids"]`),
		chromedp.Click(`[data-testid="sponsor-bids"] > summary`),
		chromedp.Click(`[data-bid="`+spam.BidID+`"] [data-testid="reject-bid"] > summary`),
		chromedp.WaitVisible(`#reason-`+spam.BidID)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.ScrollIntoView(`[data-testid="sponsor-bids"]`)); err != nil {
		t.Fatal(err)
	}
	shoot(t, ctx, "issue11-dashboard-bids")
	if err := chromedp.Do(ctx, chromedp.SendKeys(`#reason-`+spam.BidID, "Gambling ads are not welcome here."),
		chromedp.Submit(`#reason-`+spam.BidID), chromedp.WaitVisible(`[data-bid="`+spam.BidID+`"][data-state="rejected"]`)); err != nil {
		t.Fatal(err)
	}

	// The rejected sponsor: the reason, the refund, a QR to take it.
	if err := chromedp.Do(ctx, chromedp.Navigate(s.URL+"/sponsor"), chromedp.WaitVisible(`#claim_key`),
		chromedp.SendKeys(`#claim_key`, spam.ClaimKey), chromedp.Submit(`[data-testid="claim-form"]`),
		chromedp.WaitVisible(`[data-testid="reject-reason"]`),
		chromedp.Click(`[data-testid="lnurl-withdraw-button"]`),
		chromedp.WaitVisible(`[data-testid="lnurl-withdraw"] svg`)); err != nil {
		t.Fatal(err)
	}
	reason, _ := chromedp.Run(ctx, chromedp.Text(`[data-testid="reject-reason"]`))
	refund, _ := chromedp.Run(ctx, chromedp.Text(`[data-testid="refund"]`))
	if !strings.Contains(reason, "Gambling ads") || !strings.Contains(refund, "2,000") {
		t.Fatalf("rejected sponsor sees %q, refund %q", reason, refund)
	}
	shoot(t, ctx, "issue11-sponsor-refund-qr")

	// The period clears: winners on the page, the directory, the badge.
	s.clock.Advance(5 * 24 * time.Hour)
	if n, err := sp.ClearDue(context.Background()); err != nil || n != 1 {
		t.Fatalf("ClearDue = %d, %v", n, err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(s.URL+"/o/my-site"), chromedp.WaitVisible(`[data-testid="sponsors"]`),
		chromedp.ScrollIntoView(`[data-testid="sponsors"]`)); err != nil {
		t.Fatal(err)
	}
	shoot(t, ctx, "issue11-offering-sponsors")
	if err := chromedp.Do(ctx, chromedp.Navigate(s.URL+"/sponsors"), chromedp.WaitVisible(`main`)); err != nil {
		t.Fatal(err)
	}
	shoot(t, ctx, "issue11-directory")
	if err := chromedp.Do(ctx, chromedp.Navigate(s.URL+"/offerings/my-site/sponsorship"), chromedp.WaitVisible(`main`)); err != nil {
		t.Fatal(err)
	}
	shoot(t, ctx, "issue11-settings")
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 200), chromedp.Navigate(s.URL+"/badge/my-site.svg"), chromedp.WaitVisible(`svg`)); err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(ctx, chromedp.Screenshot(`svg`))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(screenshotDir(t), "issue11-badge.png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
	s.checkLedger(t)
}

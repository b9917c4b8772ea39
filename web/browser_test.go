package web_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/lightning"
	"github.com/keepalive/keepalive/internal/lightning/demo"
)

// Browser tests drive the real pages in headless Chromium. They run when
// Chromium is installed (CI installs it and sets KEEPALIVE_BROWSER=1, which
// makes a missing browser a failure instead of a skip). Screenshots of the
// main pages at phone and desktop widths go to artifacts/screenshots/.

func headless(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("KEEPALIVE_BROWSER") == "1" {
			t.Fatal("KEEPALIVE_BROWSER=1 but chromium is not installed (apt-get install chromium)")
		}
		t.Skip("chromium is not installed: browser tests skipped")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return ctx
}

func screenshotDir(t *testing.T) string {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "artifacts", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// shoot saves a full-page screenshot of the current page at both widths.
func shoot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := screenshotDir(t)
	for _, size := range []struct {
		label string
		w, h  int64
	}{{"phone", 390, 844}, {"desktop", 1280, 900}} {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(size.w, size.h)); err != nil {
			t.Fatal(err)
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+"-"+size.label+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestBrowserDonorSeesPaidWithoutReloading(t *testing.T) {
	ctx := headless(t)
	s := newSite(t, dbtest.SQLite(t))
	createOffering(t, s, strings.Replace(createBody, `"description":"hi"`, `"description":"A small site for gardeners, kept alive by its readers."`, 1))

	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844), chromedp.Navigate(s.URL+"/o/my-site"),
		chromedp.WaitVisible(`[data-testid="fund"]`)); err != nil {
		t.Fatal(err)
	}
	shoot(t, ctx, "offering")
	// Choose the first preset and give a name and a message.
	if err := chromedp.Do(ctx,
		chromedp.Click(`[data-testid="fund"] input[name="amount"]`),
		chromedp.SendKeys(`[data-testid="fund"] input[name="name"]`, "Ann"),
		chromedp.Submit(`[data-testid="fund"] form`),
		chromedp.WaitVisible(`[data-testid="bolt11"]`)); err != nil {
		t.Fatal(err)
	}
	shoot(t, ctx, "invoice")
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	hash := loc[strings.LastIndex(loc, "/")+1:]
	// Mark the document: a reload would lose the mark.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__stillHere = true`)); err != nil {
		t.Fatal(err)
	}
	// Someone pays from their wallet (the demo node's pay API).
	status, body, _ := s.do(t, "POST", "/api/v1/demo/invoices/"+hash+"/pay", "")
	if status != 200 {
		t.Fatalf("pay: %d %s", status, body)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(`[data-testid="paid"]`)); err != nil {
		t.Fatalf("the page did not switch to paid: %v", err)
	}
	still, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__stillHere === true`))
	if err != nil || !still {
		t.Fatalf("the page reloaded instead of switching in place (%v)", err)
	}
	text, err := chromedp.Run(ctx, chromedp.Text(`[data-testid="paid"]`))
	if err != nil || !strings.Contains(text, "alive until") {
		t.Fatalf("paid panel says %q (%v)", text, err)
	}
	shoot(t, ctx, "invoice-paid")
	s.checkLedger(t)
}

func TestBrowserOwnerSignsInAndWithdraws(t *testing.T) {
	ctx := headless(t)
	s := newSite(t, dbtest.SQLite(t))
	_, key := createOffering(t, s, createBody)
	_, body, _ := s.do(t, "POST", "/api/v1/offerings/my-site/donations", `{"amount_msat":10000000,"name":"Ann","public":true}`)
	var inv map[string]any
	json.Unmarshal([]byte(body), &inv)
	s.do(t, "POST", "/api/v1/demo/invoices/"+inv["payment_hash"].(string)+"/pay", "")
	s.clock.Advance(5 * time.Hour) // 5,000 sats earned

	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(s.URL+"/"),
		chromedp.WaitVisible(`[data-testid="offering-card"]`)); err != nil {
		t.Fatal(err)
	}
	shoot(t, ctx, "home")
	if err := chromedp.Do(ctx, chromedp.Navigate(s.URL+"/signin"),
		chromedp.SendKeys(`input[name="manage_key"]`, key)); err != nil {
		t.Fatal(err)
	}
	shoot(t, ctx, "signin")
	if err := chromedp.Do(ctx, chromedp.Submit(`input[name="manage_key"]`),
		chromedp.WaitVisible(`[data-testid="dashboard-item"]`)); err != nil {
		t.Fatal(err)
	}
	text, err := chromedp.Run(ctx, chromedp.Text(`[data-testid="dashboard-item"]`))
	if err != nil || !strings.Contains(text, "5,000 sats") {
		t.Fatalf("the dashboard does not show the 5,000 sats earned: %q (%v)", text, err)
	}
	shoot(t, ctx, "dashboard")

	// Withdraw to the owner's own wallet (another node).
	wallet := demo.New()
	winv, err := wallet.CreateInvoice(context.Background(), lightning.CreateInvoiceRequest{Memo: "earnings", Expiry: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(s.URL+"/offerings/my-site/withdraw"),
		chromedp.WaitVisible(`[data-testid="withdraw-form"]`)); err != nil {
		t.Fatal(err)
	}
	shoot(t, ctx, "withdraw")
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(`[data-testid="withdraw-form"] [name="destination"]`, winv.PaymentRequest),
		chromedp.Submit(`[data-testid="withdraw-form"] [name="destination"]`),
		chromedp.WaitVisible(`[data-testid="payout-row"]`)); err != nil {
		t.Fatal(err)
	}
	// The payout worker sends it; the page shows it succeeded.
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
	shoot(t, ctx, "withdraw-done")
	s.checkLedger(t)
}

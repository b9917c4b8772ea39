package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/lightning/demo"
	"github.com/keepalive/keepalive/web"
)

// Demo mode sees a withdrawal through: a simulated wallet fills the form
// with an invoice, the withdrawal is made, and a Lightning Address is
// refused with wording that blames demo mode, not the address.
func TestDemoModeWithdrawsToASimulatedWallet(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newSiteWith(t, d, func(deps *web.Deps) { deps.DemoWallet = demo.New() })
		_, key := createOffering(t, s, createBody)
		payDonation(t, s, `{"amount_msat":168000000}`)
		s.clock.Advance(5 * time.Hour)
		b := newBrowser(t, s)
		if status, _, _ := b.post("/signin", "/signin", url.Values{"manage_key": {key}}); status != http.StatusSeeOther {
			t.Fatalf("sign in: %d", status)
		}
		const page = "/offerings/my-site/withdraw"
		_, before, _ := b.get(page)
		if !strings.Contains(before, `data-testid="demo-invoice-form"`) || !strings.Contains(before, "no real bitcoin moves") {
			t.Fatal("the withdraw page offers no simulated invoice in demo mode")
		}

		status, body, _ := b.post(page, page, url.Values{"destination": {"alice@wallet.example"}})
		if status != http.StatusUnprocessableEntity && status != http.StatusBadRequest {
			t.Fatalf("withdraw to an address: %d", status)
		}
		if !strings.Contains(body, "Demo mode cannot reach real Lightning Addresses") || strings.Contains(body, "That Lightning Address did not") {
			t.Fatalf("the address error does not say demo mode is why: %s", testIDText(body, "destination-error"))
		}

		status, filled, _ := b.post(page, page+"/demo-invoice", url.Values{})
		if status != http.StatusOK || !strings.Contains(filled, `data-testid="demo-invoice-made"`) {
			t.Fatalf("simulated invoice: %d", status)
		}
		m := regexpValue.FindStringSubmatch(filled)
		if m == nil || !strings.HasPrefix(m[1], "lnbcrt") {
			t.Fatalf("the destination is not filled with an invoice: %v", m)
		}
		if status, _, _ := b.post(page, page, url.Values{"destination": {m[1]}}); status != http.StatusSeeOther {
			t.Fatalf("withdraw to the simulated invoice: %d", status)
		}
		_, after, _ := b.get(page)
		if !strings.Contains(after, `data-testid="payout-row"`) {
			t.Fatal("no payout listed after withdrawing to the simulated wallet")
		}
	})
}

// Without a simulated wallet (a real node) there is no such button.
func TestWithdrawPageHasNoSimulatedWalletOutsideDemo(t *testing.T) {
	s := newSite(t, dbtest.SQLite(t))
	_, key := createOffering(t, s, createBody)
	b := newBrowser(t, s)
	if status, _, _ := b.post("/signin", "/signin", url.Values{"manage_key": {key}}); status != http.StatusSeeOther {
		t.Fatalf("sign in: %d", status)
	}
	_, page, _ := b.get("/offerings/my-site/withdraw")
	if strings.Contains(page, "demo-invoice-form") {
		t.Fatal("a simulated wallet offered without one")
	}
	if status, _, _ := b.post("/offerings/my-site/withdraw", "/offerings/my-site/withdraw/demo-invoice", url.Values{}); status != http.StatusNotFound {
		t.Fatalf("simulated invoice without a wallet: %d, want 404", status)
	}
}

var regexpValue = regexp.MustCompile(`id="destination"[^>]*?value="([^"]*)"`)

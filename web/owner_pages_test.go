package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/lightning"
	"github.com/keepalive/keepalive/internal/lightning/demo"
)

var testIDText = func(page, id string) string {
	m := regexp.MustCompile(`data-testid="` + id + `"[^>]*>([^<]*)`).FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	return m[1]
}

// Time left is not rounded down ("7 days" right after buying 7 days);
// lifetime earned is not the withdrawable balance; grace says when it
// ends; the chart says what it covers, with real time labels.
func TestRunwayEarnedAndGraceReadHonestly(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newSite(t, d)
		_, key := createOffering(t, s, createBody)     // 1,000 sats an hour, 1 hour of grace
		payDonation(t, s, `{"amount_msat":168000000}`) // 7 days
		s.clock.Advance(time.Second)
		_, page, _ := s.do(t, "GET", "/o/my-site", "")
		if got := testIDText(page, "runway-text"); got != "7 days" {
			t.Fatalf("right after buying 7 days, runway left reads %q", got)
		}
		if got := testIDText(page, "history-heading"); !strings.HasPrefix(got, "Runway since ") {
			t.Fatalf("chart heading %q: the chart starts at the first payment", got)
		}
		axis := regexp.MustCompile(`(?s)class="chart__x"[^>]*>(.*?)</ul>`).FindStringSubmatch(page)
		if axis == nil || strings.Contains(axis[1], "now") || !strings.Contains(axis[1], "UTC") {
			t.Fatalf("the chart's time axis: %v", axis)
		}

		// 5,000 sats earned, then withdrawn: lifetime earned stays.
		s.clock.Advance(5 * time.Hour)
		wallet := demo.New()
		inv, err := wallet.CreateInvoice(context.Background(), lightning.CreateInvoiceRequest{Memo: "payout", Expiry: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		status, body, _ := s.do(t, "POST", "/api/v1/offerings/my-site/withdrawals", `{"destination":"`+inv.PaymentRequest+`"}`, "Authorization", "Bearer "+key)
		if status != http.StatusAccepted {
			t.Fatalf("withdraw: %d %s", status, body)
		}
		var p map[string]any
		decodeInto(t, body, &p)
		s.payOut(t, p["payment_hash"].(string)) // the payout succeeds
		b := newBrowser(t, s)
		if status, _, _ := b.post("/signin", "/signin", url.Values{"manage_key": {key}}); status != http.StatusSeeOther {
			t.Fatalf("sign in: %d", status)
		}
		_, dash, _ := b.get("/dashboard")
		if got := testIDText(dash, "earned"); got != "5,000 sats" {
			t.Fatalf("dashboard earned, all time = %q, want 5,000 sats", got)
		}
		if got := testIDText(dash, "withdrawable"); got == "" || len(got) > len("99 sats") {
			t.Fatalf("dashboard withdrawable = %q, want only the fee budget left over", got)
		}
		_, page, _ = s.do(t, "GET", "/o/my-site", "")
		if got := testIDText(page, "earned"); got != "5,000 sats" {
			t.Fatalf("offering page earned = %q, want the lifetime 5,000 sats", got)
		}

		// Past the runway: in grace, and the page says until when.
		s.clock.Advance(7*24*time.Hour - 5*time.Hour + 10*time.Minute)
		_, page, _ = s.do(t, "GET", "/o/my-site", "")
		if !strings.Contains(page, `data-testid="grace-ends"`) || !strings.Contains(page, "8 Nov 2026 13:00 UTC") {
			t.Fatalf("grace page does not say when grace ends: %s", testIDText(page, "runway-headline"))
		}
	})
}

// A never-funded offering says "Not funded yet" once on the dashboard.
func TestDashboardSaysNotFundedOnce(t *testing.T) {
	s := newSite(t, dbtest.SQLite(t))
	_, key := createOffering(t, s, createBody)
	b := newBrowser(t, s)
	b.post("/signin", "/signin", url.Values{"manage_key": {key}})
	_, dash, _ := b.get("/dashboard")
	if n := strings.Count(dash, "Not funded yet"); n != 1 {
		t.Fatalf("dashboard says Not funded yet %d times", n)
	}
	if strings.Contains(dash, `data-testid="withdraw-link"`) {
		t.Fatal("a Withdraw button with nothing to withdraw")
	}
}

// Every owner page sends a signed-out visitor to sign in and back.
func TestOwnerPagesSendToSignInAndBack(t *testing.T) {
	s := newSite(t, dbtest.SQLite(t))
	_, key := createOffering(t, s, createBody)
	b := newBrowser(t, s)
	for _, path := range []string{"/dashboard", "/offerings/my-site/edit", "/offerings/my-site/withdraw", "/offerings/my-site/wallet"} {
		status, _, hdr := b.get(path)
		if status != http.StatusSeeOther || hdr.Get("Location") != "/signin?next="+url.QueryEscape(path) {
			t.Fatalf("GET %s signed out: %d to %q", path, status, hdr.Get("Location"))
		}
		status, _, hdr = b.post("/signin?next="+url.QueryEscape(path), "/signin", url.Values{"manage_key": {key}, "next": {path}})
		if status != http.StatusSeeOther || hdr.Get("Location") != path {
			t.Fatalf("signed in from %s: %d back to %q", path, status, hdr.Get("Location"))
		}
		if status, _, _ := b.get(path); status != http.StatusOK {
			t.Fatalf("GET %s signed in: %d", path, status)
		}
		b.post("/dashboard", "/signout", url.Values{})
	}
}

// The edit form shows the running cost in the unit it was entered in, and
// saving it unchanged keeps the rate.
func TestEditFormRemembersTheBurnUnit(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newSite(t, d)
		b := newBrowser(t, s)
		form := offeringForm("monthly")
		form.Set("burn_amount", "30,000")
		form.Set("burn_unit", "month")
		if status, _, _ := b.post("/offerings/new", "/offerings", form); status != http.StatusCreated {
			t.Fatalf("create: %d", status)
		}
		before, _ := s.offerings.Get(t.Context(), "monthly")
		_, page, _ := b.get("/offerings/monthly/edit")
		if !strings.Contains(page, `value="30,000"`) || !strings.Contains(page, `<option value="month" selected>`) {
			t.Fatalf("the edit form forgot the unit: %s", regexp.MustCompile(`(?s)<fieldset class="field">.*?</fieldset>`).FindString(page))
		}
		form.Set("name", "Monthly renamed")
		if status, _, _ := b.post("/offerings/monthly/edit", "/offerings/monthly/edit", form); status != http.StatusSeeOther {
			t.Fatalf("save: %d", status)
		}
		after, _ := s.offerings.Get(t.Context(), "monthly")
		if after.BurnRateMsatPerHour != before.BurnRateMsatPerHour || after.BurnUnit != "month" || after.Name != "Monthly renamed" {
			t.Fatalf("saved unchanged: rate %d → %d, unit %q", before.BurnRateMsatPerHour, after.BurnRateMsatPerHour, after.BurnUnit)
		}
	})
}

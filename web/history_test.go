package web_test

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
)

// payDonation asks for a donation over the API and pays it on the demo
// node; it returns the payment hash.
func payDonation(t *testing.T, s *site, body string) string {
	t.Helper()
	hash := openDonation(t, s, body)
	if status, resp, _ := s.do(t, "POST", "/api/v1/demo/invoices/"+hash+"/pay", ""); status != 200 {
		t.Fatalf("pay: %d %s", status, resp)
	}
	return hash
}

// openDonation asks the API for a donation invoice to my-site and returns
// its payment hash, unpaid.
func openDonation(t *testing.T, s *site, body string) string {
	t.Helper()
	status, resp, _ := s.do(t, "POST", "/api/v1/offerings/my-site/donations", body)
	if status != 201 {
		t.Fatalf("donate: %d %s", status, resp)
	}
	var got struct {
		PaymentHash string `json:"payment_hash"`
	}
	decodeInto(t, resp, &got)
	return got.PaymentHash
}

// historySite is an offering with two paid donations a day apart, one
// public and one private, and some runway consumed.
func historySite(t *testing.T, d *db.DB) (*site, []string) {
	s := newSite(t, d)
	createOffering(t, s, createBody) // 1,000 sat an hour
	s.clock.Advance(time.Hour)
	h1 := payDonation(t, s, `{"amount_msat":48000000,"name":"Ann Public","message":"keep it up","public":true}`)
	s.clock.Advance(24 * time.Hour)
	if _, err := s.offerings.AccrueAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.clock.Advance(time.Hour)
	h2 := payDonation(t, s, `{"amount_msat":12000000,"name":"Secret Sam","message":"do not show this","public":false}`)
	s.clock.Advance(2 * time.Hour)
	return s, []string{h1, h2}
}

func TestOfferingPageShowsHistoryAndWall(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s, _ := historySite(t, d)
		status, body, _ := s.do(t, "GET", "/o/my-site", "")
		if status != 200 {
			t.Fatalf("offering page: %d %s", status, body)
		}
		svg := regexp.MustCompile(`(?s)<svg[^>]*data-testid="history-chart".*?</svg>`).FindString(body)
		if svg == "" {
			t.Fatalf("no history chart on the page")
		}
		markers, titled := 0, false
		dec := xml.NewDecoder(strings.NewReader(svg))
		for {
			tok, err := dec.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("the chart is not XML: %v\n%s", err, svg)
			}
			if el, ok := tok.(xml.StartElement); ok {
				for _, a := range el.Attr {
					if a.Name.Local == "data-testid" && a.Value == "chart-payment" {
						markers++
					}
				}
				titled = titled || el.Name.Local == "title"
			}
		}
		if markers != 2 || !titled {
			t.Fatalf("%d payment markers (want 2), title %v:\n%s", markers, titled, svg)
		}
		wall := regexp.MustCompile(`(?s)<section[^>]*data-testid="donor-wall".*?</section>`).FindString(body)
		for _, want := range []string{"Ann Public", "keep it up", "48,000 sats", "Anonymous", "12,000 sats"} {
			if !strings.Contains(wall, want) {
				t.Errorf("the wall lacks %q:\n%s", want, wall)
			}
		}
		if strings.Index(wall, "12,000 sats") > strings.Index(wall, "48,000 sats") {
			t.Errorf("the wall is not newest first:\n%s", wall)
		}
		for _, secret := range []string{"Secret Sam", "do not show this"} {
			if strings.Contains(body, secret) {
				t.Errorf("the offering page shows %q, which the donor kept private", secret)
			}
		}
		if !strings.Contains(body, `href="/o/my-site/ledger"`) {
			t.Error("no link to the public ledger")
		}
	})
}

func TestPublicLedgerPageLeaksNothing(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s, hashes := historySite(t, d)
		// An accrual a minute for two hours, as the accrual job used to
		// post them (such rows stay in older ledgers): more rows than one
		// page.
		o, err := s.offerings.Get(context.Background(), "my-site")
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 120; i++ {
			s.clock.Advance(time.Minute)
			if _, err := s.offerings.Accrue(context.Background(), o.ID); err != nil {
				t.Fatal(err)
			}
		}
		rows, bodies := 0, ""
		seen := map[string]bool{}
		path, pages := "/o/my-site/ledger", 0
		for path != "" {
			status, body, _ := s.do(t, "GET", path, "")
			if status != 200 {
				t.Fatalf("%s: %d %s", path, status, body)
			}
			pages++
			bodies += body
			for _, secret := range append([]string{"Ann Public", "keep it up", "Secret Sam", "do not show this", "invoice:", "payment_hash"}, hashes...) {
				if strings.Contains(body, secret) {
					t.Fatalf("%s leaks %q", path, secret)
				}
			}
			rows += strings.Count(body, `data-testid="ledger-row"`)
			for _, m := range regexp.MustCompile(`<td data-label="Movement">([^<]*)</td>`).FindAllStringSubmatch(body, -1) {
				seen[m[1]] = true
			}
			path = ""
			if m := regexp.MustCompile(`href="(/o/my-site/ledger\?before=\d+)"`).FindStringSubmatch(body); m != nil {
				path = m[1]
			}
		}
		// 2 payments in; the 122 accruals (1 by the job before the second
		// payment, 1 as it credits, then 120 a minute apart) all fall on
		// one UTC day: one line, summing 29 hours at 1,000 sat an hour
		// (and the msat accruals carry over).
		if rows != 3 || pages != 1 || !seen["payment in"] || !seen["runway consumed"] {
			t.Fatalf("%d rows in %d pages, movements %v", rows, pages, seen)
		}
		if !strings.Contains(bodies, ">29,000") || !strings.Contains(bodies, "2 Nov 2026 13:00–18:00 UTC") {
			t.Fatalf("no line for 2 Nov, 13:00–18:00, of 29,000 sats consumed:\n%s", bodies)
		}
		for _, bad := range []string{"?before=abc", "?before=-1"} {
			if status, _, _ := s.do(t, "GET", "/o/my-site/ledger"+bad, ""); status < 400 || status >= 500 {
				t.Errorf("ledger%s: %d, want a 4xx", bad, status)
			}
		}
		if status, _, _ := s.do(t, "GET", "/o/nope/ledger", ""); status != 404 {
			t.Errorf("ledger of a missing offering: %d", status)
		}
	})
}

// TestBrowserHistoryScreens shoots the offering page with a month of
// history and the ledger page at phone and desktop widths, and checks
// that neither overflows a phone's width.
func TestBrowserHistoryScreens(t *testing.T) {
	ctx := headless(t)
	s, _ := historySite(t, dbtest.SQLite(t))
	gifts := []string{
		`{"amount_msat":96000000,"name":"Gardeners' club","message":"For another season of seedlings.","public":true}`,
		`{"amount_msat":30000000,"name":"","message":"","public":false}`,
		`{"amount_msat":250000000,"name":"A very long name that someone typed in full","message":"Thank you for keeping this alive; we read it every morning.","public":true}`,
	}
	for _, g := range gifts {
		s.clock.Advance(5 * 24 * time.Hour)
		if _, err := s.offerings.AccrueAll(context.Background()); err != nil {
			t.Fatal(err)
		}
		payDonation(t, s, g)
	}
	s.clock.Advance(3 * 24 * time.Hour)
	for _, page := range []struct{ path, ready, name string }{
		{"/o/my-site", `[data-testid="history-chart"]`, "offering-history"},
		{"/o/my-site/ledger", `[data-testid="ledger-row"]`, "ledger"},
	} {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844), chromedp.Navigate(s.URL+page.path),
			chromedp.WaitVisible(page.ready)); err != nil {
			t.Fatal(err)
		}
		wide, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
		if err != nil || wide {
			t.Errorf("%s is wider than a phone (%v)", page.path, err)
		}
		if page.name == "offering-history" {
			n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="chart-payment"]').length`))
			if err != nil || n != 5 {
				t.Errorf("%d payment markers drawn, want 5 (%v)", n, err)
			}
		}
		shoot(t, ctx, page.name)
	}
	// The chart up close, at both widths, where its labels must stay legible.
	for _, w := range []int64{390, 1280} {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(w, 900), chromedp.Navigate(s.URL+"/o/my-site")); err != nil {
			t.Fatal(err)
		}
		png, err := chromedp.Run(ctx, chromedp.Screenshot(`[data-testid="history"]`))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(screenshotDir(t), fmt.Sprintf("history-chart-%d.png", w)), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// A payment shows on the ledger page at once.
func TestPublicLedgerShowsANewPaymentAtOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s, _ := historySite(t, d)
		count := func() int {
			status, body, _ := s.do(t, "GET", "/o/my-site/ledger", "")
			if status != 200 {
				t.Fatalf("ledger: %d", status)
			}
			return strings.Count(body, ">payment in<")
		}
		if n := count(); n != 2 {
			t.Fatalf("%d payments listed, want 2", n)
		}
		payDonation(t, s, `{"amount_msat":5000000}`)
		if n := count(); n != 3 {
			t.Fatalf("%d payments listed after a third, want 3", n)
		}
	})
}

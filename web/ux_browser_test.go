package web_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/keepalive/keepalive/internal/db/dbtest"
)

// The pages issue 8 changed, in a real browser at phone and desktop
// widths: nothing wider than a phone, the slug suggested as the name is
// typed, a name typed for the wall picks "show", every form error at
// once, host snippets with copy buttons, and the widget in 300 × 180.
func TestBrowserIssue8Pages(t *testing.T) {
	ctx := headless(t)
	s := newSite(t, dbtest.SQLite(t))
	_, key := createOffering(t, s, strings.Replace(createBody, `"description":"hi"`, `"description":"A wiki for our town. Docs: https://docs.example.org/start"`, 1))
	payDonation(t, s, `{"amount_msat":168000000,"name":"Ann","message":"keep it up","public":true}`)

	narrow := func(name string) {
		t.Helper()
		wide, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
		if err != nil || wide {
			t.Errorf("%s is wider than a phone (%v)", name, err)
		}
	}

	// The offering page: presets, the wall choice, typing a name shows it.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844), chromedp.Navigate(s.URL+"/o/my-site"),
		chromedp.WaitVisible(`[data-testid="wall-choice"]`), chromedp.SendKeys(`#donor-name`, "Zoe")); err != nil {
		t.Fatal(err)
	}
	narrow("the offering page")
	if on, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("donor-public").checked`)); err != nil || !on {
		t.Errorf("typing a name did not choose to show it (%v)", err)
	}
	shoot(t, ctx, "issue8-offering")

	// The new-offering form: the address follows the name; an empty
	// submit lists every problem.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844), chromedp.Navigate(s.URL+"/offerings/new"),
		chromedp.WaitVisible(`#name`), chromedp.SendKeys(`#name`, "Café Wiki!")); err != nil {
		t.Fatal(err)
	}
	if slug, err := chromedp.Run(ctx, chromedp.Value(`#slug`)); err != nil || slug != "cafe-wiki" {
		t.Errorf("slug suggested %q (%v), want cafe-wiki", slug, err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("name").value = ""; document.getElementById("slug").value = ""; true`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Submit(`#name`), chromedp.WaitVisible(`[data-testid="form-error"]`)); err != nil {
		t.Fatal(err)
	}
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(".field__error").length`))
	if err != nil || n < 4 {
		t.Errorf("an empty submit shows %d errors, want every one (4) (%v)", n, err)
	}
	narrow("the new-offering form")
	shoot(t, ctx, "issue8-new-offering-errors")

	// The dashboard: host snippets with copy buttons.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844), chromedp.Navigate(s.URL+"/signin"),
		chromedp.SendKeys(`input[name="manage_key"]`, key), chromedp.Submit(`input[name="manage_key"]`),
		chromedp.WaitVisible(`[data-testid="dashboard-item"]`), chromedp.Click(`[data-testid="host-snippets"] summary`),
		chromedp.WaitVisible(`[data-testid="host-snippet"]`)); err != nil {
		t.Fatal(err)
	}
	buttons, err := chromedp.Run(ctx, chromedp.Evaluate[int](`[...document.querySelectorAll('[data-testid="host-snippets"] button[data-copy]')].filter(b => !b.hidden).length`))
	if err != nil || buttons != 3 { // status, badge, widget (this site signs no tokens)
		t.Errorf("%d visible copy buttons for the host, want 3 (%v)", buttons, err)
	}
	narrow("the dashboard")
	shoot(t, ctx, "issue8-dashboard")

	// The widget at 300 × 180, dark.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(300, 180), chromedp.Navigate(s.URL+"/o/my-site/widget?theme=dark"),
		chromedp.WaitVisible(`[data-testid="widget-donate"]`)); err != nil {
		t.Fatal(err)
	}
	fits, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollHeight <= 180 && document.documentElement.scrollWidth <= 300`))
	if err != nil || !fits {
		h, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollHeight`))
		t.Errorf("the widget does not fit 300 × 180 (height %d, %v)", h, err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err == nil {
		writeShot(t, "issue8-widget-dark-300x180", png)
	}
}

func writeShot(t *testing.T, name string, png []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(screenshotDir(t), name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

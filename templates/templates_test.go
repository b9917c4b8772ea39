package templates

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/a-h/templ"
	"golang.org/x/net/html"
)

var (
	until   = time.Date(2027, 1, 2, 15, 4, 0, 0, time.UTC)
	created = time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
)

func samplePage() Page {
	return Page{Title: "Test", CSRFToken: "tok-123", Path: "/"}
}

func aliveCard() OfferingCard {
	return OfferingCard{
		Slug: "my-site", Name: "My site", URL: "https://example.org/app/", Description: "A small wiki.",
		State: "alive", FundedUntil: until, RunwaySeconds: 23 * 86400, RunwayText: "23 days",
		BurnPerDay: "2,400 sats/day", RunwayPercent: 76,
	}
}

// doc is a rendered page, parsed, with helpers to query it.
type doc struct {
	t    *testing.T
	raw  string
	root *html.Node
}

func render(t *testing.T, c templ.Component) doc {
	t.Helper()
	var buf bytes.Buffer
	if err := c.Render(context.Background(), &buf); err != nil {
		t.Fatalf("render: %v", err)
	}
	root, err := html.Parse(strings.NewReader(buf.String()))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return doc{t: t, raw: buf.String(), root: root}
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func (d doc) all(match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	for n := range d.root.Descendants() {
		if n.Type == html.ElementNode && match(n) {
			out = append(out, n)
		}
	}
	return out
}

func (d doc) byTestID(id string) []*html.Node {
	return d.all(func(n *html.Node) bool { v, _ := attr(n, "data-testid"); return v == id })
}

func (d doc) byID(id string) *html.Node {
	if ns := d.all(func(n *html.Node) bool { v, _ := attr(n, "id"); return v == id }); len(ns) == 1 {
		return ns[0]
	}
	return nil
}

// one returns the single element with the test id, failing otherwise.
func (d doc) one(id string) *html.Node {
	d.t.Helper()
	ns := d.byTestID(id)
	if len(ns) != 1 {
		d.t.Fatalf("want one data-testid=%q, found %d", id, len(ns))
	}
	return ns[0]
}

func text(n *html.Node) string {
	var b strings.Builder
	for c := range n.Descendants() {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

func (d doc) wantText(id, want string) {
	d.t.Helper()
	if got := text(d.one(id)); !strings.Contains(got, want) {
		d.t.Errorf("data-testid=%q text = %q, want it to contain %q", id, got, want)
	}
}

// input finds the form control with the given name.
func (d doc) input(name string) *html.Node {
	d.t.Helper()
	ns := d.all(func(n *html.Node) bool {
		v, _ := attr(n, "name")
		return v == name && (n.Data == "input" || n.Data == "textarea" || n.Data == "select")
	})
	if len(ns) != 1 {
		d.t.Fatalf("want one control named %q, found %d", name, len(ns))
	}
	return ns[0]
}

// forms returns each form's action with whether it carries the CSRF token.
func (d doc) postFormsHaveCSRF(token string) {
	d.t.Helper()
	for _, f := range d.all(func(n *html.Node) bool { return n.Data == "form" }) {
		if m, _ := attr(f, "method"); m != "post" {
			continue
		}
		found := false
		for n := range f.Descendants() {
			if name, _ := attr(n, "name"); n.Data == "input" && name == "_csrf" {
				v, _ := attr(n, "value")
				found = v == token
			}
		}
		if !found {
			action, _ := attr(f, "action")
			d.t.Errorf("form %q has no _csrf input with the page token", action)
		}
	}
}

// cspSafe checks what the strict CSP would block: style attributes, inline
// scripts and event handler attributes.
func (d doc) cspSafe() {
	d.t.Helper()
	for _, n := range d.all(func(*html.Node) bool { return true }) {
		for _, a := range n.Attr {
			if a.Key == "style" || strings.HasPrefix(a.Key, "on") {
				d.t.Errorf("<%s> has a %q attribute, which the CSP blocks", n.Data, a.Key)
			}
		}
		if n.Data == "style" {
			d.t.Error("inline <style> element, which the CSP blocks")
		}
		if n.Data == "script" {
			if _, ok := attr(n, "src"); !ok || n.FirstChild != nil {
				d.t.Error("inline <script>, which the CSP blocks")
			}
		}
	}
}

func TestLayout(t *testing.T) {
	cases := []struct {
		name         string
		page         Page
		wantBanner   bool
		wantNav      string // the link that depends on the session
		notNav       string
		wantCurrent  string
		wantFlash    bool
		wantTitleTag string
	}{
		{"visitor", Page{Title: "Home", Path: "/"}, false, "/signin", "/dashboard", "/", false, "Home · Keepalive"},
		{"owner in demo", Page{Demo: true, SignedIn: true, Path: "/dashboard", Flash: "Saved."}, true, "/dashboard", "/signin", "/dashboard", true, "Keepalive"},
		{"offering page is under offerings", Page{Title: "X", Path: "/o/x"}, false, "/signin", "/dashboard", "/", false, "X · Keepalive"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := render(t, ErrorPage(ErrorView{Page: c.page, Heading: "h"}))
			d.cspSafe()
			if got := len(d.byTestID("demo-banner")); (got == 1) != c.wantBanner {
				t.Errorf("demo banners = %d, want shown=%v", got, c.wantBanner)
			}
			if c.wantBanner && !strings.Contains(text(d.one("demo-banner")), "payments are simulated, no real bitcoin moves") {
				t.Error("demo banner text is wrong")
			}
			if got := len(d.byTestID("flash")); (got == 1) != c.wantFlash {
				t.Errorf("flash shown = %d, want %v", got, c.wantFlash)
			}
			hrefs := map[string]bool{}
			current := ""
			for _, a := range d.all(func(n *html.Node) bool { return n.Data == "a" }) {
				h, _ := attr(a, "href")
				hrefs[h] = true
				if v, ok := attr(a, "aria-current"); ok && v == "page" {
					current = h
				}
			}
			for _, h := range []string{"/", "/offerings/new", c.wantNav, "/api/v1/offerings"} {
				if !hrefs[h] {
					t.Errorf("no link to %s", h)
				}
			}
			if hrefs[c.notNav] {
				t.Errorf("unexpected link to %s", c.notNav)
			}
			if current != c.wantCurrent {
				t.Errorf("current nav = %q, want %q", current, c.wantCurrent)
			}
			titles := d.all(func(n *html.Node) bool { return n.Data == "title" })
			if len(titles) != 1 || text(titles[0]) != c.wantTitleTag {
				t.Errorf("title wrong: %q", d.raw[:min(len(d.raw), 300)])
			}
			if !strings.Contains(d.raw, `href="/static/css/app.css?v=`) || !strings.Contains(d.raw, `src="/static/js/app.js?v=`) {
				t.Error("layout must load the checksummed CSS and JS")
			}
		})
	}
}

func TestHome(t *testing.T) {
	grace := aliveCard()
	grace.Slug, grace.Name, grace.State, grace.RunwaySeconds, grace.RunwayPercent = "g", "Grace one", "grace", 0, 0
	never := aliveCard()
	never.Slug, never.State, never.FundedUntil, never.RunwaySeconds, never.RunwayPercent = "n", "expired", time.Time{}, 0, 0
	never.Name = `<script>alert(1)</script>`
	overfull := aliveCard()
	overfull.Slug, overfull.RunwayPercent = "o", 250

	t.Run("cards", func(t *testing.T) {
		v := HomeView{Page: samplePage(), Query: `q"><b>`, Offerings: []OfferingCard{aliveCard(), grace, never, overfull}, NextPage: "/?page=3", PrevPage: "/?page=1"}
		d := render(t, Home(v))
		d.cspSafe()
		cards := d.byTestID("offering-card")
		if len(cards) != 4 {
			t.Fatalf("cards = %d, want 4", len(cards))
		}
		if strings.Contains(d.raw, "<script>alert(1)") || strings.Contains(d.raw, "<b>") {
			t.Error("user text was not escaped")
		}
		if !strings.Contains(text(cards[2]), "<script>alert(1)</script>") {
			t.Error("escaped name should still read as typed")
		}
		wantStates := []struct{ state, label string }{{"alive", "Alive"}, {"grace", "In grace"}, {"expired", "Not funded yet"}, {"alive", "Alive"}}
		badges := d.byTestID("state-badge")
		bars := d.byTestID("runway-bar")
		if len(badges) != 4 || len(bars) != 4 {
			t.Fatalf("badges = %d, bars = %d, want 4 each", len(badges), len(bars))
		}
		for i, w := range wantStates {
			if s, _ := attr(badges[i], "data-state"); s != w.state || text(badges[i]) != w.label {
				t.Errorf("badge %d = %q/%q, want %q/%q", i, s, text(badges[i]), w.state, w.label)
			}
		}
		for i, want := range []string{"76", "0", "0", "100"} {
			if p, _ := attr(bars[i], "data-percent"); p != want {
				t.Errorf("bar %d percent = %q, want %q", i, p, want)
			}
		}
		if got := text(cards[0]); !strings.Contains(got, "Funded until 2 Jan 2027 15:04 UTC") || !strings.Contains(got, "2,400 sats/day") || !strings.Contains(got, "23 days") {
			t.Errorf("alive card text = %q", got)
		}
		if got := text(cards[2]); !strings.Contains(got, "Not funded yet") {
			t.Errorf("never-funded card text = %q", got)
		}
		if links := d.all(func(n *html.Node) bool { h, _ := attr(n, "href"); return h == "/o/my-site" }); len(links) == 0 {
			t.Error("card does not link to /o/my-site")
		}
		if h, _ := attr(d.one("next-page"), "href"); h != "/?page=3" {
			t.Errorf("next href = %q", h)
		}
		if h, _ := attr(d.one("prev-page"), "href"); h != "/?page=1" {
			t.Errorf("prev href = %q", h)
		}
		if q, _ := attr(d.input("q"), "value"); q != v.Query {
			t.Errorf("search value = %q, want it kept", q)
		}
	})

	t.Run("empty", func(t *testing.T) {
		d := render(t, Home(HomeView{Page: samplePage()}))
		d.wantText("empty", "List yours")
		if len(d.byTestID("next-page"))+len(d.byTestID("prev-page")) != 0 {
			t.Error("pagination shown with no pages")
		}
	})
}

func TestOffering(t *testing.T) {
	expired := aliveCard()
	expired.State, expired.RunwaySeconds, expired.RunwayPercent = "expired", 0, 0
	grace := expired
	grace.State = "grace"
	grace.GraceEndsAt = grace.FundedUntil.Add(24 * time.Hour)
	cases := []struct {
		name     string
		card     OfferingCard
		owner    bool
		headline string
	}{
		{"alive visitor", aliveCard(), false, "Alive until 2 Jan 2027 15:04 UTC"},
		{"grace owner", grace, true, "Runway ran out on 2 Jan 2027 15:04 UTC. It keeps running in its grace period until 3 Jan 2027 15:04 UTC"},
		{"expired", expired, false, "Expired on 2 Jan 2027 15:04 UTC. A payment will revive it."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := OfferingView{Page: samplePage(), Offering: c.card, GraceText: "1 day", RunwayMsatText: "55,200 sats", EarnedText: "1,000 sats", IsOwner: c.owner, CreatedAt: created}
			d := render(t, Offering(v))
			d.cspSafe()
			d.wantText("runway-headline", c.headline)
			d.wantText("runway-balance", "55,200 sats")
			d.wantText("burn-rate", "2,400 sats/day")
			d.wantText("earned", "1,000 sats")
			d.wantText("description", "A small wiki.")
			if s, _ := attr(d.one("state-badge"), "data-state"); s != c.card.State {
				t.Errorf("badge state = %q", s)
			}
			d.one("runway-bar")
			fund := d.one("fund")
			if id, _ := attr(fund, "id"); id != "fund" || fund.Data != "section" {
				t.Errorf("fund spot = <%s id=%q>, want <section id=fund>", fund.Data, id)
			}
			link := d.one("offering-url")
			href, _ := attr(link, "href")
			rel, _ := attr(link, "rel")
			target, _ := attr(link, "target")
			if href != c.card.URL || rel != "nofollow noopener" || target != "_blank" {
				t.Errorf("hosted link = %q rel=%q target=%q", href, rel, target)
			}
			if got := len(d.byTestID("edit-link")); (got == 1) != c.owner {
				t.Errorf("edit links = %d, owner = %v", got, c.owner)
			}
		})
	}

	t.Run("unsafe url is neutralised", func(t *testing.T) {
		o := aliveCard()
		o.URL = "javascript:alert(1)"
		d := render(t, Offering(OfferingView{Page: samplePage(), Offering: o}))
		if href, _ := attr(d.one("offering-url"), "href"); strings.HasPrefix(href, "javascript:") {
			t.Errorf("href = %q, want it sanitised", href)
		}
	})
}

func TestOfferingForm(t *testing.T) {
	t.Run("create with errors keeps values", func(t *testing.T) {
		f := OfferingForm{Page: samplePage(), FormError: "Some values need another look."}
		f.Name = FormField{Value: `<i>Mine</i>`}
		f.SlugField = FormField{Value: "Bad Slug", Error: "Use lowercase letters, digits and dashes."}
		f.URL = FormField{Value: "https://x.example"}
		f.Description = FormField{Value: "line one\n</textarea><script>x</script>"}
		f.BurnAmount = FormField{Value: "abc", Error: "Not a number."}
		f.BurnUnit = FormField{Value: "month"}
		f.GraceHours = FormField{Value: "24"}
		d := render(t, OfferingFormPage(f))
		d.cspSafe()
		d.postFormsHaveCSRF("tok-123")
		d.wantText("form-error", "Some values need another look.")
		if strings.Contains(d.raw, "<script>x") || strings.Contains(d.raw, "<i>Mine") {
			t.Error("user text was not escaped")
		}
		forms := d.all(func(n *html.Node) bool { return n.Data == "form" })
		if a, _ := attr(forms[0], "action"); a != "/offerings" {
			t.Errorf("action = %q", a)
		}
		values := map[string]string{"name": `<i>Mine</i>`, "slug": "Bad Slug", "url": "https://x.example", "burn_amount": "abc", "grace_hours": "24"}
		for name, want := range values {
			if got, _ := attr(d.input(name), "value"); got != want {
				t.Errorf("%s value = %q, want %q", name, got, want)
			}
		}
		if got := text(d.input("description")); got != "line one </textarea><script>x</script>" {
			t.Errorf("description = %q", got)
		}
		for _, o := range d.all(func(n *html.Node) bool { return n.Data == "option" }) {
			_, sel := attr(o, "selected")
			val, _ := attr(o, "value")
			if sel != (val == "month") {
				t.Errorf("option %q selected = %v", val, sel)
			}
		}
		for _, c := range []struct {
			field, msg string
			invalid    bool
		}{
			{"slug", "Use lowercase letters", true},
			{"burn_amount", "Not a number.", true},
			{"name", "", false},
			{"url", "", false},
		} {
			in := d.input(c.field)
			inv, _ := attr(in, "aria-invalid")
			desc, _ := attr(in, "aria-describedby")
			if (inv == "true") != c.invalid {
				t.Errorf("%s aria-invalid = %q", c.field, inv)
			}
			if !c.invalid {
				if len(d.byTestID(c.field+"-error")) != 0 {
					t.Errorf("%s shows an error it does not have", c.field)
				}
				continue
			}
			d.wantText(c.field+"-error", c.msg)
			if !strings.Contains(" "+desc+" ", " "+c.field+"-error ") || d.byID(c.field+"-error") == nil {
				t.Errorf("%s aria-describedby = %q, want it to name its error", c.field, desc)
			}
			for _, id := range strings.Fields(desc) {
				if d.byID(id) == nil {
					t.Errorf("%s is described by missing id %q", c.field, id)
				}
			}
		}
	})

	t.Run("edit posts to the slug", func(t *testing.T) {
		f := OfferingForm{Page: samplePage(), Editing: true, Slug: "my-site"}
		f.Name.Value, f.SlugField.Value, f.BurnUnit.Value = "My site", "my-site", "day"
		d := render(t, OfferingFormPage(f))
		d.postFormsHaveCSRF("tok-123")
		forms := d.all(func(n *html.Node) bool { return n.Data == "form" })
		if a, _ := attr(forms[0], "action"); a != "/offerings/my-site/edit" {
			t.Errorf("action = %q", a)
		}
		if _, ro := attr(d.input("slug"), "readonly"); !ro {
			t.Error("slug should be read-only when editing")
		}
		if len(d.byTestID("form-error")) != 0 {
			t.Error("form error shown without one")
		}
	})
}

func TestCreated(t *testing.T) {
	key := "ka_mk_0123456789abcdef"
	d := render(t, Created(CreatedView{Page: samplePage(), Offering: aliveCard(), ManageKey: key, DashboardURL: "/dashboard"}))
	d.cspSafe()
	if got := text(d.one("manage-key")); got != key {
		t.Errorf("manage key = %q, want %q", got, key)
	}
	d.wantText("manage-key-box", "shown only once")
	if h, _ := attr(d.one("dashboard-link"), "href"); h != "/dashboard" {
		t.Errorf("dashboard link = %q", h)
	}
	if h, _ := attr(d.one("public-link"), "href"); h != "/o/my-site" {
		t.Errorf("public link = %q", h)
	}
	buttons := d.all(func(n *html.Node) bool { v, _ := attr(n, "data-copy"); return v == "manage-key" })
	if len(buttons) != 1 {
		t.Fatal("no copy button for the key")
	}
	if _, hidden := attr(buttons[0], "hidden"); !hidden {
		t.Error("copy button must start hidden: it needs JS")
	}
}

func TestSignIn(t *testing.T) {
	t.Run("error and next", func(t *testing.T) {
		d := render(t, SignIn(SignInView{Page: samplePage(), Error: "That manage key does not match any offering.", Next: "/dashboard"}))
		d.cspSafe()
		d.postFormsHaveCSRF("tok-123")
		d.wantText("form-error", "manage key")
		if v, _ := attr(d.input("next"), "value"); v != "/dashboard" {
			t.Errorf("next = %q", v)
		}
		in := d.input("manage_key")
		if inv, _ := attr(in, "aria-invalid"); inv != "true" {
			t.Error("key input not marked invalid")
		}
		forms := d.all(func(n *html.Node) bool { return n.Data == "form" })
		if a, _ := attr(forms[0], "action"); a != "/signin" {
			t.Errorf("action = %q", a)
		}
	})
	t.Run("clean", func(t *testing.T) {
		d := render(t, SignIn(SignInView{Page: samplePage()}))
		if len(d.byTestID("form-error")) != 0 {
			t.Error("error shown without one")
		}
		if ns := d.all(func(n *html.Node) bool { v, _ := attr(n, "name"); return v == "next" }); len(ns) != 0 {
			t.Error("empty next should not be sent")
		}
	})
}

func TestDashboard(t *testing.T) {
	items := []DashboardItem{
		{Offering: aliveCard(), RunwayMsatText: "55,200 sats", EarnedText: "1,000 sats", BurnRateText: "2,400 sats/day", EditURL: "/offerings/my-site/edit"},
	}
	d := render(t, Dashboard(DashboardView{Page: Page{CSRFToken: "tok-123", SignedIn: true, Path: "/dashboard"}, Items: items}))
	d.cspSafe()
	d.postFormsHaveCSRF("tok-123")
	d.one("signout")
	item := d.one("dashboard-item")
	for _, want := range []string{"My site", "55,200 sats", "1,000 sats", "2,400 sats/day", "Funded until 2 Jan 2027 15:04 UTC"} {
		if !strings.Contains(text(item), want) {
			t.Errorf("item text %q lacks %q", text(item), want)
		}
	}
	if h, _ := attr(d.one("edit-link"), "href"); h != "/offerings/my-site/edit" {
		t.Errorf("edit link = %q", h)
	}
	signout := d.all(func(n *html.Node) bool { a, _ := attr(n, "action"); return n.Data == "form" && a == "/signout" })
	if len(signout) != 1 {
		t.Error("no POST /signout form")
	}

	empty := render(t, Dashboard(DashboardView{Page: samplePage()}))
	empty.one("empty")
}

func TestErrorPage(t *testing.T) {
	d := render(t, ErrorPage(ErrorView{Page: samplePage(), Status: 404, Heading: "Not found", Message: "No offering <here>."}))
	d.cspSafe()
	d.wantText("error", "Error 404")
	d.wantText("error", "Not found")
	d.wantText("error-message", "No offering <here>.")
	if strings.Contains(d.raw, "<here>") {
		t.Error("message not escaped")
	}
}

func TestFormatDate(t *testing.T) {
	cases := []struct {
		in   time.Time
		want string
	}{
		{until, "2 Jan 2027 15:04 UTC"},
		{time.Date(2026, 12, 31, 23, 30, 0, 0, time.FixedZone("X", -2*3600)), "1 Jan 2027 01:30 UTC"},
	}
	for _, c := range cases {
		if got := FormatDate(c.in); got != c.want {
			t.Errorf("FormatDate(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}

// fakeQR stands for qrsvg's output: trusted markup, rendered raw.
const fakeQR = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 29 29" width="220" height="220" shape-rendering="crispEdges" role="img" aria-label="QR code"><rect width="29" height="29" fill="#fff"/><path fill="#000" d="m4 4h7v1h-7z"/></svg>`

func sampleDonate() DonateForm {
	return DonateForm{
		Action: "/o/my-site/donate", MinText: "1 sat", MaxText: "10,000,000 sats",
		Presets: []DonatePreset{
			{Sats: 2400, Label: "2,400 sats", Buys: "≈ 1 day of runway"},
			{Sats: 17000, Label: "17,000 sats", Buys: "≈ 7 days of runway"},
			{Sats: 72000, Label: "72,000 sats", Buys: "≈ 30 days of runway"},
		},
	}
}

func sampleOfferingView() OfferingView {
	return OfferingView{
		Page: samplePage(), Offering: aliveCard(), GraceText: "1 day", RunwayMsatText: "55,200 sats", EarnedText: "0 sats",
		Donate: sampleDonate(), LightningAddress: "my-site@keepalive.example", LNURL: "LNURL1DP68GURN8GHJ7UM9WFMXJCM", LNURLQR: fakeQR,
	}
}

// checkedAmount is the value of the checked amount radio ("" if none, or
// "many" if the form would send more than one).
func (d doc) checkedAmount() string {
	got := ""
	for _, n := range d.all(func(n *html.Node) bool { v, _ := attr(n, "name"); return n.Data == "input" && v == "amount" }) {
		if _, ok := attr(n, "checked"); ok {
			if got != "" {
				return "many"
			}
			got, _ = attr(n, "value")
		}
	}
	return got
}

func TestOfferingDonate(t *testing.T) {
	t.Run("fresh form", func(t *testing.T) {
		d := render(t, Offering(sampleOfferingView()))
		d.cspSafe()
		d.postFormsHaveCSRF("tok-123")
		fund := d.one("fund")
		if id, _ := attr(fund, "id"); id != "fund" {
			t.Errorf("fund section id = %q", id)
		}
		form := d.one("donate-form")
		if a, _ := attr(form, "action"); a != "/o/my-site/donate" {
			t.Errorf("donate action = %q", a)
		}
		if m, _ := attr(form, "method"); m != "post" {
			t.Errorf("donate method = %q", m)
		}
		presets := d.byTestID("donate-preset")
		if len(presets) != 3 {
			t.Fatalf("presets = %d, want 3", len(presets))
		}
		if got := text(presets[1]); got != "17,000 sats ≈ 7 days of runway" {
			t.Errorf("second preset reads %q", got)
		}
		radios := d.all(func(n *html.Node) bool { v, _ := attr(n, "name"); return n.Data == "input" && v == "amount" })
		var values []string
		for _, r := range radios {
			if typ, _ := attr(r, "type"); typ != "radio" {
				t.Errorf("amount input of type %q", typ)
			}
			v, _ := attr(r, "value")
			values = append(values, v)
		}
		if strings.Join(values, ",") != "2400,17000,72000,custom" {
			t.Errorf("amount values = %v", values)
		}
		if got := d.checkedAmount(); got != "17000" {
			t.Errorf("checked amount = %q, want the second preset", got)
		}
		if typ, _ := attr(d.byID("donor-public"), "type"); typ != "radio" {
			t.Errorf("public is a %q", typ)
		}
		if v, _ := attr(d.byID("donor-public"), "value"); v != "1" {
			t.Errorf("public value = %q", v)
		}
		if _, on := attr(d.byID("donor-public"), "checked"); on {
			t.Error("donations must be anonymous by default")
		}
		if _, on := attr(d.byID("donor-anonymous"), "checked"); !on {
			t.Error("the anonymous choice must be checked by default")
		}
		if d.input("message").Data != "textarea" {
			t.Error("message should be a textarea")
		}
		d.input("name")
		d.input("custom_amount")
		if !strings.Contains(text(fund), "From 1 sat to 10,000,000 sats.") {
			t.Errorf("bounds missing from %q", text(fund))
		}
		if len(d.byTestID("donate-error")) != 0 || len(d.byTestID("custom_amount-error")) != 0 {
			t.Error("errors shown on a fresh form")
		}
		if strings.Contains(d.raw, "autofocus") {
			t.Error("a fresh form must not steal the focus")
		}
		if h, _ := attr(d.one("fund-link"), "href"); h != "#fund" {
			t.Errorf("fund link = %q", h)
		}
	})

	t.Run("pay from any wallet", func(t *testing.T) {
		d := render(t, Offering(sampleOfferingView()))
		d.wantText("lightning-address", "my-site@keepalive.example")
		d.wantText("lnurl", "LNURL1DP68GURN8GHJ7UM9WFMXJCM")
		if h, _ := attr(d.one("lnurl-link"), "href"); h != "lightning:LNURL1DP68GURN8GHJ7UM9WFMXJCM" {
			t.Errorf("lnurl link = %q", h)
		}
		qr := d.one("lnurl-qr")
		svgs := 0
		for n := range qr.Descendants() {
			if n.Type == html.ElementNode && n.Data == "svg" {
				svgs++
			}
		}
		if svgs != 1 {
			t.Errorf("LNURL QR markup not rendered as SVG (%d svg elements)", svgs)
		}
	})

	t.Run("errors and kept values", func(t *testing.T) {
		v := sampleOfferingView()
		v.Donate.Selected = "custom"
		v.Donate.Custom = FormField{Value: `12"><script>x</script>`, Error: "Give a whole number of sats."}
		v.Donate.Name = FormField{Value: `<b>Ada</b>`, Error: "Keep the name under 80 characters."}
		v.Donate.Message = FormField{Value: `</textarea><script>alert(1)</script>`}
		v.Donate.Public = true
		v.Donate.FormError = "Invoices are being made too fast: try again in a minute."
		d := render(t, Offering(v))
		d.cspSafe()
		if strings.Contains(d.raw, "<script>x") || strings.Contains(d.raw, "<script>alert") || strings.Contains(d.raw, "<b>Ada") {
			t.Error("donor input was not escaped")
		}
		if got := d.checkedAmount(); got != "custom" {
			t.Errorf("checked amount = %q, want custom", got)
		}
		if v, _ := attr(d.input("custom_amount"), "value"); v != `12"><script>x</script>` {
			t.Errorf("custom amount not kept: %q", v)
		}
		if got := text(d.input("message")); got != `</textarea><script>alert(1)</script>` {
			t.Errorf("message not kept: %q", got)
		}
		if _, on := attr(d.byID("donor-public"), "checked"); !on {
			t.Error("public choice not kept")
		}
		if _, af := attr(d.input("custom_amount"), "autofocus"); !af {
			t.Error("the first invalid field should take the focus")
		}
		if _, af := attr(d.input("name"), "autofocus"); af {
			t.Error("only one field may have autofocus")
		}
		d.wantText("donate-error", "too fast")
		d.wantText("custom_amount-error", "whole number")
		d.wantText("donor-name-error", "80 characters")
		for name, errID := range map[string]string{"custom_amount": "custom_amount-error", "name": "donor-name-error"} {
			in := d.input(name)
			if inv, _ := attr(in, "aria-invalid"); inv != "true" {
				t.Errorf("%s not marked invalid", name)
			}
			if desc, _ := attr(in, "aria-describedby"); !strings.Contains(desc, errID) {
				t.Errorf("%s aria-describedby = %q, want it to name %s", name, desc, errID)
			}
		}
	})

	t.Run("no form yet", func(t *testing.T) {
		v := sampleOfferingView()
		v.Donate, v.LightningAddress, v.LNURL, v.LNURLQR = DonateForm{}, "", "", ""
		d := render(t, Offering(v))
		d.wantText("fund", "coming soon")
		for _, id := range []string{"donate-form", "pay-any-wallet", "fund-link"} {
			if len(d.byTestID(id)) != 0 {
				t.Errorf("%s shown without a donate form", id)
			}
		}
	})
}

func sampleInvoice() InvoiceView {
	now := time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC)
	p := samplePage()
	p.RefreshSeconds = 5
	return InvoiceView{
		Page: p, Offering: aliveCard(), PaymentHash: "ab12", PaymentRequest: "lnbc21u1pexample",
		AmountText: "2,100 sats", State: "open", Now: now, ExpiresAt: now.Add(59*time.Minute + 12*time.Second),
		QR: fakeQR, LightningURI: "lightning:lnbc21u1pexample", DemoPayAction: "/invoices/ab12/demo-pay",
		EventsURL: "/invoices/ab12/events", OfferingURL: "/o/my-site",
	}
}

func (d doc) hasRefresh() bool {
	return len(d.all(func(n *html.Node) bool { v, _ := attr(n, "http-equiv"); return n.Data == "meta" && v == "refresh" })) > 0 ||
		strings.Contains(d.raw, `http-equiv="refresh"`)
}

func TestInvoice(t *testing.T) {
	open := sampleInvoice()
	openNoDemo := sampleInvoice()
	openNoDemo.DemoPayAction = ""
	settled := sampleInvoice()
	settled.Page.RefreshSeconds = 0
	settled.State, settled.QR, settled.DemoPayAction = "settled", "", ""
	settled.PaidText = "Paid — thank you! <My site> is alive until 3 Dec 2026 14:00 UTC."
	expired := settled
	expired.State, expired.PaidText = "expired", ""
	canceled := expired
	canceled.State = "canceled"

	cases := []struct {
		name      string
		v         InvoiceView
		wantState string
		open      bool
		demo      bool
		paid      bool
	}{
		{"open in demo mode", open, "open", true, true, false},
		{"open", openNoDemo, "open", true, false, false},
		{"settled", settled, "settled", false, false, true},
		{"expired", expired, "expired", false, false, false},
		{"canceled reads as expired", canceled, "expired", false, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := render(t, Invoice(c.v))
			d.cspSafe()
			d.postFormsHaveCSRF("tok-123")
			d.wantText("amount", "2,100 sats")
			block := d.one("invoice-state")
			if s, _ := attr(block, "data-state"); s != c.wantState {
				t.Errorf("data-state = %q, want %q", s, c.wantState)
			}
			if ev, ok := attr(block, "data-events"); ok != c.open || (ok && ev != "/invoices/ab12/events") {
				t.Errorf("data-events = %q (present %v), want present only when open", ev, ok)
			}
			if b, _ := attr(block, "data-back"); b != "/o/my-site" {
				t.Errorf("data-back = %q", b)
			}
			if got := d.hasRefresh(); got != c.open {
				t.Errorf("refresh meta present = %v, want %v", got, c.open)
			}
			if got := len(d.byTestID("demo-pay")); got != btoi(c.demo) {
				t.Errorf("demo-pay forms = %d, want %v", got, c.demo)
			}
			if got := len(d.byTestID("paid")); got != btoi(c.paid) {
				t.Errorf("paid panels = %d, want %v", got, c.paid)
			}
			for _, id := range []string{"qr", "bolt11", "open-wallet", "countdown"} {
				if got := len(d.byTestID(id)); got != btoi(c.open) {
					t.Errorf("%s shown %d times, want open only", id, got)
				}
			}
			if got := len(d.byTestID("expired")); got != btoi(c.wantState == "expired") {
				t.Errorf("expired panels = %d", got)
			}
		})
	}

	t.Run("open details", func(t *testing.T) {
		d := render(t, Invoice(open))
		if got := text(d.one("bolt11")); got != "lnbc21u1pexample" {
			t.Errorf("bolt11 = %q", got)
		}
		if _, ro := attr(d.one("bolt11"), "readonly"); !ro {
			t.Error("bolt11 box must be read-only")
		}
		if h, _ := attr(d.one("open-wallet"), "href"); h != "lightning:lnbc21u1pexample" {
			t.Errorf("open in wallet = %q", h)
		}
		cd := d.one("countdown")
		if got := text(cd); got != "59:12" {
			t.Errorf("countdown = %q, want 59:12", got)
		}
		if s, _ := attr(cd, "data-seconds-left"); s != "3552" {
			t.Errorf("data-seconds-left = %q", s)
		}
		if a, _ := attr(d.one("demo-pay"), "action"); a != "/invoices/ab12/demo-pay" {
			t.Errorf("demo pay action = %q", a)
		}
		if !strings.Contains(text(d.one("demo-pay")), "Pay it (simulated)") {
			t.Error("demo pay button text")
		}
		copyButtons := d.all(func(n *html.Node) bool { v, _ := attr(n, "data-copy"); return v == "bolt11" })
		if len(copyButtons) != 1 {
			t.Error("no copy button for the invoice")
		}
		if !strings.Contains(d.raw, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 29 29"`) {
			t.Error("QR markup not rendered raw")
		}
		ns := d.all(func(n *html.Node) bool { return n.Data == "noscript" })
		if len(ns) != 1 || !strings.Contains(d.raw, `<noscript><meta http-equiv="refresh" content="5">`) {
			t.Error("refresh must sit in a <noscript> with the page's seconds")
		}
	})

	t.Run("settled escapes and links back", func(t *testing.T) {
		d := render(t, Invoice(settled))
		d.wantText("paid", "Paid — thank you! <My site> is alive until 3 Dec 2026 14:00 UTC.")
		if strings.Contains(d.raw, "<My site>") {
			t.Error("paid text not escaped")
		}
		if h, _ := attr(d.one("back-link"), "href"); h != "/o/my-site" {
			t.Errorf("back link = %q", h)
		}
	})

	t.Run("expired offers to donate again", func(t *testing.T) {
		d := render(t, Invoice(expired))
		if h, _ := attr(d.one("donate-again"), "href"); h != "/o/my-site#fund" {
			t.Errorf("donate again = %q", h)
		}
	})

	t.Run("unsafe wallet link is dropped", func(t *testing.T) {
		v := sampleInvoice()
		v.LightningURI = "javascript:alert(1)"
		d := render(t, Invoice(v))
		if h, _ := attr(d.one("open-wallet"), "href"); h != "#" {
			t.Errorf("open in wallet = %q, want #", h)
		}
	})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestCountdown(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		left time.Duration
		want string
	}{
		{59*time.Minute + 12*time.Second, "59:12"},
		{5 * time.Second, "0:05"},
		{time.Hour + 5*time.Minute, "1:05:00"},
		{-time.Minute, "0:00"},
		{1500 * time.Millisecond, "0:01"},
	}
	for _, c := range cases {
		v := InvoiceView{Now: now, ExpiresAt: now.Add(c.left)}
		if got := countdown(secondsLeft(v)); got != c.want {
			t.Errorf("countdown(%v) = %q, want %q", c.left, got, c.want)
		}
	}
}

func TestLightningHref(t *testing.T) {
	cases := []struct {
		in   string
		want string
	}{
		{"lightning:lnbc1abc", "lightning:lnbc1abc"},
		{"LIGHTNING:LNURL1DP68", "LIGHTNING:LNURL1DP68"},
		{"javascript:alert(1)", "#"},
		{"lightning:lnbc1<x>", "#"},
		{"lightning:", "#"},
		{"https://example.org", "#"},
	}
	for _, c := range cases {
		if got := string(lightningHref(c.in)); got != c.want {
			t.Errorf("lightningHref(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestDonateChecked(t *testing.T) {
	presets := sampleDonate().Presets
	cases := []struct {
		name  string
		f     DonateForm
		value string
		want  bool
	}{
		{"default is the second preset", DonateForm{Presets: presets}, "17000", true},
		{"default is not the first", DonateForm{Presets: presets}, "2400", false},
		{"one preset is the default", DonateForm{Presets: presets[:1]}, "2400", true},
		{"no presets: custom", DonateForm{}, "custom", true},
		{"explicit choice", DonateForm{Presets: presets, Selected: "72000"}, "72000", true},
		{"explicit custom", DonateForm{Presets: presets, Selected: "custom"}, "17000", false},
	}
	for _, c := range cases {
		if got := donateChecked(c.f, c.value); got != c.want {
			t.Errorf("%s: donateChecked(%q) = %v, want %v", c.name, c.value, got, c.want)
		}
	}
}

// hasClassToken reports whether n's class attribute holds the token.
func hasClassToken(n *html.Node, token string) bool {
	v, _ := attr(n, "class")
	for _, c := range strings.Fields(v) {
		if c == token {
			return true
		}
	}
	return false
}

// ownerQR is a stand-in QR that tests can find by its test id.
const ownerQR = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10" data-testid="fake-qr"><rect width="10" height="10"/></svg>`

func sampleSignInWallet() SignInView {
	return SignInView{
		Page:            samplePage(),
		WalletLNURL:     "LNURL1DP68GURN8GHJ7",
		WalletQR:        ownerQR,
		WalletAction:    "/signin/wallet",
		WalletStatusURL: "/signin/wallet/status",
	}
}

func TestSignInWallet(t *testing.T) {
	t.Run("both ways", func(t *testing.T) {
		d := render(t, SignIn(sampleSignInWallet()))
		d.cspSafe()
		d.postFormsHaveCSRF("tok-123")
		d.one("key-signin")
		d.wantText("wallet-signin", "linked to your offering from the dashboard")
		d.one("fake-qr") // the trusted SVG is rendered raw
		qr := d.one("wallet-qr")
		links := 0
		for n := range qr.Descendants() {
			if h, _ := attr(n, "href"); n.Data == "a" && h == "lightning:LNURL1DP68GURN8GHJ7" {
				links++
			}
		}
		if links != 2 {
			t.Errorf("want the QR and the caption to link to lightning:, found %d links", links)
		}
		if got := text(d.one("signin-lnurl")); got != "LNURL1DP68GURN8GHJ7" {
			t.Errorf("LNURL text = %q", got)
		}
		form := d.one("wallet-form")
		if a, _ := attr(form, "action"); a != "/signin/wallet" {
			t.Errorf("wallet form action = %q", a)
		}
		id, _ := attr(form, "id")
		poll := d.one("wallet-poll")
		if u, _ := attr(poll, "data-poll-url"); u != "/signin/wallet/status" {
			t.Errorf("data-poll-url = %q", u)
		}
		if s, _ := attr(poll, "data-poll-submit"); s == "" || s != id {
			t.Errorf("data-poll-submit = %q, want the wallet form's id %q", s, id)
		}
		if !strings.Contains(text(form), "I have approved it in my wallet") {
			t.Error("no manual button for visitors without JavaScript")
		}
		if len(d.byTestID("wallet-error")) != 0 || len(d.byTestID("form-error")) != 0 {
			t.Error("errors shown without one")
		}
		if c, _ := attr(d.one("wallet-signin").Parent.Parent, "class"); !strings.Contains(c, "signin--two") {
			t.Errorf("two ways should use the two-column layout, class = %q", c)
		}
	})
	t.Run("wallet error escaped", func(t *testing.T) {
		v := sampleSignInWallet()
		v.WalletError = "No wallet <b>linked</b>."
		d := render(t, SignIn(v))
		d.wantText("wallet-error", "No wallet <b>linked</b>.")
		if strings.Contains(d.raw, "<b>linked</b>") {
			t.Error("wallet error not escaped")
		}
		if len(d.byTestID("form-error")) != 0 {
			t.Error("a wallet error must not mark the manage key form")
		}
	})
	t.Run("hostile lnurl gets no link", func(t *testing.T) {
		v := sampleSignInWallet()
		v.WalletLNURL = `x" onclick="alert(1)`
		d := render(t, SignIn(v))
		d.cspSafe()
		if strings.Contains(d.raw, `href="lightning:x`) {
			t.Error("a malformed LNURL became a link")
		}
	})
	t.Run("without wallet", func(t *testing.T) {
		d := render(t, SignIn(SignInView{Page: samplePage()}))
		if len(d.byTestID("wallet-signin")) != 0 || len(d.byTestID("wallet-qr")) != 0 {
			t.Error("wallet half shown though the handler offers none")
		}
		if len(d.all(func(n *html.Node) bool { return hasClassToken(n, "signin--two") })) != 0 {
			t.Error("one way should keep the narrow layout")
		}
	})
}

func sampleWithdraw() WithdrawView {
	return WithdrawView{
		Page: samplePage(), Offering: aliveCard(),
		EarnedText: "5,000 sats", WithdrawableText: "4,975 sats",
		FeeNote:        "Up to 0.5% (at least 5 sats) is kept aside for routing fees; what is not used stays yours.",
		Action:         "/offerings/my-site/withdraw",
		LNURL:          "LNURL1WITHDRAW",
		LNURLQR:        ownerQR,
		LNURLExpiresAt: until,
		Payouts: []PayoutRow{
			{When: until, AmountText: "1,000 sats", State: "pending", Destination: "lnbc10u1p…x8f2"},
			{When: created, AmountText: "4,950 sats", FeeText: "3 sats", State: "succeeded", Destination: "me@wallet.example"},
			{When: created, AmountText: "20 sats", State: "failed", Destination: "lnbc200n1…9a", FailureReason: "No route <found>"},
		},
	}
}

func TestWithdraw(t *testing.T) {
	t.Run("full", func(t *testing.T) {
		d := render(t, Withdraw(sampleWithdraw()))
		d.cspSafe()
		d.postFormsHaveCSRF("tok-123")
		d.wantText("withdrawable", "4,975 sats")
		d.wantText("earned", "5,000 sats")
		d.wantText("fee-note", "routing fees")
		form := d.one("withdraw-form")
		if a, _ := attr(form, "action"); a != "/offerings/my-site/withdraw" {
			t.Errorf("action = %q", a)
		}
		if m, _ := attr(form, "method"); m != "post" {
			t.Errorf("method = %q", m)
		}
		in := d.input("destination")
		if _, ok := attr(in, "aria-invalid"); ok {
			t.Error("destination marked invalid without an error")
		}
		if len(d.byTestID("destination-error")) != 0 || len(d.byTestID("form-error")) != 0 {
			t.Error("errors shown without one")
		}
		lnurlw := d.one("lnurl-withdraw")
		if !strings.Contains(text(lnurlw), "Scan with your wallet to withdraw everything") {
			t.Errorf("LNURL-withdraw caption = %q", text(lnurlw))
		}
		d.wantText("lnurl-expires", "2 Jan 2027 15:04 UTC")
		if h, _ := attr(d.one("lnurl-withdraw-link"), "href"); h != "lightning:LNURL1WITHDRAW" {
			t.Errorf("LNURL link = %q", h)
		}
		d.one("fake-qr")
		if len(d.byTestID("nothing-to-withdraw")) != 0 {
			t.Error("empty state shown with a code")
		}

		rows := d.byTestID("payout-row")
		if len(rows) != 3 {
			t.Fatalf("payout rows = %d, want 3", len(rows))
		}
		for i, want := range []struct{ state, text, class string }{
			{"pending", "Sending…", "payout--pending"},
			{"succeeded", "3 sats", "payout--succeeded"},
			{"failed", "No route <found>", "payout--failed"},
		} {
			if s, _ := attr(rows[i], "data-state"); s != want.state {
				t.Errorf("row %d data-state = %q, want %q", i, s, want.state)
			}
			if !strings.Contains(text(rows[i]), want.text) {
				t.Errorf("row %d text %q lacks %q", i, text(rows[i]), want.text)
			}
			if !hasClassToken(rows[i], want.class) {
				t.Errorf("row %d lacks class %q", i, want.class)
			}
		}
		if strings.Contains(d.raw, "<found>") {
			t.Error("failure reason not escaped")
		}
		if len(d.byTestID("no-payouts")) != 0 {
			t.Error("payouts empty state shown with payouts")
		}
	})
	t.Run("destination error", func(t *testing.T) {
		v := sampleWithdraw()
		v.Destination = FormField{Value: `lnbc1"><script>`, Error: "That is not a Lightning invoice for this network."}
		v.FormError = "Could not <pay>."
		d := render(t, Withdraw(v))
		d.cspSafe()
		d.wantText("destination-error", "not a Lightning invoice")
		d.wantText("form-error", "Could not <pay>.")
		in := d.input("destination")
		if val, _ := attr(in, "value"); val != `lnbc1"><script>` {
			t.Errorf("value kept = %q", val)
		}
		if inv, _ := attr(in, "aria-invalid"); inv != "true" {
			t.Error("destination not marked invalid")
		}
		if desc, _ := attr(in, "aria-describedby"); !strings.Contains(desc, "destination-error") {
			t.Errorf("aria-describedby = %q", desc)
		}
		if _, ok := attr(in, "autofocus"); !ok {
			t.Error("the invalid field should take the focus")
		}
	})
	t.Run("nothing to withdraw", func(t *testing.T) {
		v := sampleWithdraw()
		v.WithdrawableText, v.LNURL, v.LNURLQR, v.LNURLExpiresAt, v.Payouts = "0 sats", "", "", time.Time{}, nil
		d := render(t, Withdraw(v))
		d.cspSafe()
		d.wantText("withdrawable", "0 sats")
		for _, id := range []string{"lnurl-withdraw", "lnurl-expires", "withdraw-lnurl", "payout-row"} {
			if n := len(d.byTestID(id)); n != 0 {
				t.Errorf("%d data-testid=%q with nothing to withdraw", n, id)
			}
		}
		if strings.Contains(d.raw, "lightning:") {
			t.Error("a lightning: link with no code")
		}
		d.one("nothing-to-withdraw")
		d.wantText("no-payouts", "No payouts yet")
		d.one("payouts")
	})
}

func TestPayoutState(t *testing.T) {
	cases := []struct{ in, class, label string }{
		{"pending", "pending", "Sending…"},
		{"succeeded", "succeeded", "Sent"},
		{"failed", "failed", "Failed"},
		{`x" onload="`, "pending", `x" onload="`},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			if got := payoutClass(c.in); got != c.class {
				t.Errorf("payoutClass = %q, want %q", got, c.class)
			}
			if got := payoutLabel(c.in); got != c.label {
				t.Errorf("payoutLabel = %q, want %q", got, c.label)
			}
		})
	}
	if got := payoutFee(PayoutRow{}); got != "—" {
		t.Errorf("fee of a pending payout = %q", got)
	}
}

func TestWallet(t *testing.T) {
	base := WalletView{
		Page: samplePage(), Offering: aliveCard(), LNURL: "LNURL1LINK", QR: ownerQR,
		StatusURL: "/offerings/my-site/wallet/status", DoneURL: "/dashboard",
	}
	t.Run("linked keys", func(t *testing.T) {
		v := base
		v.LinkedKeys = []string{"02ab12…9f3c", "03<cd>…0001"}
		d := render(t, Wallet(v))
		d.cspSafe()
		d.postFormsHaveCSRF("tok-123")
		keys := d.byTestID("linked-key")
		if len(keys) != 2 || text(keys[0]) != "02ab12…9f3c" || text(keys[1]) != "03<cd>…0001" {
			t.Errorf("linked keys wrong: %d", len(keys))
		}
		if strings.Contains(d.raw, "03<cd>") {
			t.Error("linked key not escaped")
		}
		if len(d.byTestID("no-linked-keys")) != 0 {
			t.Error("empty state shown with keys")
		}
		d.one("fake-qr")
		if h, _ := attr(d.one("wallet-link"), "href"); h != "lightning:LNURL1LINK" {
			t.Errorf("wallet link = %q", h)
		}
		poll := d.one("wallet-poll")
		if u, _ := attr(poll, "data-poll-url"); u != "/offerings/my-site/wallet/status" {
			t.Errorf("data-poll-url = %q", u)
		}
		if _, ok := attr(poll, "data-poll-submit"); ok {
			t.Error("the wallet page reloads; it has no form to submit")
		}
		if h, _ := attr(d.one("done-link"), "href"); h != "/dashboard" {
			t.Errorf("done link = %q", h)
		}
		d.wantText("link-lnurl", "LNURL1LINK")
	})
	t.Run("no linked keys", func(t *testing.T) {
		d := render(t, Wallet(base))
		d.one("linked-keys")
		d.wantText("no-linked-keys", "No wallet is linked yet")
		if n := len(d.byTestID("linked-key")); n != 0 {
			t.Errorf("%d linked keys shown", n)
		}
	})
	t.Run("escaped name", func(t *testing.T) {
		v := base
		v.Offering.Name = "<i>Mine</i>"
		d := render(t, Wallet(v))
		if strings.Contains(d.raw, "<i>Mine</i>") {
			t.Error("offering name not escaped")
		}
	})
}

func TestDashboardOwnerActions(t *testing.T) {
	item := DashboardItem{
		Offering: aliveCard(), RunwayMsatText: "55,200 sats", EarnedText: "1,000 sats", BurnRateText: "2,400 sats/day",
		WithdrawableText: "995 sats", EditURL: "/offerings/my-site/edit", WithdrawURL: "/offerings/my-site/withdraw",
		WalletURL: "/offerings/my-site/wallet", RotateAction: "/offerings/my-site/rotate-key",
	}
	d := render(t, Dashboard(DashboardView{Page: Page{CSRFToken: "tok-123", SignedIn: true, Path: "/dashboard"}, Items: []DashboardItem{item}}))
	d.cspSafe()
	d.postFormsHaveCSRF("tok-123")
	d.wantText("withdrawable", "995 sats")
	for id, want := range map[string]string{"withdraw-link": "/offerings/my-site/withdraw", "wallet-link": "/offerings/my-site/wallet"} {
		if h, _ := attr(d.one(id), "href"); h != want {
			t.Errorf("%s href = %q, want %q", id, h, want)
		}
	}
	rotate := d.one("rotate-key")
	if rotate.Data != "details" {
		t.Errorf("rotate-key is a <%s>, want <details> (the confirm step)", rotate.Data)
	}
	if _, open := attr(rotate, "open"); open {
		t.Error("the confirm step must start closed")
	}
	var form *html.Node
	for n := range rotate.Descendants() {
		if n.Data == "form" {
			form = n
		}
	}
	if form == nil {
		t.Fatal("no form inside the rotate-key details")
	}
	if a, _ := attr(form, "action"); a != "/offerings/my-site/rotate-key" {
		t.Errorf("rotate action = %q", a)
	}
	if !strings.Contains(text(rotate), "stops working") {
		t.Errorf("rotate warning missing: %q", text(rotate))
	}

	t.Run("links hidden when not given", func(t *testing.T) {
		bare := item
		bare.WithdrawURL, bare.WalletURL, bare.RotateAction, bare.WithdrawableText = "", "", "", ""
		d := render(t, Dashboard(DashboardView{Page: samplePage(), Items: []DashboardItem{bare}}))
		for _, id := range []string{"withdraw-link", "wallet-link", "rotate-key", "withdrawable"} {
			if n := len(d.byTestID(id)); n != 0 {
				t.Errorf("%d data-testid=%q without its URL", n, id)
			}
		}
	})
}

func TestCreatedRotated(t *testing.T) {
	key := "ka_mk_fedcba9876543210"
	d := render(t, Created(CreatedView{Page: samplePage(), Offering: aliveCard(), ManageKey: key, DashboardURL: "/dashboard", Rotated: true}))
	d.cspSafe()
	if got := text(d.one("manage-key")); got != key {
		t.Errorf("manage key = %q", got)
	}
	d.wantText("manage-key-box", "Your new manage key")
	d.wantText("manage-key-box", "shown only once")
	d.wantText("rotated", "The old key no longer works")
	h1 := d.all(func(n *html.Node) bool { return n.Data == "h1" })
	if len(h1) != 1 || strings.Contains(strings.ToLower(text(h1[0])), "listed") {
		t.Errorf("rotation heading wrong: %v", text(h1[0]))
	}
	if strings.Contains(strings.ToLower(text(d.one("rotated"))), "listed") {
		t.Error("rotation page speaks of listing")
	}
	if strings.Contains(strings.ToLower(d.raw), " is listed") {
		t.Error("rotation page says the offering is listed")
	}

	listed := render(t, Created(CreatedView{Page: samplePage(), Offering: aliveCard(), ManageKey: key}))
	if len(listed.byTestID("rotated")) != 0 || strings.Contains(listed.raw, "Your new manage key") {
		t.Error("a first listing shows rotation wording")
	}
}

package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/keepalive/keepalive/internal/clocktest"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/funding"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/lightning/demo"
	"github.com/keepalive/keepalive/internal/offering"
	"github.com/keepalive/keepalive/web"
)

type site struct {
	*httptest.Server
	db        *db.DB
	offerings *offering.Service
	funding   *funding.Service
	node      *demo.Node
	ledger    *ledger.Ledger
	clock     *clocktest.Clock
}

func newSite(t testing.TB, d *db.DB) *site {
	t.Helper()
	return newSiteWith(t, d, nil)
}

// newSiteWith is newSite with changes to the server's dependencies.
func newSiteWith(t testing.TB, d *db.DB, change func(*web.Deps)) *site {
	t.Helper()
	c := clocktest.New(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	l := ledger.New(d, c.Now)
	svc := offering.New(d, l, nil, offering.WithClock(c.Now), offering.WithStatusTTL(0))
	node := demo.New(demo.WithClock(c.Now))
	fund := funding.New(d, l, node, svc, funding.Limits{MinDonation: 1_000, MaxDonation: 10_000_000_000}, nil, c.Now)
	s := &site{db: d, offerings: svc, funding: fund, node: node, ledger: l, clock: c}
	s.Server = httptest.NewUnstartedServer(nil)
	s.Listener = web.APIListener(s.Listener)
	deps := web.Deps{BaseURL: "http://" + s.Listener.Addr().String(), Demo: true, CookieKey: []byte("0123456789abcdef0123456789abcdef"),
		Offerings: svc, Funding: fund, DemoPayer: node, MinDonation: 1_000, MaxDonation: 10_000_000_000,
		InvoiceRate: web.RateLimits{PerClient: 1000, PerClientBurst: 1000, Total: 1000, TotalBurst: 1000}}
	if change != nil {
		change(&deps)
	}
	srv := web.New(deps)
	s.Config.Handler = srv
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// do sends a request and returns the status and body.
func (s *site) do(t testing.TB, method, path, body string, header ...string) (int, string, http.Header) {
	t.Helper()
	if body != "" {
		header = append([]string{"Content-Type", "application/json"}, header...)
	}
	return s.send(t, method, path, strings.NewReader(body), false, header...)
}

func (s *site) countOfferings(t *testing.T) int64 {
	var n int64
	if err := s.db.Gorm(context.Background()).Table("offerings").Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

func (s *site) donate(t testing.TB, slug, key string, amount int64) {
	t.Helper()
	ctx := context.Background()
	o, err := s.offerings.Get(ctx, slug)
	if err != nil {
		t.Fatal(err)
	}
	err = s.db.Tx(ctx, func(tx db.Tx) error {
		_, err := s.offerings.CreditRunway(ctx, tx, o.ID, offering.Credit{Key: key, Debit: ledger.Lightning, Amount: moneyMsat(amount)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	s.offerings.Invalidate(slug)
}

const createBody = `{"name":"My site","slug":"my-site","url":"https://example.org","description":"hi","burn_rate_msat_per_hour":1000000,"grace_seconds":3600}`

func createOffering(t testing.TB, s *site, body string) (map[string]any, string) {
	t.Helper()
	status, resp, _ := s.do(t, "POST", "/api/v1/offerings", body)
	if status != http.StatusCreated {
		t.Fatalf("create: %d %s", status, resp)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(resp), &got); err != nil {
		t.Fatal(err)
	}
	key, _ := got["manage_key"].(string)
	return got, key
}

func TestAPICreateGetPatch(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newSite(t, d)
		got, key := createOffering(t, s, createBody)
		if !strings.HasPrefix(key, "ka_mk_") || got["state"] != "expired" || got["funded_until"] != nil {
			t.Fatalf("created: %v", got)
		}
		status, body, _ := s.do(t, "GET", "/api/v1/offerings/my-site", "")
		if status != 200 || strings.Contains(body, "manage_key") || strings.Contains(body, key) {
			t.Fatalf("GET: %d %s (the manage key must appear only once, at creation)", status, body)
		}
		// Owner only.
		status, body, hdr := s.do(t, "PATCH", "/api/v1/offerings/my-site", `{"name":"Renamed"}`)
		if status != 401 || !strings.Contains(body, `"code":"unauthorized"`) || hdr.Get("WWW-Authenticate") == "" {
			t.Fatalf("PATCH without key: %d %s", status, body)
		}
		_, otherKey := createOffering(t, s, strings.Replace(createBody, "my-site", "other-site", 1))
		status, _, _ = s.do(t, "PATCH", "/api/v1/offerings/my-site", `{"name":"Hijacked"}`, "Authorization", "Bearer "+otherKey)
		if status != 401 {
			t.Fatalf("PATCH with another owner's key: %d, want 401", status)
		}
		status, body, _ = s.do(t, "PATCH", "/api/v1/offerings/my-site", `{"name":"Renamed","burn_rate_msat_per_hour":2000000}`, "Authorization", "Bearer "+key)
		if status != 200 || !strings.Contains(body, `"name":"Renamed"`) || !strings.Contains(body, `"burn_rate_msat_per_hour":2000000`) {
			t.Fatalf("PATCH: %d %s", status, body)
		}
		status, body, _ = s.do(t, "PATCH", "/api/v1/offerings/my-site", `{"burn_rate_msat_per_hour":0}`, "Authorization", "Bearer "+key)
		if status != 422 || !strings.Contains(body, `"burn_rate_msat_per_hour"`) {
			t.Fatalf("PATCH zero burn: %d %s", status, body)
		}
		if _, body, _ = s.do(t, "GET", "/api/v1/offerings/my-site", ""); !strings.Contains(body, `"name":"Renamed"`) {
			t.Fatalf("a refused PATCH changed the offering: %s", body)
		}
	})
}

func TestAPIBadInputWritesNothing(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newSite(t, d)
		createOffering(t, s, createBody)
		cases := []struct {
			name, body string
			status     int
			code       string
			header     []string
		}{
			{"taken slug", createBody, 409, "conflict", nil},
			{"not json", `{"name":`, 400, "invalid", nil},
			{"empty", ``, 400, "invalid", nil},
			{"array", `[]`, 400, "invalid", nil},
			{"two objects", createBody + createBody, 400, "invalid", nil},
			{"unknown field", `{"name":"x","admin":true}`, 400, "invalid", nil},
			{"string burn", strings.Replace(createBody, "1000000", `"lots"`, 1), 400, "invalid", nil},
			{"float burn", strings.Replace(createBody, "1000000", `1.5`, 1), 400, "invalid", nil},
			{"overflowing burn", strings.Replace(strings.Replace(createBody, "1000000", "99999999999999999999999", 1), "my-site", "site-2", 1), 400, "invalid", nil},
			{"negative burn", strings.Replace(strings.Replace(createBody, "1000000", "-1", 1), "my-site", "site-3", 1), 422, "unprocessable", nil},
			{"burn above limit", strings.Replace(strings.Replace(createBody, "1000000", "9000000000000000000", 1), "my-site", "site-4", 1), 422, "unprocessable", nil},
			{"bad slug", strings.Replace(createBody, "my-site", "My Site!", 1), 422, "unprocessable", nil},
			{"missing fields", `{"name":"x"}`, 422, "unprocessable", nil},
			{"bad url", strings.Replace(strings.Replace(createBody, "https://example.org", "javascript:alert(1)", 1), "my-site", "site-5", 1), 422, "unprocessable", nil},
			{"huge body", `{"name":"` + strings.Repeat("x", 100_000) + `"}`, 413, "too_large", nil},
			{"wrong content type", createBody, 400, "invalid", []string{"Content-Type", "text/plain"}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				status, body, _ := s.do(t, "POST", "/api/v1/offerings", c.body, c.header...)
				if status != c.status || !strings.Contains(body, `"code":"`+c.code+`"`) || !strings.Contains(body, `"message":`) {
					t.Fatalf("%d %s, want %d with code %s", status, body, c.status, c.code)
				}
			})
		}
		if n := s.countOfferings(t); n != 1 {
			t.Fatalf("%d offerings after bad input, want 1", n)
		}
		for _, q := range []string{"?limit=0", "?limit=101", "?offset=-1", "?limit=abc"} {
			if status, body, _ := s.do(t, "GET", "/api/v1/offerings"+q, ""); status != 400 {
				t.Errorf("GET %s: %d %s, want 400", q, status, body)
			}
		}
		if status, body, _ := s.do(t, "GET", "/api/v1/offerings/nope", ""); status != 404 || !strings.Contains(body, `"code":"not_found"`) {
			t.Fatalf("missing offering: %d %s", status, body)
		}
		if status, body, _ := s.do(t, "GET", "/api/v1/nothing-here", ""); status != 404 || !strings.Contains(body, `"error"`) {
			t.Fatalf("unknown API path: %d %s", status, body)
		}
	})
}

func TestAPIStatusAndETag(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newSite(t, d)
		createOffering(t, s, createBody)
		status, body, hdr := s.do(t, "GET", "/api/v1/offerings/my-site/status", "")
		want := `{"slug":"my-site","state":"expired","alive":false,"funded_until":null,"runway_seconds":0,"runway_msat":0,"burn_rate_msat_per_hour":1000000}`
		if status != 200 || strings.TrimSpace(body) != want {
			t.Fatalf("status: %d %s", status, body)
		}
		etag := hdr.Get("ETag")
		if etag == "" || hdr.Get("Cache-Control") == "" {
			t.Fatalf("no ETag or Cache-Control: %v", hdr)
		}
		if status, _, _ := s.do(t, "GET", "/api/v1/offerings/my-site/status", "", "If-None-Match", etag); status != 304 {
			t.Fatalf("If-None-Match with the current ETag: %d, want 304", status)
		}
		s.donate(t, "my-site", "invoice:1", 48_000_000) // 48 hours
		status, body, hdr = s.do(t, "GET", "/api/v1/offerings/my-site/status", "", "If-None-Match", etag)
		want = `{"slug":"my-site","state":"alive","alive":true,"funded_until":"2026-11-03T12:00:00Z","runway_seconds":172800,"runway_msat":48000000,"burn_rate_msat_per_hour":1000000}`
		if status != 200 || strings.TrimSpace(body) != want || hdr.Get("ETag") == etag {
			t.Fatalf("after a donation: %d %s (etag %s)", status, body, hdr.Get("ETag"))
		}
		var parsed map[string]any
		if err := json.Unmarshal([]byte(body), &parsed); err != nil {
			t.Fatalf("status is not JSON: %v", err)
		}
		s.clock.Advance(24 * time.Hour)
		if _, body, _ = s.do(t, "GET", "/api/v1/offerings/my-site/status", ""); !strings.Contains(body, `"runway_seconds":86400,"runway_msat":24000000`) {
			t.Fatalf("a day later: %s", body)
		}
		if status, _, _ := s.do(t, "GET", "/api/v1/offerings/missing/status", ""); status != 404 {
			t.Fatalf("status of a missing offering: %d", status)
		}
	})
}

func TestAPIListPaginates(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newSite(t, d)
		for i := 0; i < 5; i++ {
			createOffering(t, s, strings.Replace(createBody, "my-site", fmt.Sprintf("site-%d", i), 1))
		}
		s.donate(t, "site-3", "invoice:x", 1_000_000)
		_, body, _ := s.do(t, "GET", "/api/v1/offerings?limit=2", "")
		var page struct {
			Offerings []struct{ Slug, State string }
			Total     int
			Next      *string
		}
		if err := json.Unmarshal([]byte(body), &page); err != nil {
			t.Fatal(err)
		}
		if page.Total != 5 || len(page.Offerings) != 2 || page.Offerings[0].Slug != "site-3" || page.Next == nil {
			t.Fatalf("page 1: %s", body)
		}
		u, _ := url.Parse(*page.Next)
		_, body, _ = s.do(t, "GET", u.RequestURI(), "")
		json.Unmarshal([]byte(body), &page)
		if len(page.Offerings) != 2 || page.Next == nil {
			t.Fatalf("page 2: %s", body)
		}
	})
}

var csrfInput = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// browser is a client with cookies, like a person's browser.
type browser struct {
	t *testing.T
	c *http.Client
	s *site
}

func newBrowser(t *testing.T, s *site) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, s: s, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) get(path string) (int, string, http.Header) {
	res, err := b.c.Get(b.s.URL + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body), res.Header
}

// post submits a form found at formPath with the CSRF token it carries.
func (b *browser) post(formPath, action string, values url.Values) (int, string, http.Header) {
	_, page, _ := b.get(formPath)
	m := csrfInput.FindStringSubmatch(page)
	if m == nil {
		b.t.Fatalf("no CSRF token on %s", formPath)
	}
	values.Set("_csrf", m[1])
	res, err := b.c.PostForm(b.s.URL+action, values)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body), res.Header
}

func offeringForm(slug string) url.Values {
	return url.Values{"name": {"Form site"}, "slug": {slug}, "url": {"https://example.net"}, "description": {"From the form"},
		"burn_amount": {"2,400"}, "burn_unit": {"day"}, "grace_hours": {"24"}}
}

func TestPagesCreateSignInEdit(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newSite(t, d)
		b := newBrowser(t, s)

		// No CSRF token: refused, nothing written.
		res, err := b.c.PostForm(s.URL+"/offerings", offeringForm("form-site"))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 403 || s.countOfferings(t) != 0 {
			t.Fatalf("form without CSRF token: %d, %d offerings", res.StatusCode, s.countOfferings(t))
		}

		// Bad values: the form comes back with the errors and the values kept.
		bad := offeringForm("Form Site")
		bad.Set("burn_amount", "lots")
		status, body, _ := b.post("/offerings/new", "/offerings", bad)
		if status != 422 || !strings.Contains(body, "Form site") || s.countOfferings(t) != 0 {
			t.Fatalf("bad form: %d, %d offerings", status, s.countOfferings(t))
		}

		status, body, _ = b.post("/offerings/new", "/offerings", offeringForm("form-site"))
		if status != 201 {
			t.Fatalf("create: %d %s", status, body)
		}
		key := regexp.MustCompile(`ka_mk_[A-Za-z0-9_-]+`).FindString(body)
		if key == "" {
			t.Fatalf("the created page does not show the manage key")
		}
		o, _ := s.offerings.Get(context.Background(), "form-site")
		if o.BurnRateMsatPerHour != 100_000 { // 2,400 sat a day = 100 sat an hour
			t.Fatalf("burn rate = %d msat/h, want 100,000", o.BurnRateMsatPerHour)
		}
		// Creating signs the owner in.
		if status, body, _ := b.get("/dashboard"); status != 200 || !strings.Contains(body, "Form site") {
			t.Fatalf("dashboard after create: %d", status)
		}
		// Edit, unchanged burn rate stays exact.
		edit := offeringForm("form-site")
		edit.Set("name", "Edited site")
		status, _, hdr := b.post("/offerings/form-site/edit", "/offerings/form-site/edit", edit)
		if status != 303 || hdr.Get("Location") != "/dashboard" {
			t.Fatalf("edit: %d", status)
		}
		o, _ = s.offerings.Get(context.Background(), "form-site")
		if o.Name != "Edited site" || o.BurnRateMsatPerHour != 100_000 {
			t.Fatalf("after edit: %+v", o)
		}

		// Someone else: cannot edit, can sign in with the key.
		other := newBrowser(t, s)
		if status, _, hdr := other.get("/offerings/form-site/edit"); status != 303 || hdr.Get("Location") != "/signin?next=%2Fofferings%2Fform-site%2Fedit" {
			t.Fatalf("edit page without a session: %d to %q, want the sign-in page and back", status, hdr.Get("Location"))
		}
		status, body, _ = other.post("/signin", "/signin", url.Values{"manage_key": {"ka_mk_wrong"}})
		if status != 401 || !strings.Contains(body, "manage key") {
			t.Fatalf("sign-in with a wrong key: %d", status)
		}
		status, _, hdr = other.post("/signin", "/signin", url.Values{"manage_key": {key}, "next": {"https://evil.example/"}})
		if status != 303 || hdr.Get("Location") != "/dashboard" {
			t.Fatalf("sign-in: %d to %q (an outside next must be ignored)", status, hdr.Get("Location"))
		}
		if status, _, _ := other.get("/offerings/form-site/edit"); status != 200 {
			t.Fatalf("edit page after sign-in: %d", status)
		}
		// A forged cookie is ignored.
		forged := newBrowser(t, s)
		u, _ := url.Parse(s.URL)
		forged.c.Jar.SetCookies(u, []*http.Cookie{{Name: "ka_session", Value: "eyJvIjpbeyJpIjoxLCJ2IjoieCJ9XSwiZSI6OTk5OTk5OTk5OX0.AAAA"}})
		if status, _, hdr := forged.get("/offerings/form-site/edit"); status != 303 || !strings.HasPrefix(hdr.Get("Location"), "/signin?") {
			t.Fatalf("forged session: %d, want the sign-in page", status)
		}
		// Signing out ends it.
		if status, _, _ := other.post("/dashboard", "/signout", url.Values{}); status != 303 {
			t.Fatalf("sign out: %d", status)
		}
		if status, _, hdr := other.get("/dashboard"); status != 303 || !strings.HasPrefix(hdr.Get("Location"), "/signin") {
			t.Fatalf("dashboard after sign out: %d", status)
		}
	})
}

func TestPagesRenderAndEscape(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newSite(t, d)
		createOffering(t, s, strings.Replace(createBody, `"My site"`, `"<script>alert(1)</script>"`, 1))
		s.donate(t, "my-site", "invoice:1", 5_000_000)
		for _, path := range []string{"/", "/?q=script", "/o/my-site", "/offerings/new", "/signin"} {
			status, body, hdr := s.do(t, "GET", path, "")
			if status != 200 {
				t.Fatalf("GET %s: %d", path, status)
			}
			if strings.Contains(body, "<script>alert(1)") {
				t.Fatalf("GET %s: user text is not escaped", path)
			}
			if !strings.Contains(hdr.Get("Content-Security-Policy"), "default-src 'self'") || hdr.Get("X-Content-Type-Options") != "nosniff" {
				t.Fatalf("GET %s: security headers missing: %v", path, hdr)
			}
			if !strings.Contains(body, "simulated") {
				t.Fatalf("GET %s: no demo banner", path)
			}
		}
		if status, body, _ := s.do(t, "GET", "/o/missing", ""); status != 404 || !strings.Contains(body, "<html") {
			t.Fatalf("missing offering page: %d", status)
		}
		if status, body, _ := s.do(t, "GET", "/healthz", ""); status != 200 || !strings.Contains(body, "ok") {
			t.Fatalf("healthz: %d %s", status, body)
		}
	})
}

func TestPanicsBecomeCleanErrors(t *testing.T) {
	srv := web.New(web.Deps{BaseURL: "http://keepalive.test", CookieKey: make([]byte, 32)})
	srv.Echo().GET("/api/v1/boom", func(echo.Context) error { panic("kaboom") })
	srv.Echo().GET("/boom", func(echo.Context) error { panic("kaboom") })
	for path, want := range map[string]string{"/api/v1/boom": `"code":"internal"`, "/boom": "<html"} {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != 500 || !strings.Contains(rec.Body.String(), want) || strings.Contains(rec.Body.String(), "kaboom") {
			t.Fatalf("%s: %d %s", path, rec.Code, rec.Body.String())
		}
		if rec.Header().Get("X-Request-Id") == "" || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("%s: headers %v", path, rec.Header())
		}
	}
}

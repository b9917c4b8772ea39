package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/keepalive/keepalive/internal/db/dbtest"
)

// The fuzz targets drive the handlers with arbitrary bodies: whatever
// comes in, the answer is never a 5xx, and a refused request writes
// nothing. Run one with `go test -fuzz=FuzzAPICreateOffering ./web/`.

func FuzzAPICreateOffering(f *testing.F) {
	f.Add(createBody)
	f.Add(`{"name":"x","slug":"abc","url":"https://a.b","burn_rate_msat_per_hour":1}`)
	f.Add(`{"burn_rate_msat_per_hour":1e400}`)
	f.Add(`{"name":"\u0000","slug":"a-b-c","url":"http://x","burn_rate_msat_per_hour":9223372036854775807,"grace_seconds":-9223372036854775808}`)
	f.Add(`[{"name":1}]`)
	f.Add(`{"name":"a","name":"b"}`)
	f.Fuzz(func(t *testing.T, body string) {
		s := newSite(t, dbtest.SQLite(t))
		before := s.countOfferings(t)
		status, resp, _ := s.do(t, "POST", "/api/v1/offerings", body)
		if status >= 500 {
			t.Fatalf("%d for %q: %s", status, body, resp)
		}
		if status != http.StatusCreated && s.countOfferings(t) != before {
			t.Fatalf("a refused body (%d) wrote an offering: %q", status, body)
		}
		if status >= 400 && !strings.Contains(resp, `"error"`) {
			t.Fatalf("%d without an error body: %s", status, resp)
		}
	})
}

func FuzzDonationJSON(f *testing.F) {
	f.Add(`{"amount_msat":5000}`)
	f.Add(`{"amount_msat":5000,"name":"Ann","message":"hi","public":true}`)
	f.Add(`{"amount_msat":-1}`)
	f.Add(`{"amount_msat":18446744073709551616}`)
	f.Fuzz(func(t *testing.T, body string) {
		s := newSite(t, dbtest.SQLite(t))
		createOffering(t, s, createBody)
		status, resp, _ := s.do(t, "POST", "/api/v1/offerings/my-site/donations", body)
		if status >= 500 {
			t.Fatalf("%d for %q: %s", status, body, resp)
		}
		var n int64
		s.db.Gorm(context.Background()).Table("invoices").Count(&n)
		if (status == http.StatusCreated) != (n == 1) {
			t.Fatalf("status %d with %d invoices for %q", status, n, body)
		}
	})
}

func FuzzOfferingForm(f *testing.F) {
	f.Add("Form site", "form-site", "https://example.net", "desc", "2,400", "day", "24")
	f.Add("", "", "", "", "", "", "")
	f.Add("x", "ab-", "ftp://x", "\x00", "1e9", "week", "-1")
	f.Add("x", "abc", "https://x.y", "", "0.001", "hour", "2161")
	f.Fuzz(func(t *testing.T, name, slug, u, desc, burn, unit, grace string) {
		s := newSite(t, dbtest.SQLite(t))
		srv := s.Config.Handler
		// Fetch a CSRF token as a browser would.
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest("GET", "/offerings/new", nil))
		m := csrfInput.FindStringSubmatch(rec.Body.String())
		if m == nil {
			t.Fatal("no CSRF token")
		}
		form := url.Values{"_csrf": {m[1]}, "name": {name}, "slug": {slug}, "url": {u}, "description": {desc},
			"burn_amount": {burn}, "burn_unit": {unit}, "grace_hours": {grace}}
		req := httptest.NewRequest("POST", "/offerings", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for _, c := range rec.Result().Cookies() {
			req.AddCookie(c)
		}
		rec = httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%d for %q", rec.Code, form)
		}
		created := rec.Code == http.StatusCreated
		if n := s.countOfferings(t); (n == 1) != created {
			t.Fatalf("status %d with %d offerings for %q", rec.Code, n, form)
		}
	})
}

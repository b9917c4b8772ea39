package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/funding"
	"github.com/keepalive/keepalive/internal/offering"
	"github.com/keepalive/keepalive/internal/text"
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
	f.Add(`{"amount_msat":5000,"name":"\u202eAnn","public":true}`)
	f.Add(`{"amount_msat":5000,"name":"\u3164","message":"\u200b"}`)
	f.Add("{\"amount_msat\":5000,\"name\":\"\xff\"}")
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
		s.storedTextIsClean(t, "invoices", "payer_name", funding.PayerNameField)
		s.storedTextIsClean(t, "invoices", "payer_message", funding.PayerMessageField)
	})
}

// FuzzDonationForm drives the offering page's form with arbitrary names
// and messages: never a 5xx, and whatever is stored is what the text
// validator would keep.
func FuzzDonationForm(f *testing.F) {
	f.Add("Ann", "thanks", "100")
	f.Add("Ann\u202e", "", "100")
	f.Add("\xff", "\xc3\x28", "1")
	f.Add("\u2800", "a\r\nb", "1234.5")
	f.Fuzz(func(t *testing.T, name, message, amount string) {
		s := newSite(t, dbtest.SQLite(t))
		createOffering(t, s, createBody)
		b := newBrowser(t, s)
		status, _, _ := b.post("/o/my-site", "/o/my-site/donate", url.Values{
			"amount": {"custom"}, "custom_amount": {amount}, "name": {name}, "message": {message}, "public": {"1"}})
		if status >= 500 {
			t.Fatalf("%d for %q %q %q", status, name, message, amount)
		}
		s.storedTextIsClean(t, "invoices", "payer_name", funding.PayerNameField)
		s.storedTextIsClean(t, "invoices", "payer_message", funding.PayerMessageField)
	})
}

// storedTextIsClean checks that every value of table.column is one the
// text validator leaves as it is.
func (s *site) storedTextIsClean(t *testing.T, table, column string, f text.Field) {
	t.Helper()
	var values []string
	if err := s.db.Gorm(context.Background()).Table(table).Pluck(column, &values).Error; err != nil {
		t.Fatal(err)
	}
	for _, v := range values {
		if got, err := text.Clean(v, f); err != nil || got != v {
			t.Fatalf("%s.%s holds %q, which the validator makes %q, %v", table, column, v, got, err)
		}
	}
}

func FuzzOfferingForm(f *testing.F) {
	f.Add("Form site", "form-site", "https://example.net", "desc", "2,400", "day", "24")
	f.Add("", "", "", "", "", "", "")
	f.Add("x", "ab-", "ftp://x", "\x00", "1e9", "week", "-1")
	f.Add("x", "abc", "https://x.y", "", "0.001", "hour", "2161")
	f.Add("\xffname", "abc", "https://x.y", "\u202e", "1", "day", "1")
	f.Add("\u3164", "abc", "wiki.example.org", "a\u200bb", "1", "day", "1")
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
		s.storedTextIsClean(t, "offerings", "name", offering.NameField)
		s.storedTextIsClean(t, "offerings", "description", offering.DescriptionField)
	})
}

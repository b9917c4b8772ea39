package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
)

// Every human text field goes through one validator, in forms and JSON
// alike; invalid UTF-8 anywhere is a 4xx on both databases, never a 500,
// and a refused request writes nothing.
func TestTextFieldsAreCheckedEverywhere(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newSite(t, d)
		createOffering(t, s, createBody)
		b := newBrowser(t, s)
		invoices := func() int64 {
			var n int64
			s.db.Gorm(context.Background()).Table("invoices").Count(&n)
			return n
		}
		donateForm := func(name, message string) url.Values {
			return url.Values{"amount": {"custom"}, "custom_amount": {"100"}, "name": {name}, "message": {message}, "public": {"1"}}
		}
		for _, tc := range []struct{ what, name, message string }{
			{"invalid UTF-8 name", "Ann\xff", ""},
			{"invalid UTF-8 message", "Ann", "hi \xc3\x28"},
			{"right-to-left override", "Ann\u202Egpj.exe", ""},
			{"zero-width space", "A\u200Bnn", ""},
			{"blank Braille", "\u2800", ""},
			{"Hangul filler", "\u3164", ""},
			{"name past its maxlength", strings.Repeat("a", 65), ""},
			{"control character in message", "Ann", "a\x07b"},
		} {
			status, body, _ := b.post("/o/my-site", "/o/my-site/donate", donateForm(tc.name, tc.message))
			if status < 400 || status >= 500 || invoices() != 0 {
				t.Fatalf("form, %s: %d with %d invoices: %.300s", tc.what, status, invoices(), body)
			}
			js := `{"amount_msat":100000,"public":true,"name":` + jsonString(tc.name) + `,"message":` + jsonString(tc.message) + `}`
			if strings.Contains(tc.what, "UTF-8") {
				continue // JSON cannot carry invalid UTF-8: the decoder turns it into U+FFFD
			}
			status, body, _ = s.do(t, "POST", "/api/v1/offerings/my-site/donations", js)
			if status != http.StatusUnprocessableEntity || !strings.Contains(body, `"fields"`) || invoices() != 0 {
				t.Fatalf("JSON, %s: %d with %d invoices: %s", tc.what, status, invoices(), body)
			}
		}
		// A name a donor may give: accented (and normalised), emoji, a
		// multi-line message.
		status, _, hdr := b.post("/o/my-site", "/o/my-site/donate", donateForm("Zoe\u0301 👩\u200D💻", "thanks\r\nfor this"))
		if status != http.StatusSeeOther || invoices() != 1 {
			t.Fatalf("good donation: %d (%s)", status, hdr.Get("Location"))
		}
		var got struct{ PayerName, PayerMessage string }
		s.db.Gorm(context.Background()).Table("invoices").Select("payer_name, payer_message").Take(&got)
		if got.PayerName != "Zoé 👩\u200D💻" || got.PayerMessage != "thanks\nfor this" {
			t.Fatalf("stored %q / %q", got.PayerName, got.PayerMessage)
		}

		// The new-offering form and the API refuse the same.
		form := offeringForm("bad-name")
		form.Set("name", "My \xffsite")
		if status, body, _ := b.post("/offerings/new", "/offerings", form); status < 400 || status >= 500 || s.countOfferings(t) != 1 {
			t.Fatalf("offering form with invalid UTF-8: %d: %.300s", status, body)
		}
		form = offeringForm("bad-name")
		form.Set("description", "line\u202Eenil")
		if status, body, _ := b.post("/offerings/new", "/offerings", form); status != http.StatusUnprocessableEntity || !strings.Contains(body, "direction") {
			t.Fatalf("offering form with an override: %d: %.300s", status, body)
		}
		api := strings.Replace(strings.Replace(createBody, "my-site", "other-site", 1), `"My site"`, `"\u3164"`, 1)
		if status, body, _ := s.do(t, "POST", "/api/v1/offerings", api); status != http.StatusUnprocessableEntity || s.countOfferings(t) != 1 {
			t.Fatalf("API with a blank-looking name: %d %s", status, body)
		}

		// Invalid UTF-8 in a path or query: a 400, not PostgreSQL's 500.
		for path, want := range map[string]int{"/?q=%FF": 400, "/api/v1/offerings?q=%FF": 400, "/o/%FF": 400, "/api/v1/offerings/%C3%28/status": 400} {
			if status, body, _ := s.do(t, "GET", path, ""); status != want {
				t.Fatalf("GET %s: %d, want %d: %.200s", path, status, want, body)
			}
		}
	})
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

package web_test

import (
	"bytes"
	"context"
	"fmt"
	"github.com/keepalive/keepalive/web"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
)

var manageKeyRe = regexp.MustCompile(`ka_mk_[A-Za-z0-9_-]+`)

// newOwner lists an offering through the form and returns its manage key.
func newOwner(t *testing.T, s *site, slug string) string {
	t.Helper()
	b := newBrowser(t, s)
	status, body, _ := b.post("/offerings/new", "/offerings", offeringForm(slug))
	if status != http.StatusCreated {
		t.Fatalf("create %s: %d", slug, status)
	}
	return manageKeyRe.FindString(body)
}

// A sign-in link's next may only lead to a path of this site, however it
// is dressed up: browsers drop tabs and newlines, read backslashes as
// slashes and // as another host.
func TestSignInNextStaysOnSite(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newSite(t, d)
		key := newOwner(t, s, "next-site")
		cases := []struct{ next, want string }{
			{"/o/next-site", "/o/next-site"},
			{"/o/next-site?tab=1#top", "/o/next-site?tab=1#top"},
			{"/offerings/next-site/withdraw", "/offerings/next-site/withdraw"},
			{"", "/dashboard"},
			{"/\t/evil.example/x", "/dashboard"},
			{"/\n/evil.example/x", "/dashboard"},
			{"/\r/evil.example/x", "/dashboard"},
			{"\t//evil.example/x", "/dashboard"},
			{" /evil", "/dashboard"},
			{"//evil.example/x", "/dashboard"},
			{"///evil.example/x", "/dashboard"},
			{"/\\evil.example/x", "/dashboard"},
			{"\\\\evil.example/x", "/dashboard"},
			{"/x/..//evil.example", "/dashboard"},
			{"/a//b", "/dashboard"},
			{"https://evil.example/", "/dashboard"},
			{"javascript:alert(1)", "/dashboard"},
			{"/javascript:alert(1)", "/javascript:alert(1)"},
			{"evil.example", "/dashboard"},
			{"/\x00/evil.example", "/dashboard"},
			{"/\x7f/evil.example", "/dashboard"},
			{"/\u00a0/evil.example", "/dashboard"},
			{"/\u2028/evil.example", "/dashboard"},
			{"/\u3000/evil.example", "/dashboard"},
			{"/%09/evil.example", "/%09/evil.example"}, // escaped: a path segment, not a tab
			{"/" + strings.Repeat("a", 600), "/dashboard"},
		}
		for _, c := range cases {
			b := newBrowser(t, s)
			status, _, hdr := b.post("/signin", "/signin", url.Values{"manage_key": {key}, "next": {c.next}})
			if status != http.StatusSeeOther || hdr.Get("Location") != c.want {
				t.Errorf("next=%q: %d to %q, want %q", c.next, status, hdr.Get("Location"), c.want)
			}
		}
		// The sign-in page carries next on only when it is safe.
		_, body, _ := s.do(t, "GET", "/signin?next=/%09/evil.example/x", "")
		if strings.Contains(body, `name="next"`) {
			t.Errorf("the sign-in form carries an unsafe next")
		}
	})
}

// A private donor's message is the donor's and the owner's only: it must
// not ride in the BOLT11 description, which the public invoice page and
// every wallet that sees the invoice show.
func TestPrivateMessageStaysOutOfTheInvoice(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newSite(t, d)
		createOffering(t, s, createBody)
		for _, c := range []struct {
			body        string
			wantMessage bool
		}{
			{`{"amount_msat":5000000,"name":"Bob","message":"my secret note"}`, false},
			{`{"amount_msat":5000000,"name":"Ann","message":"for the forum","public":true}`, true},
		} {
			status, resp, _ := s.do(t, "POST", "/api/v1/offerings/my-site/donations", c.body)
			if status != http.StatusCreated {
				t.Fatalf("donate: %d %s", status, resp)
			}
			var inv map[string]any
			decodeInto(t, resp, &inv)
			pr, _ := inv["payment_request"].(string)
			dec, err := s.node.DecodePaymentRequest(context.Background(), pr)
			if err != nil {
				t.Fatal(err)
			}
			_, page, _ := s.do(t, "GET", fmt.Sprintf("/invoices/%s", inv["payment_hash"]), "")
			for where, text := range map[string]string{"description": dec.Description, "invoice page": page} {
				for _, secret := range []string{"my secret note", "Bob"} {
					if strings.Contains(text, secret) {
						t.Errorf("the %s shows the private donor's %q", where, secret)
					}
				}
			}
			if got := strings.Contains(dec.Description, "for the forum"); got != c.wantMessage {
				t.Errorf("description %q: public message shown %v, want %v", dec.Description, got, c.wantMessage)
			}
			if !strings.Contains(dec.Description, "My site") {
				t.Errorf("description %q does not name the offering", dec.Description)
			}
		}
	})
}

// send sends a request with an exact request line and body; chunked
// leaves the length unknown, as a streaming client does.
func (s *site) send(t testing.TB, method, path string, body io.Reader, chunked bool, header ...string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL, body)
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Opaque = path // sent as written, bad escapes included
	if chunked {
		req.ContentLength = -1
		req.Body = io.NopCloser(body)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), res.Header
}

func TestHTTPEdgeCases(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newSite(t, d)
		_, key := createOffering(t, s, createBody)
		huge := func() io.Reader {
			return io.MultiReader(strings.NewReader(`{"name":"`), strings.NewReader(strings.Repeat("x", 200_000)), strings.NewReader(`"}`))
		}
		t.Run("oversized chunked JSON is 413", func(t *testing.T) {
			status, body, _ := s.send(t, "POST", "/api/v1/offerings", huge(), true, "Content-Type", "application/json")
			if status != http.StatusRequestEntityTooLarge || !strings.Contains(body, `"code":"too_large"`) {
				t.Fatalf("%d %s, want 413 too_large", status, body)
			}
		})
		t.Run("oversized chunked form is 413", func(t *testing.T) {
			form := io.MultiReader(strings.NewReader("name="), strings.NewReader(strings.Repeat("x", 200_000)))
			status, _, _ := s.send(t, "POST", "/offerings", form, true, "Content-Type", "application/x-www-form-urlencoded")
			if status != http.StatusRequestEntityTooLarge {
				t.Fatalf("%d, want 413", status)
			}
		})
		t.Run("bearer scheme is case-insensitive", func(t *testing.T) {
			for _, scheme := range []string{"bearer", "BEARER", "Bearer"} {
				status, body, _ := s.do(t, "PATCH", "/api/v1/offerings/my-site", `{"name":"Renamed"}`, "Authorization", scheme+" "+key)
				if status != http.StatusOK {
					t.Errorf("%s: %d %s", scheme, status, body)
				}
			}
		})
		t.Run("bad escape under /api/ answers JSON", func(t *testing.T) {
			for _, path := range []string{"/api/v1/offerings/%zz", "/api/v1/offerings/%zz/status", "/api/v1/offerings/a%2"} {
				status, body, hdr := s.send(t, "GET", path, nil, false)
				if status != http.StatusBadRequest || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") || !strings.Contains(body, `"code":"invalid"`) {
					t.Errorf("%s: %d %q %s", path, status, hdr.Get("Content-Type"), body)
				}
			}
		})
		t.Run("odd bytes in a slug are a 404, never a 500", func(t *testing.T) {
			for _, path := range []string{"/api/v1/offerings/%00", "/api/v1/offerings/my-site%00/status", "/api/v1/offerings/%ff/status", "/o/%00", "/o/%C0%80/widget"} {
				if status, body, _ := s.send(t, "GET", path, nil, false); status != http.StatusNotFound {
					t.Errorf("%s: %d %s", path, status, body)
				}
			}
		})
		t.Run("wrong method on an API resource is 405 with Allow", func(t *testing.T) {
			for path, allow := range map[string][]string{
				"/api/v1/offerings/my-site":        {"GET", "PATCH"},
				"/api/v1/offerings/my-site/status": {"GET"},
				"/api/v1/offerings":                {"GET", "POST"},
			} {
				status, body, hdr := s.do(t, "DELETE", path, "")
				if status != http.StatusMethodNotAllowed || !strings.Contains(body, `"error"`) {
					t.Errorf("DELETE %s: %d %s, want 405 JSON", path, status, body)
				}
				for _, m := range allow {
					if !strings.Contains(hdr.Get("Allow"), m) {
						t.Errorf("DELETE %s: Allow %q lacks %s", path, hdr.Get("Allow"), m)
					}
				}
			}
			if status, body, _ := s.do(t, "GET", "/api/v1/nothing-here", ""); status != http.StatusNotFound || !strings.Contains(body, `"code":"not_found"`) {
				t.Errorf("unknown API path: %d %s", status, body)
			}
		})
	})
}

// syncBuffer collects log output written from the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// Bearer secrets travel in URLs (LNURL-withdraw's k1 withdraws the
// owner's earnings; LNURL-auth's k1, sig and key; a donor's comment):
// the request log names the route, never the URL.
func TestRequestLogHoldsNoSecrets(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		var logs syncBuffer
		s := newSiteWith(t, d, func(deps *web.Deps) {
			deps.Log = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
		})
		createOffering(t, s, createBody)
		secret := strings.Repeat("5e", 32)
		paths := []string{
			"/lnurlw/" + secret,
			"/lnurlw/" + secret + "/callback?k1=" + secret + "&pr=lnbcrt1secretinvoice",
			"/lnurlw/" + secret + "/not-a-route",
			"/lnurl/auth?tag=login&k1=" + secret + "&sig=3044secretsig&key=02secretkey&action=login",
			"/lnurlp/my-site/callback?amount=5000000&comment=secret+comment",
			"/lnurlp/my-site/callback?amount=1&comment=secret+comment",
			"/signin?next=/secret-next",
			"/dashboard?_csrf=secretcsrf",
		}
		for _, p := range paths {
			s.do(t, "GET", p, "")
		}
		s.do(t, "POST", "/signout?_csrf=secretcsrf", "")
		out := logs.String()
		for _, leak := range []string{secret, "secretinvoice", "secretsig", "secretkey", "secret+comment", "secret comment", "secretcsrf", "secret-next"} {
			if strings.Contains(out, leak) {
				t.Errorf("the log holds %q:\n%s", leak, out)
			}
		}
		for _, route := range []string{`"/lnurlw/:k1"`, `"/lnurl/auth"`, `"/lnurlp/:slug/callback"`} {
			if !strings.Contains(out, route) {
				t.Errorf("the log does not name route %s:\n%s", route, out)
			}
		}
	})
}

// The CSRF token counts only in a form body or a header: in a query
// string it lands in logs, histories and Referer headers.
func TestCSRFTokenNotFromQuery(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newSite(t, d)
		b := newBrowser(t, s)
		_, page, _ := b.get("/signin")
		token := csrfInput.FindStringSubmatch(page)[1]
		post := func(path string, body url.Values, header ...string) int {
			req, _ := http.NewRequest("POST", s.URL+path, strings.NewReader(body.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for i := 0; i+1 < len(header); i += 2 {
				req.Header.Set(header[i], header[i+1])
			}
			res, err := b.c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			return res.StatusCode
		}
		if got := post("/signout?_csrf="+url.QueryEscape(token), url.Values{}); got != http.StatusForbidden {
			t.Errorf("token in the query: %d, want 403", got)
		}
		if got := post("/signout?_csrf="+url.QueryEscape(token), url.Values{"_csrf": {"wrong"}}); got != http.StatusForbidden {
			t.Errorf("right token in the query, wrong one in the body: %d, want 403", got)
		}
		if got := post("/signout", url.Values{"_csrf": {token}}); got != http.StatusSeeOther {
			t.Errorf("token in the body: %d, want 303", got)
		}
		if got := post("/signout", url.Values{}, "X-CSRF-Token", token); got != http.StatusSeeOther {
			t.Errorf("token in the header: %d, want 303", got)
		}
	})
}

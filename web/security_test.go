package web_test

import (
	"bytes"
	"context"
	"fmt"
	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/keepalive/keepalive/internal/lnurl"
	"github.com/keepalive/keepalive/internal/offering"
	"github.com/keepalive/keepalive/web"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

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
		t.Run("odd bytes in a slug are a 404 (or a 400 for bytes that are not UTF-8), never a 500", func(t *testing.T) {
			for _, path := range []string{"/api/v1/offerings/%00", "/api/v1/offerings/my-site%00/status", "/o/%00"} {
				if status, body, _ := s.send(t, "GET", path, nil, false); status != http.StatusNotFound {
					t.Errorf("%s: %d %s", path, status, body)
				}
			}
			for _, path := range []string{"/api/v1/offerings/%ff/status", "/o/%C0%80/widget"} {
				if status, body, _ := s.send(t, "GET", path, nil, false); status != http.StatusBadRequest {
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

var lnurlOnPage = regexp.MustCompile(`lightning:(lnurl[0-9a-z]+)`)

// authURLOn decodes the LNURL-auth code a page shows.
func authURLOn(t *testing.T, page string) *url.URL {
	t.Helper()
	m := lnurlOnPage.FindStringSubmatch(strings.ToLower(page))
	if m == nil {
		t.Fatal("no LNURL on the page")
	}
	raw, err := lnurl.Decode(m[1])
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// walletSigns answers the challenge of u as a wallet holding priv.
func walletSigns(t *testing.T, s *site, u *url.URL, priv *btcec.PrivateKey) (int, string) {
	t.Helper()
	sig, key, err := lnurl.SignAuth(priv, u.Query().Get("k1"))
	if err != nil {
		t.Fatal(err)
	}
	status, body, _ := s.do(t, "GET", u.RequestURI()+"&sig="+sig+"&key="+key, "")
	return status, body
}

func cookieOf(b *browser, name string) string {
	u, _ := url.Parse(b.s.URL)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// Whoever sees a sign-in QR must not be able to finish that sign-in in
// their own browser: the browser proves it asked with a secret the QR
// does not carry, once, for a short while.
func TestWalletSignInCannotBeTakenOver(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newSite(t, d)
		key := newOwner(t, s, "wallet-site")
		walletKey, _ := btcec.NewPrivateKey()

		// Link a wallet; the link code asks for exactly one action.
		owner := newBrowser(t, s)
		owner.post("/signin", "/signin", url.Values{"manage_key": {key}})
		_, page, _ := owner.get("/offerings/wallet-site/wallet")
		link := authURLOn(t, page)
		if got := link.Query()["action"]; len(got) != 1 || got[0] != "link" {
			t.Fatalf("link LNURL actions %v, want [link]", got)
		}
		if status, body := walletSigns(t, s, link, walletKey); status != http.StatusOK {
			t.Fatalf("link: %d %s", status, body)
		}

		victim := newBrowser(t, s)
		_, page, _ = victim.get("/signin")
		login := authURLOn(t, page)
		k1 := login.Query().Get("k1")
		if got := login.Query()["action"]; len(got) != 1 || got[0] != "login" {
			t.Fatalf("login LNURL actions %v, want [login]", got)
		}
		binding := cookieOf(victim, "ka_auth")
		if binding == "" || strings.Contains(binding, k1) {
			t.Fatalf("the binding cookie %q reveals the QR's k1 %q", binding, k1)
		}

		// The attacker read the QR and plants its k1 as the cookie.
		attacker := newBrowser(t, s)
		attacker.get("/signin")
		u, _ := url.Parse(s.URL)
		attacker.c.Jar.SetCookies(u, []*http.Cookie{{Name: "ka_auth", Value: k1, Path: "/"}})

		if status, body := walletSigns(t, s, login, walletKey); status != http.StatusOK {
			t.Fatalf("the owner's wallet signs: %d %s", status, body)
		}
		if _, body, _ := attacker.get("/signin/wallet/status"); strings.Contains(body, "true") {
			t.Errorf("the attacker's browser sees the victim's sign-in as ready: %s", body)
		}
		if status, _, _ := attacker.post("/offerings/new", "/signin/wallet", url.Values{}); status == http.StatusSeeOther {
			t.Fatal("the attacker's browser finished the victim's sign-in")
		}
		if status, _, _ := attacker.get("/dashboard"); status == http.StatusOK {
			t.Fatal("the attacker is signed in")
		}

		// The victim finishes, once.
		if _, body, _ := victim.get("/signin/wallet/status"); !strings.Contains(body, "true") {
			t.Errorf("the victim's browser does not see the approval: %s", body)
		}
		_, page, _ = victim.get("/offerings/new") // a form token, and the cookie kept
		token := csrfInput.FindStringSubmatch(page)[1]
		finish := func(b *browser, cookie string) int {
			b.c.Jar.SetCookies(u, []*http.Cookie{{Name: "ka_auth", Value: cookie, Path: "/"}})
			res, err := b.c.PostForm(s.URL+"/signin/wallet", url.Values{"_csrf": {token}})
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			return res.StatusCode
		}
		if got := finish(victim, binding); got != http.StatusSeeOther {
			t.Fatalf("the victim finishes: %d", got)
		}
		if status, _, _ := victim.get("/dashboard"); status != http.StatusOK {
			t.Fatalf("the victim's dashboard: %d", status)
		}
		replay := newBrowser(t, s)
		replay.c.Jar.SetCookies(u, victim.c.Jar.Cookies(u))
		replay.c.Jar.SetCookies(u, []*http.Cookie{{Name: "ka_session", Value: "", Path: "/", MaxAge: -1}})
		if got := finish(replay, binding); got == http.StatusSeeOther {
			t.Fatal("a binding finished a second sign-in")
		}

		// A binding expires with its challenge, which is short-lived.
		late := newBrowser(t, s)
		_, page, _ = late.get("/signin")
		walletSigns(t, s, authURLOn(t, page), walletKey)
		s.clock.Advance(offering.ChallengeTTL + time.Second)
		if status, _, _ := late.post("/offerings/new", "/signin/wallet", url.Values{}); status == http.StatusSeeOther {
			t.Fatal("an expired sign-in finished")
		}
		if offering.ChallengeTTL > 5*time.Minute {
			t.Errorf("challenges live %s; a sign-in takes a minute", offering.ChallengeTTL)
		}
	})
}

// copyBrowser is another browser holding b's cookies, as someone who
// copied them would.
func copyBrowser(t *testing.T, b *browser) *browser {
	c := newBrowser(t, b.s)
	u, _ := url.Parse(b.s.URL)
	c.c.Jar.SetCookies(u, b.c.Jar.Cookies(u))
	return c
}

// Sessions end on the server: a copied cookie stops working when its
// owner signs out, when the manage key is rotated, and when the owner
// signs out everywhere.
func TestSessionsAreRevocable(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newSite(t, d)
		key := newOwner(t, s, "session-site")
		signedIn := func(b *browser) bool {
			status, _, _ := b.get("/offerings/session-site/edit")
			return status == http.StatusOK
		}
		signIn := func() *browser {
			b := newBrowser(t, s)
			if status, _, _ := b.post("/signin", "/signin", url.Values{"manage_key": {key}}); status != http.StatusSeeOther {
				t.Fatalf("sign in: %d", status)
			}
			return b
		}

		// Sign-out.
		owner := signIn()
		thief := copyBrowser(t, owner)
		if !signedIn(thief) {
			t.Fatal("a copied cookie does not work at all: the test proves nothing")
		}
		if status, _, _ := owner.post("/dashboard", "/signout", url.Values{}); status != http.StatusSeeOther {
			t.Fatalf("sign out: %d", status)
		}
		if signedIn(thief) || signedIn(owner) {
			t.Error("the session outlives its sign-out")
		}

		// Key rotation ends the other sessions; the rotating browser stays.
		owner, other := signIn(), signIn()
		thief = copyBrowser(t, other)
		status, body, _ := owner.post("/dashboard", "/offerings/session-site/rotate-key", url.Values{})
		if status != http.StatusOK {
			t.Fatalf("rotate: %d", status)
		}
		key = manageKeyRe.FindString(body)
		if !signedIn(owner) {
			t.Error("the browser that rotated the key was signed out")
		}
		if signedIn(other) || signedIn(thief) {
			t.Error("sessions made with the old key survive its rotation")
		}

		// Sign out everywhere: every session of the offering ends.
		owner, other = signIn(), signIn()
		thief = copyBrowser(t, other)
		status, _, hdr := owner.post("/dashboard", "/signout/everywhere", url.Values{})
		if status != http.StatusSeeOther || hdr.Get("Location") == "" {
			t.Fatalf("sign out everywhere: %d", status)
		}
		if signedIn(owner) || signedIn(other) || signedIn(thief) {
			t.Error("a session survived signing out everywhere")
		}
		// The dashboard offers it.
		owner = signIn()
		if _, page, _ := owner.get("/dashboard"); !strings.Contains(page, `action="/signout/everywhere"`) {
			t.Error("the dashboard has no sign-out-everywhere action")
		}
		// A session cookie is an opaque token, not a statement of what it may do.
		if v := cookieOf(owner, "ka_session"); strings.Contains(v, "session-site") || len(v) > 200 {
			t.Errorf("session cookie %q", v)
		}
	})
}

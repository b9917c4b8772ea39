package web_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"github.com/keepalive/keepalive/internal/clocktest"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/funding"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/lightning/demo"
	"github.com/keepalive/keepalive/internal/offering"
	"github.com/keepalive/keepalive/internal/statustoken"
	"github.com/keepalive/keepalive/web"
)

// newHostSite is newSite with a status token signer.
func newHostSite(t testing.TB, d *db.DB) *site {
	t.Helper()
	c := clocktest.New(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	l := ledger.New(d, c.Now)
	svc := offering.New(d, l, nil, offering.WithClock(c.Now), offering.WithStatusTTL(0))
	node := demo.New(demo.WithClock(c.Now))
	fund := funding.New(d, l, node, svc, funding.Limits{MinDonation: 1_000, MaxDonation: 10_000_000_000}, nil, c.Now)
	s := &site{db: d, offerings: svc, funding: fund, node: node, ledger: l, clock: c}
	s.Server = httptest.NewUnstartedServer(nil)
	base := "http://" + s.Listener.Addr().String()
	signer, err := statustoken.NewSigner(bytes.Repeat([]byte{42}, ed25519.SeedSize), base)
	if err != nil {
		t.Fatal(err)
	}
	srv := web.New(web.Deps{BaseURL: base, Demo: true, CookieKey: []byte("0123456789abcdef0123456789abcdef"),
		Offerings: svc, Funding: fund, DemoPayer: node, MinDonation: 1_000, MaxDonation: 10_000_000_000,
		InvoiceRate: web.RateLimits{PerClient: 1000, PerClientBurst: 1000, Total: 1000, TotalBurst: 1000},
		Tokens:      signer})
	s.Config.Handler = srv
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// publishedKey fetches the JWKS and reads the key by hand, as a host would.
func publishedKey(t *testing.T, s *site) ed25519.PublicKey {
	t.Helper()
	status, body, hdr := s.do(t, "GET", "/.well-known/jwks.json", "")
	if status != 200 || hdr.Get("Content-Type") != "application/jwk-set+json" || hdr.Get("Cache-Control") != "public, max-age=3600" {
		t.Fatalf("jwks: %d %v %s", status, hdr, body)
	}
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal([]byte(body), &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("jwks %s: %v", body, err)
	}
	k := set.Keys[0]
	if k["kty"] != "OKP" || k["crv"] != "Ed25519" || k["alg"] != "EdDSA" || k["use"] != "sig" || len(k["kid"]) != 16 {
		t.Fatalf("jwk %v", k)
	}
	x, err := base64.RawURLEncoding.DecodeString(k["x"])
	if err != nil || len(x) != ed25519.PublicKeySize {
		t.Fatalf("jwk x %q: %v", k["x"], err)
	}
	return x
}

func getToken(t *testing.T, s *site, slug string) (string, string) {
	t.Helper()
	status, body, hdr := s.do(t, "GET", "/api/v1/offerings/"+slug+"/token", "")
	if status != 200 || hdr.Get("Cache-Control") != "no-store" {
		t.Fatalf("token: %d %v %s", status, hdr, body)
	}
	var got struct {
		Token     string `json:"token"`
		ExpiresAt string `json:"expires_at"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("token body %s: %v", body, err)
	}
	return got.Token, got.ExpiresAt
}

func TestStatusToken(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newHostSite(t, d)
		createOffering(t, s, createBody) // 1,000 sats an hour, an hour of grace
		pub := publishedKey(t, s)
		start := s.clock.Now()
		fundedUntil := start.Add(24 * time.Hour)

		t.Run("never funded", func(t *testing.T) {
			tok, _ := getToken(t, s, "my-site")
			c, err := statustoken.Verify(tok, pub, start)
			if err != nil || c.State != "expired" || c.FundedUntil != 0 {
				t.Fatalf("%+v %v", c, err)
			}
		})

		s.donate(t, "my-site", "d1", 24_000_000) // a day of runway
		tok, expiresAt := getToken(t, s, "my-site")
		c, err := statustoken.Verify(tok, pub, start)
		want := statustoken.Claims{Issuer: s.URL, Subject: "my-site", State: "alive", FundedUntil: fundedUntil.Unix(),
			IssuedAt: start.Unix(), ExpiresAt: start.Add(time.Hour).Unix()}
		if err != nil || c != want {
			t.Fatalf("alive token: %+v %v, want %+v", c, err, want)
		}
		if expiresAt != start.Add(time.Hour).Format(time.RFC3339) {
			t.Fatalf("expires_at %s", expiresAt)
		}

		t.Run("bare token", func(t *testing.T) {
			status, body, hdr := s.do(t, "GET", "/api/v1/offerings/my-site/token", "", "Accept", "application/jwt")
			if status != 200 || hdr.Get("Content-Type") != "application/jwt" || strings.Count(body, ".") != 2 {
				t.Fatalf("%d %v %q", status, hdr, body)
			}
			if _, err := statustoken.Verify(body, pub, start); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("tampered", func(t *testing.T) {
			forged := strings.Replace(tok, strings.Split(tok, ".")[1],
				base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"my-site","state":"alive","exp":9999999999}`)), 1)
			if _, err := statustoken.Verify(forged, pub, start); !errors.Is(err, statustoken.ErrSignature) {
				t.Fatalf("forged token: %v", err)
			}
		})
		t.Run("alive token dies with the runway", func(t *testing.T) {
			s.clock.Advance(23*time.Hour + 30*time.Minute)
			tok, _ := getToken(t, s, "my-site")
			c, err := statustoken.Verify(tok, pub, s.clock.Now())
			if err != nil || c.State != "alive" || c.ExpiresAt != fundedUntil.Unix() {
				t.Fatalf("%+v %v, want exp at funded_until", c, err)
			}
		})
		t.Run("grace token dies with the grace", func(t *testing.T) {
			s.clock.Advance(time.Hour) // 30 minutes into the hour of grace
			tok, _ := getToken(t, s, "my-site")
			c, err := statustoken.Verify(tok, pub, s.clock.Now())
			if err != nil || c.State != "grace" || c.ExpiresAt != fundedUntil.Add(time.Hour).Unix() {
				t.Fatalf("%+v %v, want exp at the end of the grace", c, err)
			}
		})
		t.Run("expired", func(t *testing.T) {
			s.clock.Advance(time.Hour)
			if _, err := statustoken.Verify(tok, pub, s.clock.Now()); !errors.Is(err, statustoken.ErrExpired) {
				t.Fatalf("the first token still verifies: %v", err)
			}
			tok, _ := getToken(t, s, "my-site")
			c, err := statustoken.Verify(tok, pub, s.clock.Now())
			if err != nil || c.State != "expired" || c.FundedUntil != fundedUntil.Unix() {
				t.Fatalf("%+v %v", c, err)
			}
		})
		t.Run("unknown slug", func(t *testing.T) {
			status, body, _ := s.do(t, "GET", "/api/v1/offerings/nope/token", "")
			if status != 404 || !strings.Contains(body, `"code":"not_found"`) {
				t.Fatalf("%d %s", status, body)
			}
		})
	})
}

func TestNoSignerNoTokenRoutes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newSite(t, d)
		createOffering(t, s, createBody)
		for _, p := range []string{"/api/v1/offerings/my-site/token", "/.well-known/jwks.json"} {
			if status, body, _ := s.do(t, "GET", p, ""); status != 404 {
				t.Errorf("GET %s without a signer: %d %s", p, status, body)
			}
		}
	})
}

// svgText checks that body is well-formed XML with an <svg> root and
// returns its character data.
func svgText(t *testing.T, body string) string {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(body))
	var text strings.Builder
	root := ""
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("badge is not XML: %v\n%s", err, body)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = tok.Name.Local
			}
		case xml.CharData:
			text.Write(tok)
		}
	}
	if root != "svg" {
		t.Fatalf("root element %q, want svg", root)
	}
	return text.String()
}

func TestBadge(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newHostSite(t, d)
		createOffering(t, s, createBody)
		createOffering(t, s, strings.Replace(createBody, "my-site", "lapsed", 1))
		createOffering(t, s, strings.Replace(createBody, "my-site", "waiting", 1))
		s.donate(t, "lapsed", "d0", 1_000_000) // an hour
		s.clock.Advance(90 * time.Minute)      // lapsed: in grace for 30 more minutes
		s.donate(t, "my-site", "d1", 72_000_000)

		cases := []struct {
			name, path string
			status     int
			text       string
			colour     string
		}{
			{"alive", "/badge/my-site.svg", 200, "alive · 3 days", "#2e7d32"},
			{"grace", "/badge/lapsed.svg", 200, "grace · 30 minutes", "#b45309"},
			{"not funded", "/badge/waiting.svg", 200, "not funded", "#6b6b6b"},
			{"unknown", "/badge/nope.svg", 404, "unknown", "#6b6b6b"},
			{"hostile slug", "/badge/%3Cscript%3E%22%26.svg", 404, "unknown", "#6b6b6b"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				status, body, hdr := s.do(t, "GET", c.path, "")
				if status != c.status {
					t.Fatalf("%d, want %d: %s", status, c.status, body)
				}
				if got := svgText(t, body); got != "keepalive: "+c.text+"keepalive"+"keepalive"+c.text+c.text {
					t.Fatalf("badge text %q, want %q", got, c.text)
				}
				if !strings.Contains(body, `fill="`+c.colour+`"`) || strings.Contains(body, "style") || strings.Contains(body, "<script") {
					t.Fatalf("badge %s", body)
				}
				if hdr.Get("Content-Type") != "image/svg+xml; charset=utf-8" || hdr.Get("Cache-Control") != "public, max-age=300" ||
					hdr.Get("ETag") == "" || hdr.Get("Set-Cookie") != "" || strings.Contains(hdr.Get("Vary"), "Cookie") {
					t.Fatalf("headers %v", hdr)
				}
			})
		}

		t.Run("etag", func(t *testing.T) {
			_, _, hdr := s.do(t, "GET", "/badge/my-site.svg", "")
			etag := hdr.Get("ETag")
			if status, body, _ := s.do(t, "GET", "/badge/my-site.svg", "", "If-None-Match", etag); status != 304 || body != "" {
				t.Fatalf("revalidation: %d %q", status, body)
			}
			s.clock.Advance(24 * time.Hour) // 3 days → 2 days
			if status, body, _ := s.do(t, "GET", "/badge/my-site.svg", "", "If-None-Match", etag); status != 200 || !strings.Contains(body, "alive · 2 days") {
				t.Fatalf("after a day: %d %s", status, body)
			}
		})
		t.Run("expired", func(t *testing.T) {
			status, body, _ := s.do(t, "GET", "/badge/lapsed.svg", "")
			if status != 200 || !strings.Contains(svgText(t, body), "expired") {
				t.Fatalf("%d %s", status, body)
			}
		})
		t.Run("not an svg", func(t *testing.T) {
			if status, _, _ := s.do(t, "GET", "/badge/my-site.png", ""); status != 404 {
				t.Fatalf("%d", status)
			}
		})
	})
}

func TestWidget(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newHostSite(t, d)
		createOffering(t, s, strings.Replace(createBody, `"My site"`, `"Mine <b>&</b>"`, 1))
		s.donate(t, "my-site", "d1", 24_000_000)
		status, body, hdr := s.do(t, "GET", "/o/my-site/widget", "")
		if status != 200 {
			t.Fatalf("%d %s", status, body)
		}
		csp := hdr.Get("Content-Security-Policy")
		if hdr.Get("X-Frame-Options") != "" || !strings.Contains(csp, "frame-ancestors *") || strings.Contains(csp, "frame-ancestors 'none'") {
			t.Fatalf("the widget cannot be framed: %v", hdr)
		}
		if hdr.Get("Set-Cookie") != "" {
			t.Fatalf("the widget sets a cookie: %v", hdr)
		}
		for _, want := range []string{
			`data-testid="widget"`, `Mine &lt;b&gt;&amp;&lt;/b&gt;`, `data-state="alive"`, `data-testid="runway-bar"`,
			`Alive until <time datetime="2026-11-02T12:00:00Z">`, `href="/o/my-site#fund" target="_blank" rel="noopener"`,
			`data-testid="demo-banner"`, `/static/css/app.css`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("widget lacks %s:\n%s", want, body)
			}
		}
		for _, unwanted := range []string{"site-header", "site-footer", "<script", "<form"} {
			if strings.Contains(body, unwanted) {
				t.Errorf("widget has %s", unwanted)
			}
		}

		// Every other page still refuses to be framed.
		_, _, hdr = s.do(t, "GET", "/o/my-site", "")
		if hdr.Get("X-Frame-Options") != "DENY" || !strings.Contains(hdr.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Fatalf("offering page headers: %v", hdr)
		}
		if status, _, _ := s.do(t, "GET", "/o/nope/widget", ""); status != 404 {
			t.Fatalf("unknown widget: %d", status)
		}
	})
}

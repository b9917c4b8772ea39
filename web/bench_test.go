package web_test

import (
	"net/http/httptest"
	"testing"

	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/offering"
	"github.com/keepalive/keepalive/web"
)

// BenchmarkStatus serves the status endpoint in process, through every
// middleware, with the status cache as in production, to profile what a
// request costs without the network. docs/benchmarks.md has the
// over-the-wire figures (httpbench, wrk).
func BenchmarkStatus(b *testing.B) {
	d := dbtest.SQLite(b)
	s := newSite(b, d)
	createOffering(b, s, createBody)
	s.donate(b, "my-site", "invoice:1", 24_000_000)
	svc := offering.New(d, ledger.New(d, nil), nil) // production cache TTL
	h := web.New(web.Deps{BaseURL: s.URL, CookieKey: make([]byte, 32), Offerings: svc, Metrics: web.MetricsHandler()})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/offerings/my-site/status", nil))
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}

// BenchmarkOfferingPage renders the offering page in process.
func BenchmarkOfferingPage(b *testing.B) {
	d := dbtest.SQLite(b)
	s := newSite(b, d)
	createOffering(b, s, createBody)
	s.donate(b, "my-site", "invoice:1", 24_000_000)
	svc := offering.New(d, ledger.New(d, nil), nil)
	h := web.New(web.Deps{BaseURL: s.URL, CookieKey: make([]byte, 32), Offerings: svc, Funding: s.funding,
		MinDonation: 1000, MaxDonation: 1_000_000_000})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/o/my-site", nil))
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}

package web

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

// TestClientAddressBehindTrustedProxies: X-Forwarded-For names the client
// only when the connection comes from a proxy the operator trusts.
func TestClientAddressBehindTrustedProxies(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	cases := []struct {
		name    string
		trusted []netip.Prefix
		peer    string
		xff     string
		want    string
	}{
		{"no proxies: the header is ignored", nil, "10.1.2.3:5000", "203.0.113.9", "10.1.2.3"},
		{"from a trusted proxy", trusted, "10.1.2.3:5000", "203.0.113.9", "203.0.113.9"},
		{"a client cannot spoof past the proxy", trusted, "10.1.2.3:5000", "198.51.100.1, 203.0.113.9", "203.0.113.9"},
		{"chained trusted proxies are skipped", trusted, "10.1.2.3:5000", "203.0.113.9, 10.9.9.9", "203.0.113.9"},
		{"from anyone else the header is ignored", trusted, "198.51.100.7:5000", "203.0.113.9", "198.51.100.7"},
		{"a private peer is not trusted unless named", trusted, "192.168.0.5:5000", "203.0.113.9", "192.168.0.5"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = c.peer
			r.Header.Set("X-Forwarded-For", c.xff)
			if got := ipExtractor(c.trusted)(r); got != c.want {
				t.Fatalf("client %q, want %q", got, c.want)
			}
		})
	}
}

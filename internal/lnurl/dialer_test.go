package lnurl

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestPublicHTTPClientRefusesPrivateAddresses(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("{}")) }))
	defer srv.Close()
	req, _ := http.NewRequestWithContext(context.Background(), "GET", srv.URL, nil)
	_, err := PublicHTTPClient(false).Do(req)
	if err == nil || !strings.Contains(err.Error(), "non-public") {
		t.Fatalf("dialing loopback: err = %v, want a refusal", err)
	}
	res, err := PublicHTTPClient(true).Do(req)
	if err != nil {
		t.Fatalf("with private addresses allowed: %v", err)
	}
	res.Body.Close()
	for addr, public := range map[string]bool{
		"8.8.8.8": true, "2a00:1450::1": true, "10.1.2.3": false, "192.168.1.1": false, "172.16.0.1": false,
		"127.0.0.1": false, "169.254.169.254": false, "100.64.0.1": false, "::1": false, "fd00::1": false,
		"0.0.0.0": false, "::ffff:10.0.0.1": false,
	} {
		if got := PublicAddr(netip.MustParseAddr(addr)); got != public {
			t.Errorf("PublicAddr(%s) = %v, want %v", addr, got, public)
		}
	}
}

package lnurl

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"testing"
	"time"
)

// Only addresses that are global unicast per the IANA IPv4 and IPv6
// special-purpose address registries may be dialled.
func TestPublicAddr(t *testing.T) {
	for addr, public := range map[string]bool{
		// Global.
		"8.8.8.8": true, "1.1.1.1": true, "93.184.215.14": true, "2a00:1450:4001::1": true, "2606:4700::1111": true,
		"192.0.1.255": true, "192.0.3.0": true, "198.17.255.255": true, "198.20.0.0": true, "100.63.255.255": true, "100.128.0.0": true,
		// This network, private, loopback, link-local, CGNAT.
		"0.0.0.0": false, "0.1.2.3": false, "10.1.2.3": false, "172.16.0.1": false, "172.31.255.255": false, "192.168.1.1": false,
		"127.0.0.1": false, "127.8.8.8": false, "169.254.169.254": false, "100.64.0.1": false, "100.127.255.254": false,
		// IETF protocol assignments, documentation, benchmarking, 6to4 relay.
		"192.0.0.1": false, "192.0.0.9": false, "192.0.2.1": false, "198.51.100.7": false, "203.0.113.200": false,
		"198.18.0.1": false, "198.19.255.255": false, "192.88.99.1": false,
		// Multicast, reserved, broadcast.
		"224.0.0.1": false, "239.255.255.250": false, "240.0.0.1": false, "255.255.255.255": false,
		// IPv6: unspecified, loopback, IPv4-mapped and -compatible, NAT64
		// (well-known and local-use), discard, IETF (Teredo, benchmarking,
		// ORCHID), documentation, 6to4, ULA, link- and site-local, multicast.
		"::": false, "::1": false, "::ffff:8.8.8.8": false, "::ffff:127.0.0.1": false, "::8.8.8.8": false,
		"64:ff9b::7f00:1": false, "64:ff9b::808:808": false, "64:ff9b:1::1": false, "100::1": false,
		"2001::1": false, "2001:0:4136:e378:8000:63bf:3fff:fdd2": false, "2001:2::1": false, "2001:20::1": false,
		"2001:db8::1": false, "3fff::1": false, "2002:7f00:1::1": false, "2002:808:808::1": false,
		"fc00::1": false, "fd12:3456::1": false, "fe80::1": false, "fec0::1": false, "ff02::1": false, "5f00::1": false,
	} {
		if got := PublicAddr(netip.MustParseAddr(addr)); got != public {
			t.Errorf("PublicAddr(%s) = %v, want %v", addr, got, public)
		}
	}
}

// The check is on the address actually dialled: a URL naming a
// documentation or NAT64 address is refused before any packet leaves.
func TestPublicHTTPClientRefusesSpecialPurposeAddresses(t *testing.T) {
	client := PublicHTTPClient(false)
	for _, u := range []string{"http://192.0.2.1/", "http://198.18.0.1/", "http://[64:ff9b::7f00:1]/", "http://[2002:7f00:1::1]/", "http://[::ffff:127.0.0.1]/"} {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
		_, err := client.Do(req)
		cancel()
		if !errors.Is(err, ErrNonPublicAddress) {
			t.Errorf("GET %s: %v, want ErrNonPublicAddress", u, err)
		}
	}
}

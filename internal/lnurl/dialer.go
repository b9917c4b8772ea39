package lnurl

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrNonPublicAddress is the error of a dial to an address PublicAddr
// refuses.
var ErrNonPublicAddress = errors.New("lnurl: refusing to dial a non-public address")

// PublicHTTPClient is the client to use for addresses people type
// (Lightning Addresses, LNURLs, webhook URLs): it connects only to
// addresses PublicAddr accepts, checked on the address actually dialled
// (after DNS, for every address tried and every redirect), so a name
// cannot make the site call into the operator's own network. allowPrivate
// lifts that, for tests and regtest setups whose services all live on
// loopback.
func PublicHTTPClient(allowPrivate bool) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		dialer.Control = func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: %q: %v", ErrNonPublicAddress, address, err)
			}
			if !PublicAddr(ap.Addr()) {
				return fmt.Errorf("%w: %s", ErrNonPublicAddress, ap.Addr())
			}
			return nil
		}
	}
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 10 * time.Second,
		MaxIdleConns:          16,
		IdleConnTimeout:       30 * time.Second,
	}
	return &http.Client{Transport: transport, Timeout: DefaultTimeout, CheckRedirect: checkRedirect}
}

// notGlobal are the blocks of the IANA IPv4 and IPv6 Special-Purpose
// Address Registries that are not globally reachable, and those that
// embed an IPv4 address a relay or translator would reach on the site's
// behalf (NAT64, 6to4, Teredo). A few registry entries marked globally
// reachable sit inside refused blocks (192.0.0.9 and .10, some of
// 2001::/23): no webhook or Lightning service lives there.
var notGlobal = func() []netip.Prefix {
	var out []netip.Prefix
	for _, p := range []string{
		"0.0.0.0/8",         // "this network"
		"10.0.0.0/8",        // private
		"100.64.0.0/10",     // shared address space (CGNAT)
		"127.0.0.0/8",       // loopback
		"169.254.0.0/16",    // link-local (cloud metadata)
		"172.16.0.0/12",     // private
		"192.0.0.0/24",      // IETF protocol assignments
		"192.0.2.0/24",      // documentation (TEST-NET-1)
		"192.88.99.0/24",    // deprecated 6to4 relay anycast
		"192.168.0.0/16",    // private
		"198.18.0.0/15",     // benchmarking
		"198.51.100.0/24",   // documentation (TEST-NET-2)
		"203.0.113.0/24",    // documentation (TEST-NET-3)
		"224.0.0.0/4",       // multicast
		"240.0.0.0/4",       // reserved, and the broadcast address
		"64:ff9b::/96",      // NAT64, well-known prefix
		"64:ff9b:1::/48",    // NAT64, local use
		"100::/64",          // discard-only
		"2001::/23",         // IETF protocol assignments: Teredo, benchmarking, ORCHID
		"2001:db8::/32",     // documentation
		"2002::/16",         // 6to4
		"3fff::/20",         // documentation
		"2620:4f:8000::/48", // AS112 direct delegation: sinks, not services
	} {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}()

// globalUnicast6 is the only block IANA allocates for global IPv6
// unicast; everything outside it (ULA, link- and site-local, multicast,
// IPv4-compatible, SRv6 SIDs…) is not an address to call.
var globalUnicast6 = netip.MustParsePrefix("2000::/3")

// PublicAddr reports whether a is a global unicast address a Lightning or
// webhook service may live at. IPv4-mapped IPv6 addresses are refused
// outright (Go dials IPv4 as IPv4, so they only come from tricks).
func PublicAddr(a netip.Addr) bool {
	if !a.IsValid() || a.Is4In6() || a.Zone() != "" {
		return false
	}
	if a.Is6() && !globalUnicast6.Contains(a) {
		return false
	}
	for _, p := range notGlobal {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

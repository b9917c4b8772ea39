package lnurl

import (
	"net"
	"strconv"
	"strings"

	"github.com/keepalive/keepalive/internal/apperr"
)

// Address is a Lightning Address (LUD-16), user@domain, in canonical lower
// case. Domain may carry a port (":8080").
type Address struct {
	User   string
	Domain string
}

// maxAddressLen keeps parsing cheap; real addresses are short.
const maxAddressLen = 320

// ParseAddress parses a Lightning Address. Input is lower-cased first, since
// people type "Alice@Example.com"; the user part must then be made of
// a-z 0-9 - _ . + (LUD-16's set plus "+", which services use for tags) and the
// domain must be a DNS name with at least one dot, "localhost" or an IPv4
// literal, optionally with a port.
func ParseAddress(s string) (Address, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) > maxAddressLen {
		return Address{}, apperr.New(apperr.Invalid, "The Lightning Address is too long.")
	}
	user, domain, ok := strings.Cut(s, "@")
	if !ok || strings.Contains(domain, "@") {
		return Address{}, apperr.New(apperr.Invalid, "A Lightning Address looks like name@domain.")
	}
	if !validUser(user) {
		return Address{}, apperr.New(apperr.Invalid, "The name before @ may only contain a-z, 0-9, -, _, . and +.")
	}
	if !validDomain(domain) {
		return Address{}, apperr.New(apperr.Invalid, "The domain after @ is not valid.")
	}
	return Address{User: user, Domain: domain}, nil
}

// String returns user@domain.
func (a Address) String() string { return a.User + "@" + a.Domain }

// URL returns where the address's LNURL-pay parameters live:
// https://domain/.well-known/lnurlp/user, or http for .onion domains and
// loopback with an explicit port (see the package documentation).
func (a Address) URL() string {
	scheme := "https"
	if httpAllowed(a.Domain) {
		scheme = "http"
	}
	return scheme + "://" + a.Domain + "/.well-known/lnurlp/" + a.User
}

func validUser(u string) bool {
	if u == "" || len(u) > 64 {
		return false
	}
	for i := 0; i < len(u); i++ {
		c := u[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_', c == '.', c == '+':
		default:
			return false
		}
	}
	return true
}

func validDomain(d string) bool {
	host, port := d, ""
	if i := strings.LastIndexByte(d, ':'); i >= 0 {
		host, port = d[:i], d[i+1:]
		if !validPort(port) {
			return false
		}
	}
	if host == "localhost" {
		return true
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip.To4() != nil && !strings.Contains(host, ":")
	}
	return validDNSName(host)
}

func validPort(p string) bool {
	if p == "" || len(p) > 5 || p[0] == '0' {
		return false
	}
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535
}

func validDNSName(h string) bool {
	if len(h) > 253 || !strings.Contains(h, ".") {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	// An all-numeric last label would be a mistyped IP, not a name.
	last := h[strings.LastIndexByte(h, '.')+1:]
	for i := 0; i < len(last); i++ {
		if last[i] < '0' || last[i] > '9' {
			return true
		}
	}
	return false
}

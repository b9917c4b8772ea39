package lnurl

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/btcsuite/btcd/btcutil/bech32"

	"github.com/keepalive/keepalive/internal/apperr"
)

// hrp is the bech32 human-readable part of every LNURL.
const hrp = "lnurl"

// maxInputLen bounds what Decode will look at; real LNURLs are a few hundred
// characters, and bech32 checksumming is linear in the input.
const maxInputLen = 4096

// Encode returns rawURL as an upper-case bech32 LNURL ("LNURL1…"); upper case
// because it makes QR codes smaller (alphanumeric mode). It accepts any
// absolute http(s) URL: the service decides what it serves, wallets decide
// what they trust.
func Encode(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", apperr.Wrap(err, apperr.Invalid, "The LNURL target is not a valid URL.")
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", apperr.New(apperr.Invalid, "The LNURL target must be an absolute http(s) URL.")
	}
	data, err := bech32.ConvertBits([]byte(rawURL), 8, 5, true)
	if err != nil {
		return "", fmt.Errorf("lnurl: encode: converting bits: %w", err)
	}
	s, err := bech32.Encode(hrp, data)
	if err != nil {
		return "", fmt.Errorf("lnurl: encode: bech32: %w", err)
	}
	return strings.ToUpper(s), nil
}

// lud17Schemes maps the LUD-17 schemes to what they stand for; "lnurlc"
// (channel requests) is left out because Keepalive does not open channels.
var lud17Schemes = map[string]bool{"lnurlp": true, "lnurlw": true, "keyauth": true}

// Decode returns the URL an LNURL stands for. It accepts bech32 LNURLs in
// upper or lower case (not mixed), with or without a "lightning:" prefix, the
// LUD-17 schemes (lnurlp://, lnurlw://, keyauth://) and the LUD-01 fallback
// form (https://…?lightning=LNURL1…). The result is always an https URL, or
// http under the transport rule in the package documentation.
func Decode(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) > maxInputLen {
		return "", apperr.New(apperr.Invalid, "The LNURL is too long.")
	}
	if len(s) >= len("lightning:") && strings.EqualFold(s[:len("lightning:")], "lightning:") {
		s = s[len("lightning:"):]
	}
	if i := strings.Index(s, "://"); i > 0 {
		return decodeSchemeURL(s, i)
	}
	return decodeBech32(s)
}

func decodeSchemeURL(s string, schemeEnd int) (string, error) {
	scheme := strings.ToLower(s[:schemeEnd])
	switch {
	case lud17Schemes[scheme]:
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			return "", apperr.New(apperr.Invalid, "The LNURL is not a valid URL.")
		}
		u.Scheme = "https"
		if isOnion(u.Hostname()) {
			u.Scheme = "http"
		}
		return checkedURL(u.String())
	case scheme == "https" || scheme == "http":
		// LUD-01 fallback: an ordinary link carrying the LNURL in a
		// "lightning" parameter; the link itself is not an LNURL.
		u, err := url.Parse(s)
		if err != nil {
			return "", apperr.New(apperr.Invalid, "The LNURL is not a valid URL.")
		}
		inner := u.Query().Get("lightning")
		if inner == "" || strings.Contains(inner, "://") {
			return "", apperr.New(apperr.Invalid, "This is a plain link, not an LNURL.")
		}
		return decodeBech32(inner)
	default:
		return "", apperr.New(apperr.Invalid, "Unsupported LNURL scheme %q.", scheme)
	}
}

func decodeBech32(s string) (string, error) {
	gotHRP, data, err := bech32.DecodeNoLimit(s)
	if err != nil {
		return "", apperr.Wrap(err, apperr.Invalid, "The LNURL is not valid bech32.")
	}
	if gotHRP != hrp {
		return "", apperr.New(apperr.Invalid, "The LNURL does not start with LNURL1.")
	}
	raw, err := bech32.ConvertBits(data, 5, 8, false)
	if err != nil {
		return "", apperr.Wrap(err, apperr.Invalid, "The LNURL's data is malformed.")
	}
	return checkedURL(string(raw))
}

// checkedURL returns rawURL if it is an absolute URL the transport rule
// allows.
func checkedURL(rawURL string) (string, error) {
	if err := checkTransport(rawURL); err != nil {
		return "", err
	}
	return rawURL, nil
}

var errNotHTTPS = errors.New("lnurl: not an https URL")

// checkTransport applies the package's transport rule to rawURL.
func checkTransport(rawURL string) error {
	if !utf8.ValidString(rawURL) || strings.ContainsFunc(rawURL, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return apperr.New(apperr.Invalid, "The LNURL holds characters no web address has.")
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return apperr.Wrap(err, apperr.Invalid, "The LNURL is not a valid URL.")
	}
	if u.Host == "" || u.Hostname() == "" || u.User != nil || u.Opaque != "" {
		return apperr.New(apperr.Invalid, "The LNURL is not an absolute web address.")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if httpAllowed(u.Host) {
			return nil
		}
		return apperr.Wrap(errNotHTTPS, apperr.Invalid, "The LNURL must use https.")
	default:
		return apperr.Wrap(errNotHTTPS, apperr.Invalid, "The LNURL must be an https address.")
	}
}

// httpAllowed reports whether plain http is acceptable for hostport: onion
// services (LUD-01) and loopback with an explicit port (our tests).
func httpAllowed(hostport string) bool {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = strings.Trim(hostport, "[]"), ""
	}
	host = strings.ToLower(host)
	if isOnion(host) {
		return true
	}
	return port != "" && (host == "localhost" || host == "127.0.0.1" || host == "::1")
}

func isOnion(host string) bool {
	return strings.HasSuffix(strings.ToLower(host), ".onion")
}

// ResolvePayURL turns what a person pastes as a payment destination — a
// Lightning Address or any LNURL form Decode accepts — into the URL of its
// LNURL-pay parameters.
func ResolvePayURL(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) >= len("lightning:") && strings.EqualFold(s[:len("lightning:")], "lightning:") {
		s = s[len("lightning:"):]
	}
	if strings.Contains(s, "@") && !strings.Contains(s, "://") {
		a, err := ParseAddress(s)
		if err != nil {
			return "", err
		}
		return a.URL(), nil
	}
	return Decode(s)
}

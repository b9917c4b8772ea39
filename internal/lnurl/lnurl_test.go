package lnurl

import (
	"net/url"
	"strings"
	"testing"

	"github.com/keepalive/keepalive/internal/apperr"
)

// The LUD-01 example.
const (
	lud01URL   = "https://service.com/api?q=3fc3645b439ce8e7f2553a69e5267081d96dcd340693afabe04be7b0ccd178df"
	lud01LNURL = "LNURL1DP68GURN8GHJ7UM9WFMXJCM99E3K7MF0V9CXJ0M385EKVCENXC6R2C35XVUKXEFCV5MKVV34X5EKZD3EV56NYD3HXQURZEPEXEJXXEPNXSCRVWFNV9NXZCN9XQ6XYEFHVGCXXCMYXYMNSERXFQ5FNS"
)

func TestEncodeLUD01Example(t *testing.T) {
	got, err := Encode(lud01URL)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	if got != lud01LNURL {
		t.Errorf("Encode = %s, want %s", got, lud01LNURL)
	}
}

func TestEncodeRejects(t *testing.T) {
	for _, in := range []string{"", "service.com/api", "ftp://service.com/x", "https://", "mailto:a@b.c"} {
		t.Run(in, func(t *testing.T) {
			if got, err := Encode(in); err == nil {
				t.Errorf("Encode(%q) = %q, want error", in, got)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"LUD-01 upper", lud01LNURL, lud01URL},
		{"LUD-01 lower", strings.ToLower(lud01LNURL), lud01URL},
		{"lightning prefix", "lightning:" + lud01LNURL, lud01URL},
		{"LIGHTNING prefix and spaces", "  LIGHTNING:" + strings.ToLower(lud01LNURL) + "\n", lud01URL},
		{"fallback link", "https://service.com/giftcard/redeem?id=123&lightning=" + lud01LNURL, lud01URL},
		{"lnurlp", "lnurlp://service.com/.well-known/lnurlp/alice", "https://service.com/.well-known/lnurlp/alice"},
		{"lnurlw", "lnurlw://service.com/w?k1=ab", "https://service.com/w?k1=ab"},
		{"keyauth", "keyauth://auth.service.com/login?tag=login&k1=ab", "https://auth.service.com/login?tag=login&k1=ab"},
		{"LNURLP upper scheme", "LNURLP://service.com/p", "https://service.com/p"},
		{"lnurlp onion", "lnurlp://examplennnnnnnn.onion/path", "http://examplennnnnnnn.onion/path"},
		{"lightning + lnurlp", "lightning:lnurlp://service.com/p", "https://service.com/p"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(tt.in)
			if err != nil {
				t.Fatalf("Decode(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("Decode = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDecodeRoundTrip(t *testing.T) {
	for _, u := range []string{
		lud01URL,
		"http://abcdefghij234567.onion/p",
		"http://127.0.0.1:8080/lnurlp/x",
		"http://localhost:3000/.well-known/lnurlp/slug",
		"https://keepalive.example/o/ünïcode?x=1",
		"https://k.example/" + strings.Repeat("a", 1500),
	} {
		t.Run(u[:min(len(u), 40)], func(t *testing.T) {
			enc, err := Encode(u)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			got, err := Decode(enc)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got != u {
				t.Errorf("round trip = %q, want %q", got, u)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	mustEncode := func(u string) string {
		s, err := Encode(u)
		if err != nil {
			t.Fatalf("Encode(%q): %v", u, err)
		}
		return s
	}
	mixed := "LNURL1" + strings.ToLower(lud01LNURL[6:])
	// Flip one data character: the checksum must catch it.
	corrupt := lud01LNURL[:20] + "Q" + lud01LNURL[21:]
	if corrupt == lud01LNURL {
		corrupt = lud01LNURL[:20] + "P" + lud01LNURL[21:]
	}
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"mixed case", mixed},
		{"bad checksum", corrupt},
		{"wrong hrp", "lnbc1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq"},
		{"plain http clearnet", mustEncode("http://service.com/api")},
		{"http loopback without port", mustEncode("http://localhost/api")},
		{"plain https link", "https://service.com/api"},
		{"unknown scheme", "lnurlc://service.com/c"},
		{"lud17 without host", "lnurlp:///path"},
		{"too long", "lnurl1" + strings.Repeat("q", maxInputLen)},
		{"garbage", "hello world"},
		{"fallback with url in lightning param", "https://a.example/?lightning=https://b.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(tt.in)
			if err == nil {
				t.Fatalf("Decode(%q) = %q, want error", tt.in, got)
			}
			if !apperr.Is(err, apperr.Invalid) {
				t.Errorf("Decode error code = %s, want invalid (%v)", apperr.CodeOf(err), err)
			}
		})
	}
}

func TestResolvePayURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Alice@Example.com", "https://example.com/.well-known/lnurlp/alice"},
		{"lightning:bob@127.0.0.1:9999", "http://127.0.0.1:9999/.well-known/lnurlp/bob"},
		{lud01LNURL, lud01URL},
		{"lnurlp://service.com/p", "https://service.com/p"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ResolvePayURL(tt.in)
			if err != nil {
				t.Fatalf("ResolvePayURL: %v", err)
			}
			if got != tt.want {
				t.Errorf("ResolvePayURL = %q, want %q", got, tt.want)
			}
		})
	}
	if _, err := ResolvePayURL("not an address@"); err == nil {
		t.Error("ResolvePayURL accepted a malformed address")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(lud01LNURL)
	f.Add(strings.ToLower(lud01LNURL))
	f.Add("lightning:" + lud01LNURL)
	f.Add("lnurlp://service.com/p")
	f.Add("keyauth://x.onion/a?tag=login")
	f.Add("https://a.example/?lightning=" + lud01LNURL)
	f.Add("lnurl1qqqqqqqqqqqq")
	f.Fuzz(func(t *testing.T, in string) {
		got, err := Decode(in)
		if err != nil {
			return
		}
		u, perr := url.Parse(got)
		if perr != nil {
			t.Fatalf("Decode(%q) = %q, which does not parse: %v", in, got, perr)
		}
		switch u.Scheme {
		case "https":
		case "http":
			if !httpAllowed(u.Host) {
				t.Fatalf("Decode(%q) = %q: http on a host that must use https", in, got)
			}
		default:
			t.Fatalf("Decode(%q) = %q: scheme %q", in, got, u.Scheme)
		}
		if u.Hostname() == "" {
			t.Fatalf("Decode(%q) = %q: no host", in, got)
		}
		enc, err := Encode(got)
		if err != nil {
			t.Fatalf("Encode(Decode(%q)) = %v", in, err)
		}
		again, err := Decode(enc)
		if err != nil || again != got {
			t.Fatalf("Decode(Encode(%q)) = %q, %v", got, again, err)
		}
	})
}

package lnurl

import (
	"net/url"
	"strings"
	"testing"
)

func TestParseAddress(t *testing.T) {
	tests := []struct {
		in         string
		wantUser   string
		wantDomain string
		wantURL    string
	}{
		{"satoshi@bitcoin.org", "satoshi", "bitcoin.org", "https://bitcoin.org/.well-known/lnurlp/satoshi"},
		{"  Alice@Example.COM ", "alice", "example.com", "https://example.com/.well-known/lnurlp/alice"},
		{"my-site_1.x+tip@keepalive.example", "my-site_1.x+tip", "keepalive.example", "https://keepalive.example/.well-known/lnurlp/my-site_1.x+tip"},
		{"a@sub.domain.co.uk", "a", "sub.domain.co.uk", "https://sub.domain.co.uk/.well-known/lnurlp/a"},
		{"a@example.com:8443", "a", "example.com:8443", "https://example.com:8443/.well-known/lnurlp/a"},
		{"slug@abcdefghij234567.onion", "slug", "abcdefghij234567.onion", "http://abcdefghij234567.onion/.well-known/lnurlp/slug"},
		{"slug@127.0.0.1:39123", "slug", "127.0.0.1:39123", "http://127.0.0.1:39123/.well-known/lnurlp/slug"},
		{"slug@localhost:8080", "slug", "localhost:8080", "http://localhost:8080/.well-known/lnurlp/slug"},
		{"slug@localhost", "slug", "localhost", "https://localhost/.well-known/lnurlp/slug"},
		{"slug@127.0.0.1", "slug", "127.0.0.1", "https://127.0.0.1/.well-known/lnurlp/slug"},
		{"slug@10.1.2.3:80", "slug", "10.1.2.3:80", "https://10.1.2.3:80/.well-known/lnurlp/slug"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			a, err := ParseAddress(tt.in)
			if err != nil {
				t.Fatalf("ParseAddress: %v", err)
			}
			if a.User != tt.wantUser || a.Domain != tt.wantDomain {
				t.Errorf("ParseAddress = %+v, want %s@%s", a, tt.wantUser, tt.wantDomain)
			}
			if got := a.URL(); got != tt.wantURL {
				t.Errorf("URL = %q, want %q", got, tt.wantURL)
			}
		})
	}
}

func TestParseAddressRejects(t *testing.T) {
	for _, in := range []string{
		"", "alice", "@example.com", "alice@", "a@b@example.com",
		"al ice@example.com", "al/ice@example.com", "al%ice@example.com", "alïce@example.com",
		"alice@example", "alice@-example.com", "alice@example-.com", "alice@exa_mple.com",
		"alice@example..com", "alice@.example.com", "alice@example.com.", "alice@example.com:",
		"alice@example.com:0", "alice@example.com:65536", "alice@example.com:08080", "alice@example.com:http",
		"alice@1.2.3.999", "alice@[::1]:80", "alice@example.com/path", "alice@example.com?x",
		strings.Repeat("a", 65) + "@example.com",
		"a@" + strings.Repeat("b", 64) + ".com",
	} {
		t.Run(in, func(t *testing.T) {
			if a, err := ParseAddress(in); err == nil {
				t.Errorf("ParseAddress(%q) = %+v, want error", in, a)
			}
		})
	}
}

func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{"satoshi@bitcoin.org", "a+b@127.0.0.1:80", "x@y.onion", "A@B.C", "@", "a@b@c", "a@localhost:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		a, err := ParseAddress(in)
		if err != nil {
			return
		}
		if !validUser(a.User) || !validDomain(a.Domain) || a.User != strings.ToLower(a.User) || a.Domain != strings.ToLower(a.Domain) {
			t.Fatalf("ParseAddress(%q) = %+v: not well formed", in, a)
		}
		again, err := ParseAddress(a.String())
		if err != nil || again != a {
			t.Fatalf("ParseAddress(%q) = %+v, %v; want a fixed point %+v", a.String(), again, err, a)
		}
		u, err := url.Parse(a.URL())
		if err != nil {
			t.Fatalf("URL() = %q does not parse: %v", a.URL(), err)
		}
		if u.Host != a.Domain || u.Path != "/.well-known/lnurlp/"+a.User || u.RawQuery != "" || u.Fragment != "" {
			t.Fatalf("URL() = %q does not point at %+v", a.URL(), a)
		}
		if err := checkTransport(a.URL()); err != nil {
			t.Fatalf("URL() = %q breaks the transport rule: %v", a.URL(), err)
		}
	})
}

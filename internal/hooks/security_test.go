package hooks_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/hooks"
	"github.com/keepalive/keepalive/internal/lnurl"
)

// A webhook URL that names a special-purpose address is refused at once,
// with the same rule the client applies when it dials.
func TestCreateRefusesSpecialPurposeAddresses(t *testing.T) {
	d := dbtest.SQLite(t)
	e := newEnv(t, d)
	public := hooks.New(d, e.offerings, e.funding, lnurl.PublicHTTPClient(false), nil, e.clock.Now)
	for _, u := range []string{
		"https://192.0.2.1/x", "https://198.51.100.1/x", "https://203.0.113.9/x", "https://198.18.0.1/x",
		"https://100.64.0.1/x", "https://192.0.0.170/x", "https://240.0.0.1/x", "https://0.0.0.0/x", "https://224.0.0.1/x",
		"https://[64:ff9b::7f00:1]/x", "https://[64:ff9b:1::a00:1]/x", "https://[2002:7f00:1::1]/x", "https://[2001::1]/x",
		"https://[2001:db8::1]/x", "https://[::ffff:7f00:1]/x", "https://[fec0::1]/x", "https://[ff02::1]/x",
	} {
		_, _, err := public.Create(context.Background(), e.offering.ID, hooks.CreateRequest{URL: u, Events: []string{"funded"}})
		if !apperr.Is(err, apperr.Unprocessable) || apperr.FieldsOf(err)["url"] == "" {
			t.Errorf("%s: %v, want the URL refused", u, err)
		}
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// hangUp returns a loopback address that accepts connections and drops
// them: with a reset (linger 0) or a plain close.
func hangUp(t *testing.T, reset bool) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			if reset {
				c.(*net.TCPConn).SetLinger(0)
			} else {
				io.ReadAll(io.LimitReader(c, 1))
			}
			c.Close()
		}
	}()
	return l.Addr().String()
}

// An owner sees why a delivery failed as a class (could not connect,
// TLS, HTTP status, refused address), never the error text: that named
// the site's resolver, its own address and ports, and told a refused
// port from a reset one.
func TestDeliveryFailuresAreClassified(t *testing.T) {
	status := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "teapot", http.StatusTeapot) }))
	t.Cleanup(status.Close)
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(tlsSrv.Close)
	cases := []struct {
		name, url, want string
		public          bool
	}{
		{"refused", "http://" + closedPort(t) + "/hook", "Could not connect.", false},
		{"reset", "http://" + hangUp(t, true) + "/hook", "Could not connect.", false},
		{"closed", "http://" + hangUp(t, false) + "/hook", "Could not connect.", false},
		{"tls", tlsSrv.URL + "/hook", "TLS error: the certificate or the handshake was not accepted.", false},
		{"status", status.URL + "/hook", "HTTP status 418.", false},
		{"not public", status.URL + "/hook", "Refused: the address is not public.", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := dbtest.SQLite(t)
			e := newEnv(t, d)
			if _, _, err := e.hooks.Create(context.Background(), e.offering.ID, hooks.CreateRequest{URL: c.url, Events: []string{"funded"}}); err != nil {
				t.Fatal(err)
			}
			s := e.hooks
			if c.public {
				s = hooks.New(d, e.offerings, e.funding, lnurl.PublicHTTPClient(false), nil, e.clock.Now)
			}
			e.pay(t, burnRate)
			round(t, s)
			recent, err := s.Recent(context.Background(), e.offering.ID, 10)
			if err != nil || len(recent) != 1 || len(recent[0].Log) != 1 {
				t.Fatalf("%+v %v", recent, err)
			}
			for _, got := range []string{recent[0].LastError, recent[0].Log[0].Error} {
				if got != c.want {
					t.Errorf("error %q, want %q", got, c.want)
				}
			}
		})
	}
}

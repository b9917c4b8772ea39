package hooks_test

import (
	"context"
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

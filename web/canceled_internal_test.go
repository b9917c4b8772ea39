package web

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
)

// TestCanceledKnowsAClientThatWentAway: a request whose client went away
// fails with whatever the work in flight made of the cancellation (a
// driver's dial error among them); none of it is the site's fault. The
// same errors while the client waits are.
func TestCanceledKnowsAClientThatWentAway(t *testing.T) {
	dial := fmt.Errorf("offering: list: failed to connect: %w",
		&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("operation was canceled")})
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"context's own", context.Canceled},
		{"wrapped", fmt.Errorf("ledger: transfers: %w", context.Canceled)},
		{"driver's dial", dial},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		req := httptest.NewRequest("GET", "/", nil).WithContext(ctx)
		c := echo.New().NewContext(req, httptest.NewRecorder())
		if canceled(c, tc.err) {
			t.Errorf("%s: counted as a client gone while the client still waits", tc.name)
		}
		cancel()
		if !canceled(c, tc.err) {
			t.Errorf("%s: not counted as a client gone after it went", tc.name)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := echo.New().NewContext(httptest.NewRequest("GET", "/", nil).WithContext(ctx), httptest.NewRecorder())
	if canceled(c, errors.New("pq: relation does not exist")) {
		t.Error("a real failure counted as a client gone")
	}
}

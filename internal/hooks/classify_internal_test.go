package hooks

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"testing"
	"time"
)

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout dialing 10.0.0.1:5432" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestClassifyTimeouts(t *testing.T) {
	expired, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel()
	live := context.Background()
	for _, c := range []struct {
		err  error
		ctx  context.Context
		want string
	}{
		{context.DeadlineExceeded, expired, failTimeout},
		{&url.Error{Op: "Post", URL: "https://x.example", Err: timeoutErr{}}, live, failTimeout},
		{fmt.Errorf("wrapped: %w", errors.New("lookup db.internal on 10.0.0.2:53: no such host")), live, failConnect},
	} {
		if got := classify(c.err, c.ctx); got != c.want {
			t.Errorf("classify(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

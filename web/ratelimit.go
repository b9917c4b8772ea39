package web

import (
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"github.com/keepalive/keepalive/internal/apperr"
)

// RateLimits bound how fast invoices are created: invoice spam is a
// denial of service on the node.
type RateLimits struct {
	PerClient      rate.Limit // invoices per second per client address
	PerClientBurst int
	Total          rate.Limit // invoices per second for the whole site
	TotalBurst     int
}

func (r RateLimits) withDefaults() RateLimits {
	if r.PerClient == 0 {
		r.PerClient, r.PerClientBurst = rate.Every(2*time.Second), 10
	}
	if r.Total == 0 {
		r.Total, r.TotalBurst = 100, 200
	}
	return r
}

// invoiceRateLimiter refuses invoice creation past a per-client and a
// site-wide rate with a 429 and Retry-After. Client addresses are kept in
// memory only, never stored.
func (s *Server) invoiceRateLimiter() echo.MiddlewareFunc {
	limits := s.InvoiceRate.withDefaults()
	total := rate.NewLimiter(limits.Total, limits.TotalBurst)
	var mu sync.Mutex
	clients := map[string]*clientLimiter{}
	lastSweep := time.Now()
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			now := time.Now()
			ip := c.RealIP()
			mu.Lock()
			if now.Sub(lastSweep) > time.Minute {
				for k, v := range clients {
					if now.Sub(v.seen) > 10*time.Minute {
						delete(clients, k)
					}
				}
				lastSweep = now
			}
			cl, ok := clients[ip]
			if !ok {
				cl = &clientLimiter{l: rate.NewLimiter(limits.PerClient, limits.PerClientBurst)}
				clients[ip] = cl
			}
			cl.seen = now
			allowed := cl.l.AllowN(now, 1) && total.AllowN(now, 1)
			mu.Unlock()
			if !allowed {
				c.Response().Header().Set("Retry-After", "5")
				if c.Request().URL.Path != "" && isLNURL(c) {
					return lnurlError(c, http.StatusTooManyRequests, "Too many invoices requested; try again in a few seconds.")
				}
				return apperr.New(apperr.RateLimited, "Too many invoices requested; try again in a few seconds.")
			}
			return next(c)
		}
	}
}

type clientLimiter struct {
	l    *rate.Limiter
	seen time.Time
}

func isLNURL(c echo.Context) bool {
	p := c.Request().URL.Path
	return len(p) > 8 && p[:8] == "/lnurlp/"
}

// maxWaitsPerClient and maxWaits bound the requests waiting for a
// payment at once (invoice pages' event streams, GET
// /api/v1/invoices/{hash}?wait=N), per client address and in all: each
// holds a connection, a goroutine and a read of its invoice every few
// seconds, for up to an hour for a stream.
var (
	maxWaitsPerClient = 64
	maxWaits          = 20_000
)

// waitLimiter counts the requests waiting for a payment.
type waitLimiter struct {
	mu       sync.Mutex
	byClient map[string]int
	total    int
}

// hold counts one more waiting request from the client at c.RealIP(), or
// refuses it (429) when that client or the replica already has too many;
// the function it returns ends the request's count.
func (w *waitLimiter) hold(c echo.Context) (func(), error) {
	client := c.RealIP()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.byClient[client] >= maxWaitsPerClient || w.total >= maxWaits {
		c.Response().Header().Set("Retry-After", "5")
		return nil, apperr.New(apperr.RateLimited, "Too many requests are waiting for payments; close some and try again.")
	}
	if w.byClient == nil {
		w.byClient = map[string]int{}
	}
	w.byClient[client]++
	w.total++
	return func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.total--
		if w.byClient[client]--; w.byClient[client] == 0 {
			delete(w.byClient, client)
		}
	}, nil
}

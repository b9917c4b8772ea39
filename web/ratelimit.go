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

package web

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
)

// requestIDs makes request ids cheaply: a random per-process prefix and
// a counter. They only need to be unique, not secret.
func requestIDs() func() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	prefix := strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])) + "-"
	var n atomic.Uint64
	return func() string { return prefix + strconv.FormatUint(n.Add(1), 36) }
}

var nosniff = []string{"nosniff"}

// securityHeaders are set on every page, built once.
func securityHeaders(hsts bool) map[string][]string {
	set := map[string][]string{
		"X-Content-Type-Options":  {"nosniff"},
		"X-Frame-Options":         {"DENY"},
		"Referrer-Policy":         {"same-origin"},
		"Content-Security-Policy": {"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"},
	}
	if hsts {
		set["Strict-Transport-Security"] = []string{"max-age=31536000; includeSubDomains"}
	}
	return set
}

// edge is what every request goes through first, in one middleware
// (Echo allocates a closure per middleware per request, and the status
// endpoint pays for each): a request id, the security headers (assigned
// pre-built, with canonical keys), panic recovery, errors rendered by the
// error handler, metrics, and one log line — except for quiet requests
// that succeed.
func (s *Server) edge(m *metrics, ids func() string, headers map[string][]string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) (err error) {
			start := time.Now()
			req, res := c.Request(), c.Response()
			rid := req.Header.Get(echo.HeaderXRequestID)
			if rid == "" || len(rid) > 64 {
				rid = ids()
			}
			h := res.Header()
			h[echo.HeaderXRequestID] = []string{rid}
			if strings.HasPrefix(req.URL.Path, "/api/") {
				// JSON is never rendered by a browser (nosniff sees to
				// that), so the page policies would only be bytes on the
				// wire of the hottest endpoint.
				h["X-Content-Type-Options"] = nosniff
			} else {
				for k, v := range headers {
					h[k] = v
				}
			}
			defer func() {
				if r := recover(); r != nil {
					if r == http.ErrAbortHandler {
						panic(r)
					}
					err = fmt.Errorf("panic: %v", r)
					s.log.ErrorContext(req.Context(), "panic", "err", err, "stack", string(debug.Stack()), "request_id", rid)
				}
				if err != nil {
					c.Error(err) // renders the error; the status is known below
					err = nil
				}
				// The route pattern, never the URL: bearer secrets travel in
				// URLs (an LNURL-withdraw k1 withdraws the owner's
				// earnings; LNURL-auth's k1, sig and key; donors' comments).
				route := c.Path()
				if route == "" {
					route = "unmatched"
				}
				took := time.Since(start)
				m.observe(route, res.Status, took)
				if res.Status < 400 && s.quiet(c) {
					return
				}
				level := slog.LevelInfo
				if res.Status >= 500 {
					level = slog.LevelError
				}
				s.log.LogAttrs(req.Context(), level, "request",
					slog.String("method", req.Method), slog.String("route", route), slog.Int("status", res.Status),
					slog.Duration("latency", took), slog.String("request_id", rid),
					slog.String("client", c.RealIP()))
			}()
			return next(c)
		}
	}
}

// quiet reports whether a request's success need not be logged: the
// status endpoint is polled by hosts every few seconds.
func (s *Server) quiet(c echo.Context) bool {
	return strings.HasSuffix(c.Request().URL.Path, "/status") && !s.log.Enabled(c.Request().Context(), slog.LevelDebug)
}

// metrics counts requests by route pattern and status class (never by raw
// path, which would let anyone grow the label set), with the label lookups
// cached: this runs on every request.
type metrics struct {
	mu        sync.RWMutex
	counters  map[[2]string]prometheus.Counter
	latencies map[string]prometheus.Observer
}

func newMetrics() *metrics {
	return &metrics{counters: map[[2]string]prometheus.Counter{}, latencies: map[string]prometheus.Observer{}}
}

func (m *metrics) observe(route string, status int, took time.Duration) {
	class := statusClass(status)
	key := [2]string{route, class}
	m.mu.RLock()
	c, ok1 := m.counters[key]
	o, ok2 := m.latencies[route]
	m.mu.RUnlock()
	if !ok1 || !ok2 {
		m.mu.Lock()
		if c, ok1 = m.counters[key]; !ok1 {
			c = requests.WithLabelValues(route, class)
			m.counters[key] = c
		}
		if o, ok2 = m.latencies[route]; !ok2 {
			o = latency.WithLabelValues(route)
			m.latencies[route] = o
		}
		m.mu.Unlock()
	}
	c.Inc()
	o.Observe(took.Seconds())
}

func statusClass(status int) string {
	switch status / 100 {
	case 1:
		return "1xx"
	case 2:
		return "2xx"
	case 3:
		return "3xx"
	case 4:
		return "4xx"
	}
	return "5xx"
}

// canceled reports whether a request failed only because its client went
// away: nothing to log, nothing to answer. Its context is canceled then,
// and the error is whatever the work in flight made of that: context's
// own error, or a driver's ("dial tcp …: operation was canceled").
func canceled(c echo.Context, err error) bool {
	if !errors.Is(c.Request().Context().Err(), context.Canceled) {
		return false
	}
	msg := err.Error()
	return errors.Is(err, context.Canceled) || strings.Contains(msg, context.Canceled.Error()) || strings.Contains(msg, "operation was canceled")
}

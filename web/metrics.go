package web

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

var (
	requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "keepalive_http_requests_total",
		Help: "HTTP requests by route and status class.",
	}, []string{"route", "code"})
	latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "keepalive_http_request_duration_seconds",
		Help:    "HTTP request latency by route.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"route"})
)

// Registry is the site's metrics registry: HTTP metrics here, plus
// whatever the domain registers, plus the Go runtime's.
var Registry = func() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(requests, latency, prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return r
}()

// MetricsHandler serves the registry in the Prometheus text format.
func MetricsHandler() http.Handler { return promhttp.HandlerFor(Registry, promhttp.HandlerOpts{}) }

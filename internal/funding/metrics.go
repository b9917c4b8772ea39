package funding

import "github.com/prometheus/client_golang/prometheus"

var (
	settlements = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "keepalive_invoices_settled_total", Help: "Invoices credited to the ledger.",
	})
	payoutsFinished = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "keepalive_payouts_finished_total", Help: "Payouts finished, by outcome.",
	}, []string{"state"})
)

// Register adds the package's metrics to a registry.
func Register(r prometheus.Registerer) {
	r.MustRegister(settlements, payoutsFinished)
}

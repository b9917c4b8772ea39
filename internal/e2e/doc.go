// Package e2e owns the end-to-end tests of the site on real Lightning: the
// real keepalive binary, run as a subprocess against the regtest network's
// site node, driven through its HTTP API and LNURL endpoints, paid by the
// payer node, stopped and killed at awkward moments, with the ledger's
// invariants checked in its database after every scenario. It also holds
// the Lightning benchmarks (KEEPALIVE_BENCH=1) behind
// docs/benchmarks-lightning.md.
//
// Everything here is a test: the package has no code of its own.
package e2e

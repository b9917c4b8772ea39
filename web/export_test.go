package web

import "time"

// SetInvoiceRecheck shortens how often invoice streams read the database,
// for a test; it returns a function that puts it back.
func SetInvoiceRecheck(d time.Duration) func() {
	old := invoiceRecheck
	invoiceRecheck = d
	return func() { invoiceRecheck = old }
}

// SponsorLine is the badge's line of sponsors' names.
var SponsorLine = sponsorLine

// SetMaxWaitsPerClient changes how many requests one client may have
// waiting for payments at once, for a test; it returns a function that
// puts it back.
func SetMaxWaitsPerClient(n int) func() {
	old := maxWaitsPerClient
	maxWaitsPerClient = n
	return func() { maxWaitsPerClient = old }
}

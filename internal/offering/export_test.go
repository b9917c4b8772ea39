package offering

// Consumption exposes the runway arithmetic to the package's tests, which
// replay the old per-minute accrual against the lazy one.
var Consumption = consumption

package invest

import "github.com/keepalive/keepalive/internal/invest/internal/store"

// Investment is one investment and the terms it was made on, as stored.
type Investment = store.Investment

// InvestmentState is where an investment stands.
type InvestmentState = store.InvestmentState

const (
	Pending = store.Pending // invoice not paid yet
	Active  = store.Active  // earning
	Capped  = store.Capped  // earned its cap
)

// Terms are an offering's investment round: what a new investment gets.
type Terms = store.Terms

// Event is a stored revenue event.
type Event = store.Event

// Share is one investment's part of a distribution.
type Share = store.Return

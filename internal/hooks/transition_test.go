package hooks

import (
	"slices"
	"testing"
	"time"

	"github.com/keepalive/keepalive/internal/offering"
)

func TestTransition(t *testing.T) {
	funded := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	status := func(state offering.State, runway int64) offering.Status {
		return offering.Status{State: state, FundedUntil: funded, RunwaySeconds: runway}
	}
	never := offering.Status{State: offering.Expired}
	const threshold = 3600
	cases := []struct {
		name     string
		prev     string
		lowSent  bool
		now      offering.Status
		events   []Event
		state    string
		nowLowed bool
	}{
		{"never funded stays none", "none", false, never, nil, "none", false},
		{"first funding is not a revival", "none", false, status(offering.Alive, 7200), nil, "alive", false},
		{"first funding, already low", "none", false, status(offering.Alive, 60), []Event{RunwayLow}, "alive", true},
		{"alive stays alive", "alive", false, status(offering.Alive, 7200), nil, "alive", false},
		{"runway gets low", "alive", false, status(offering.Alive, 3599), []Event{RunwayLow}, "alive", true},
		{"low is sent once", "alive", true, status(offering.Alive, 10), nil, "alive", true},
		{"runway rises again re-arms", "alive", true, status(offering.Alive, 3600), nil, "alive", false},
		{"into grace: nothing", "alive", true, status(offering.Grace, 0), nil, "grace", false},
		{"grace to expired", "grace", false, status(offering.Expired, 0), []Event{Expired}, "expired", false},
		{"alive to expired while down", "alive", true, status(offering.Expired, 0), []Event{Expired}, "expired", false},
		{"expired stays expired", "expired", false, status(offering.Expired, 0), nil, "expired", false},
		{"revived from expired", "expired", false, status(offering.Alive, 7200), []Event{Revived}, "alive", false},
		{"revived from grace, low", "grace", false, status(offering.Alive, 60), []Event{Revived, RunwayLow}, "alive", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := transition(c.prev, c.lowSent, c.now, threshold)
			if !slices.Equal(got.events, c.events) || got.state != c.state || got.lowSent != c.nowLowed {
				t.Fatalf("got %+v, want events %v state %s lowSent %v", got, c.events, c.state, c.nowLowed)
			}
		})
	}
}

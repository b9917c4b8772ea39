package sponsor

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/money"
	"github.com/keepalive/keepalive/internal/sponsor/internal/store"
)

// Rules are one period's terms: what its clearing uses. A period's rules
// are fixed when its first bid is placed (paid or not: the sponsor bid
// on the terms shown then); until then they follow the settings.
type Rules struct {
	Start, End time.Time
	Slots      int
	Weights    []int
	Reserve    money.Msat
	Fixed      bool // stored with the period, no longer following the settings
}

// rulesFrom are the rules the settings give a period starting at start.
func rulesFrom(st Settings, start time.Time) Rules {
	return Rules{Start: start, End: st.Period.Next(start), Slots: st.Slots, Weights: st.Weights, Reserve: st.Reserve}
}

func rulesOfRow(t store.Terms) (Rules, error) {
	r := Rules{Start: t.PeriodStart.UTC(), End: t.PeriodEnd.UTC(), Slots: t.Slots, Reserve: t.ReserveMsat, Fixed: true}
	if err := json.Unmarshal([]byte(t.WeightsBps), &r.Weights); err != nil {
		return Rules{}, fmt.Errorf("sponsor: weights of the period from %s: %w", FormatStart(t.PeriodStart), err)
	}
	return r, nil
}

// fixedRules returns a period's stored rules, and false when it has none.
func fixedRules(ctx context.Context, c db.Conn, offeringID int64, start time.Time) (Rules, bool, error) {
	t, ok, err := store.TermsOf(ctx, c, offeringID, start)
	if err != nil || !ok {
		return Rules{}, false, err
	}
	r, err := rulesOfRow(t)
	return r, err == nil, err
}

// fixRules stores a period's rules unless its first bid stored some, and
// returns the ones it keeps, inside the transaction placing a bid.
func fixRules(ctx context.Context, tx db.Tx, offeringID int64, r Rules, at time.Time) (Rules, error) {
	w, err := json.Marshal(r.Weights)
	if err != nil {
		return Rules{}, err
	}
	t, err := store.FixTerms(ctx, tx, store.Terms{OfferingID: offeringID, PeriodStart: r.Start, PeriodEnd: r.End,
		Slots: r.Slots, WeightsBps: string(w), ReserveMsat: r.Reserve, FixedAt: at})
	if err != nil {
		return Rules{}, err
	}
	return rulesOfRow(t)
}

// parseName reads a period's name, its start in RFC 3339 UTC, without
// asking which period length it fits: a stored period is found by its
// own start whatever the settings say now.
func parseName(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil || t.Location() != time.UTC {
		return time.Time{}, apperr.New(apperr.NotFound, "No sponsorship period starts at %q: periods are named by their start in UTC, like 2026-12-07T00:00:00Z.", s)
	}
	return t, nil
}

// periodRules returns the rules of the period named name: its own if it
// has bids, else the settings' (and then the name must start a period of
// the current length).
func (s *Service) periodRules(ctx context.Context, st Settings, name string) (Rules, error) {
	start, err := parseName(name)
	if err != nil {
		return Rules{}, err
	}
	if r, ok, err := fixedRules(ctx, s.db, st.OfferingID, start); err != nil || ok {
		return r, err
	}
	if start, err = ParseStart(st.Period, name); err != nil {
		return Rules{}, err
	}
	return rulesFrom(st, start), nil
}

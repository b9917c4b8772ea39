package invest

import (
	"context"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/invest/internal/store"
	"github.com/keepalive/keepalive/internal/money"
)

// Round is an offering's investment round as owners and the public see it.
type Round struct {
	Terms       Terms
	RaisedMsat  money.Msat // principal of paid investments
	Investors   int64      // paid investments
	SharedMsat  money.Msat // to investors, over all revenue events
	RevenueMsat money.Msat // all revenue events
	Events      int64
}

// Round returns the offering's round; NotFound when it never opened one.
func (s *Service) Round(ctx context.Context, offeringID int64) (Round, error) {
	t, err := s.Terms(ctx, offeringID)
	if err != nil {
		return Round{}, err
	}
	r := Round{Terms: t}
	if r.RaisedMsat, r.Investors, err = store.SettledPrincipal(ctx, s.db, offeringID); err != nil {
		return Round{}, err
	}
	if r.RevenueMsat, r.SharedMsat, r.Events, err = store.EventTotals(ctx, s.db, offeringID); err != nil {
		return Round{}, err
	}
	return r, nil
}

// Backer is one paid investment on the backers list: the name only when
// the investor chose to show it.
type Backer struct {
	Name       string // "" when not public
	AmountMsat money.Msat
}

// Backers lists an offering's paid investments, oldest first.
func (s *Service) Backers(ctx context.Context, offeringID int64, limit int) ([]Backer, error) {
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	invs, err := store.PaidOf(ctx, s.db, offeringID, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Backer, len(invs))
	for i, inv := range invs {
		out[i].AmountMsat = inv.PrincipalMsat
		if inv.Public {
			out[i].Name = inv.Name
		}
	}
	return out, nil
}

// HasRound reports whether an offering ever opened to investment.
func (s *Service) HasRound(ctx context.Context, offeringID int64) (bool, error) {
	_, err := s.Terms(ctx, offeringID)
	if apperr.CodeOf(err) == apperr.NotFound {
		return false, nil
	}
	return err == nil, err
}

package invest

import (
	"context"
	"fmt"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/invest/internal/store"
	"github.com/keepalive/keepalive/internal/money"
)

// Bounds of the terms.
const (
	MaxShareBps = 10000
	MinCapBps   = 10000
	MaxCapBps   = 1000000 // 100×
)

// TermsInput is an owner's whole set of terms (PUT replaces them).
type TermsInput struct {
	ShareBps       *int
	CapBps         *int
	MinMsat        *money.Msat
	MaxMsat        *money.Msat
	RaiseLimitMsat *money.Msat // nil or 0: no limit
	Open           *bool       // nil: open
}

// validate checks in and returns the terms it describes.
func (in TermsInput) validate(offeringID int64) (Terms, error) {
	problems := map[string]string{}
	if in.ShareBps == nil || *in.ShareBps < 0 || *in.ShareBps > MaxShareBps {
		problems["share_bps"] = "The investors' share is 0 to 10000 basis points (10000 = all revenue)."
	}
	if in.CapBps == nil || *in.CapBps < MinCapBps || *in.CapBps > MaxCapBps {
		problems["cap_bps"] = "The cap is 10000 (1×) to 1000000 (100×) basis points of the principal."
	}
	if in.MinMsat == nil || *in.MinMsat < money.MsatPerSat || !in.MinMsat.Valid() {
		problems["min_msat"] = "The smallest investment is at least 1 sat and at most 21 million BTC."
	}
	if in.MaxMsat == nil || *in.MaxMsat <= 0 || !in.MaxMsat.Valid() {
		problems["max_msat"] = "The largest investment is a positive amount of at most 21 million BTC."
	} else if in.MinMsat != nil && *in.MaxMsat < *in.MinMsat {
		problems["max_msat"] = "The largest investment cannot be below the smallest."
	}
	var limit *money.Msat
	if in.RaiseLimitMsat != nil && *in.RaiseLimitMsat != 0 {
		switch {
		case *in.RaiseLimitMsat < 0 || !in.RaiseLimitMsat.Valid():
			problems["raise_limit_msat"] = "The raise limit is a positive amount of at most 21 million BTC, or 0 for none."
		case in.MinMsat != nil && *in.RaiseLimitMsat < *in.MinMsat:
			problems["raise_limit_msat"] = "The raise limit cannot be below the smallest investment."
		}
		l := *in.RaiseLimitMsat
		limit = &l
	}
	if len(problems) > 0 {
		return Terms{}, apperr.InvalidFields(problems)
	}
	open := in.Open == nil || *in.Open
	return Terms{OfferingID: offeringID, ShareBps: *in.ShareBps, CapBps: *in.CapBps, MinMsat: *in.MinMsat,
		MaxMsat: *in.MaxMsat, RaiseLimitMsat: limit, Open: open}, nil
}

// SetTerms opens an offering to investment, or changes its terms, for
// investments made from now on.
func (s *Service) SetTerms(ctx context.Context, offeringID int64, in TermsInput) (Terms, error) {
	t, err := in.validate(offeringID)
	if err != nil {
		return Terms{}, err
	}
	t.UpdatedAt = s.Now()
	if err := store.SaveTerms(ctx, s.db, t); err != nil {
		return Terms{}, err
	}
	return t, nil
}

// SetOpen closes or reopens the round; the terms stay.
func (s *Service) SetOpen(ctx context.Context, offeringID int64, open bool) (Terms, error) {
	t, err := s.Terms(ctx, offeringID)
	if err != nil {
		return Terms{}, err
	}
	t.Open, t.UpdatedAt = open, s.Now()
	if err := store.SaveTerms(ctx, s.db, t); err != nil {
		return Terms{}, err
	}
	return t, nil
}

// Terms returns an offering's terms; NotFound when it never opened to
// investment.
func (s *Service) Terms(ctx context.Context, offeringID int64) (Terms, error) {
	return s.termsOf(ctx, s.db, offeringID)
}

// termsOf reads an offering's terms on c (the pool or a transaction).
func (s *Service) termsOf(ctx context.Context, c db.Conn, offeringID int64) (Terms, error) {
	t, ok, err := store.TermsOf(ctx, c, offeringID)
	if err != nil {
		return Terms{}, err
	}
	if !ok {
		return Terms{}, apperr.New(apperr.NotFound, "This offering is not open to investment.")
	}
	return t, nil
}

// Cap is what an investment of principal may earn in all under capBps.
func Cap(principal money.Msat, capBps int) money.Msat {
	c, err := money.MulDiv(principal, int64(capBps), MaxShareBps)
	if err != nil {
		return money.MaxMsat // 100× of a huge principal: nothing can reach it
	}
	return c
}

// checkTerms says why an investment of amount cannot be made on t with
// raised (principal settled or awaiting payment) already counted.
func checkTerms(t Terms, amount, raised money.Msat) error {
	if !t.Open {
		return apperr.New(apperr.Conflict, "This offering's investment round is closed.")
	}
	switch {
	case amount < t.MinMsat:
		return apperr.InvalidFields(map[string]string{"amount_msat": fmt.Sprintf("The smallest investment is %s.", t.MinMsat)})
	case amount > t.MaxMsat:
		return apperr.InvalidFields(map[string]string{"amount_msat": fmt.Sprintf("The largest investment is %s.", t.MaxMsat)})
	}
	if t.RaiseLimitMsat != nil {
		room := *t.RaiseLimitMsat - raised
		if room < t.MinMsat || amount > room {
			if room < 0 {
				room = 0
			}
			return apperr.New(apperr.Conflict, "The round has %s of room left before its raise limit of %s.", room, *t.RaiseLimitMsat)
		}
	}
	return nil
}

package sponsor

import (
	"context"
	"errors"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/sponsor/internal/store"
)

// Bid is one sponsor's bid for one period, as stored.
type Bid = store.Bid

// BidState is where a bid stands.
type BidState = store.BidState

const (
	BidPending   = store.BidPending   // its first invoice is not paid yet
	BidActive    = store.BidActive    // paid, waiting for its period
	BidWon       = store.BidWon       // won a slot
	BidLost      = store.BidLost      // cleared without a slot: refunded
	BidWithdrawn = store.BidWithdrawn // withdrawn by its sponsor: refunded
	BidRejected  = store.BidRejected  // display rejected by the owner: refunded
	BidUnpaid    = store.BidUnpaid    // never paid before its period started
)

var errNoBid = apperr.New(apperr.NotFound, "No bid has that id.")

// bidByPublicID returns the bid with that public id, NotFound if none.
func (s *Service) bidByPublicID(ctx context.Context, publicID string) (Bid, error) {
	b, err := store.BidByPublicID(ctx, s.db, publicID)
	if errors.Is(err, db.ErrNotFound) {
		return Bid{}, errNoBid
	}
	return b, err
}

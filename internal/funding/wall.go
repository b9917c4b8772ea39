package funding

import (
	"context"
	"time"

	"github.com/keepalive/keepalive/internal/funding/internal/store"
	"github.com/keepalive/keepalive/internal/money"
)

// WallEntry is one donation on an offering's donor wall.
type WallEntry struct {
	Name      string // "Anonymous" unless the donor chose to show a name
	Message   string // "" unless the donor chose to show it
	Anonymous bool   // no name to show: the donor gave anonymously or left it empty
	Amount    money.Msat
	SettledAt time.Time
}

// AnonymousName stands in for a donor who shows no name.
const AnonymousName = "Anonymous"

// MaxWallEntries is the most entries the wall returns at once.
const MaxWallEntries = 100

// Wall returns the settled payments to an offering, newest first. Sponsor
// bids are not payments to it (they wait in escrow) and are sealed until
// their period clears: they are never on the wall.
//
// A donor who did not tick "public" gave anonymously, not invisibly: the
// payment is listed as "Anonymous" with its amount and time, and never
// with its name or message. The public ledger already shows every payment
// in with its amount and time, so hiding these amounts here would protect
// nothing and would make the wall disagree with the ledger; what the donor
// chose to keep private, name and message, never leaves this function.
func (s *Service) Wall(ctx context.Context, offeringID int64, limit int) ([]WallEntry, error) {
	if limit <= 0 || limit > MaxWallEntries {
		limit = 20
	}
	// Backers only: an owner's revenue invoice is not a gift.
	rows, err := store.Gifts(ctx, s.db, offeringID, backers, limit)
	if err != nil {
		return nil, err
	}
	out := make([]WallEntry, len(rows))
	for i, r := range rows {
		e := WallEntry{Name: AnonymousName, Anonymous: true, Amount: r.PaidMsat, SettledAt: r.SettledAt.UTC()}
		if r.Public {
			e.Message = r.PayerMessage
			if r.PayerName != "" {
				e.Name, e.Anonymous = r.PayerName, false
			}
		}
		out[i] = e
	}
	return out, nil
}

// backers are the purposes of the invoices that are gifts to an
// offering: donations and investments.
var backers = []Purpose{PurposeDonation, PurposeInvestment}

// Payments counts the settled gifts and investments into an offering (by
// invoice, Lightning Address or LNURL): the "supporters" line of its
// page. Anonymous donors cannot be told apart, so each payment counts once.
func (s *Service) Payments(ctx context.Context, offeringID int64) (int64, error) {
	// Backers only, as on the wall: an owner's revenue invoice is not a
	// gift, and sealed bids are counted by sponsorship itself.
	return store.CountSettled(ctx, s.db, offeringID, backers)
}

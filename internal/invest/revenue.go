package invest

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/funding"
	"github.com/keepalive/keepalive/internal/invest/internal/store"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/money"
	"github.com/keepalive/keepalive/internal/offering"
	"github.com/keepalive/keepalive/internal/text"
)

// Where reported revenue comes from.
const (
	FromInvoice = ""       // the owner pays a revenue invoice
	FromEarned  = "earned" // the owner shares part of the offering's earned balance
)

// NoteField is what a revenue event's note may hold.
var NoteField = text.Field{Max: 280}

// RevenueRequest is an owner reporting revenue earned elsewhere.
type RevenueRequest struct {
	Amount money.Msat
	Note   string
	From   string // FromInvoice or FromEarned
	// Key, optional, makes a from-earned report idempotent: the same key
	// shares once.
	Key string
}

// Reported is the outcome of a revenue report: an invoice to pay
// (distributed when it settles) or, from earned, the distribution.
type Reported struct {
	Invoice      *funding.Invoice
	Distribution *Distribution
}

// ReportRevenue records revenue the owner (already authenticated for o)
// reports.
func (s *Service) ReportRevenue(ctx context.Context, o offering.Offering, r RevenueRequest) (Reported, error) {
	problems := map[string]string{}
	if r.Amount < money.MsatPerSat || !r.Amount.Valid() {
		problems["amount_msat"] = "Revenue is at least 1 sat and at most 21 million BTC."
	}
	var err error
	if r.Note, err = text.Clean(r.Note, NoteField); err != nil {
		problems["note"] = apperr.MessageOf(err)
	}
	if r.From != FromInvoice && r.From != FromEarned {
		problems["from"] = `From is "earned", or left out to pay a revenue invoice.`
	}
	if len(r.Key) > 100 || !printableLine(r.Key) {
		problems["key"] = "A key is at most 100 printable characters."
	}
	if len(problems) > 0 {
		return Reported{}, apperr.InvalidFields(problems)
	}
	if r.From == FromInvoice {
		inv, err := s.funding.Issue(ctx, funding.IssueRequest{
			Purpose: funding.PurposeRevenue, OfferingID: o.ID, Amount: r.Amount,
			Memo: "Revenue of " + o.Name + " shared with its investors", Message: r.Note, Via: "api",
		}, nil)
		if err != nil {
			return Reported{}, err
		}
		return Reported{Invoice: &inv}, nil
	}
	if _, err := s.offerings.Accrue(ctx, o.ID); err != nil { // earned is current before it is shared
		return Reported{}, err
	}
	key := r.Key
	if key == "" {
		b := make([]byte, 16)
		if _, err := io.ReadFull(s.rand, b); err != nil {
			return Reported{}, fmt.Errorf("invest: revenue key: %w", err)
		}
		key = hex.EncodeToString(b)
	}
	var d Distribution
	err = s.db.Tx(ctx, func(tx db.Tx) error {
		var err error
		d, err = s.Distribute(ctx, tx, RevenueEvent{OfferingID: o.ID, Amount: r.Amount,
			Key: fmt.Sprintf("revenue:earned:%d:%s", o.ID, key), From: ledger.OfferingEarned(o.ID), Memo: r.Note})
		return err
	})
	if err != nil {
		if apperr.CodeOf(err) == apperr.Conflict && strings.Contains(apperr.MessageOf(err), "not enough funds") {
			return Reported{}, apperr.New(apperr.Conflict, "The offering has not earned that much yet.")
		}
		return Reported{}, err
	}
	s.afterDistribution(d)
	return Reported{Distribution: &d}, nil
}

// settleRevenue distributes a paid revenue invoice.
func (s *Service) settleRevenue(ctx context.Context, tx db.Tx, inv funding.Invoice, paid money.Msat) error {
	d, err := s.Distribute(ctx, tx, RevenueEvent{OfferingID: inv.OfferingID, Amount: paid,
		Key: "revenue:" + inv.PaymentHash, From: ledger.Lightning, Memo: inv.PayerMessage})
	if err != nil {
		return err
	}
	// The standing payouts start once the distribution has committed.
	tx.AfterCommit(func() { s.afterDistribution(d) })
	return nil
}

// afterDistribution runs once a distribution committed: standing payouts
// may be due. (The runway's credit forgets the cached status itself.)
func (s *Service) afterDistribution(d Distribution) {
	if len(d.Parts) == 0 {
		return
	}
	ids := make([]int64, len(d.Parts))
	for i, p := range d.Parts {
		ids[i] = p.InvestmentID
	}
	select {
	case s.due <- ids:
	default: // the standing payout worker is busy or not running: its sweep finds them
	}
}

// Events lists an offering's revenue events, newest first.
func (s *Service) Events(ctx context.Context, offeringID int64, limit int) ([]Event, error) {
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	return store.EventsOf(ctx, s.db, offeringID, limit)
}

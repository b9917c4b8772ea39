package invest

import (
	"context"
	"crypto/subtle"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/funding"
	"github.com/keepalive/keepalive/internal/invest/internal/store"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/money"
	"github.com/keepalive/keepalive/internal/text"
)

// NameField is what an investor's name on the backers list may hold.
var NameField = text.Field{Max: 64}

// InvestRequest is someone's wish to invest in an offering.
type InvestRequest struct {
	Slug   string
	Amount money.Msat
	Name   string // optional; shown on the backers list only when Public
	Public bool
	Via    string // web, api
}

// Made is a new investment: the claim key is shown once, never again.
type Made struct {
	Investment Investment
	ClaimKey   string
	Invoice    funding.Invoice
	Terms      Terms
}

// Invest issues the invoice for a new investment on the offering's
// current terms. It is refused, with nothing written, when the round is
// closed, the amount is outside the terms or it would pass the raise
// limit (counting investments awaiting payment).
func (s *Service) Invest(ctx context.Context, r InvestRequest) (Made, error) {
	var err error
	if r.Name, err = text.Clean(r.Name, NameField); err != nil {
		return Made{}, apperr.InvalidFields(map[string]string{"name": apperr.MessageOf(err)})
	}
	if r.Amount <= 0 || !r.Amount.Valid() {
		return Made{}, apperr.InvalidFields(map[string]string{"amount_msat": "Give a positive amount of at most 21 million BTC."})
	}
	o, err := s.offerings.Get(ctx, r.Slug)
	if err != nil {
		return Made{}, err
	}
	t, err := s.termsOf(ctx, s.db, o.ID)
	if err != nil {
		return Made{}, err
	}
	raised, err := store.Raised(ctx, s.db, o.ID, s.Now())
	if err != nil {
		return Made{}, err
	}
	if err := checkTerms(t, r.Amount, raised); err != nil {
		return Made{}, err // before asking the node for anything
	}
	key, hash, err := s.newClaimKey()
	if err != nil {
		return Made{}, err
	}
	var made Made
	inv, err := s.funding.Issue(ctx, funding.IssueRequest{
		Purpose: funding.PurposeInvestment, OfferingID: o.ID, Amount: r.Amount,
		Memo: "Invest in " + o.Name, Name: r.Name, Public: r.Public, Via: r.Via,
	}, func(tx db.Tx, inv funding.Invoice) error {
		// Checked again under the round's lock: two investments at once
		// cannot both take the last room.
		if err := store.LockRound(ctx, tx, o.ID); err != nil {
			return err
		}
		t, err := s.termsOf(ctx, tx, o.ID)
		if err != nil {
			return err
		}
		raised, err := store.Raised(ctx, tx, o.ID, s.Now())
		if err != nil {
			return err
		}
		if err := checkTerms(t, r.Amount, raised); err != nil {
			return err
		}
		made = Made{Terms: t, ClaimKey: key, Investment: Investment{
			OfferingID: o.ID, ClaimKeyHash: hash, PaymentHash: inv.PaymentHash, State: Pending,
			PrincipalMsat: r.Amount, ShareBps: t.ShareBps, CapBps: t.CapBps, CapMsat: Cap(r.Amount, t.CapBps),
			Name: r.Name, Public: r.Public, ExpiresAt: inv.ExpiresAt, CreatedAt: s.Now(),
		}}
		return store.InsertInvestment(ctx, tx, &made.Investment)
	})
	if err != nil {
		return Made{}, err
	}
	made.Invoice = inv
	return made, nil
}

func printableLine(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return utf8.ValidString(s)
}

// settleInvestment books a paid investment invoice: the principal buys
// runway like a donation, and the investment becomes active with what
// arrived, even if the round closed or filled meanwhile (the money came).
func (s *Service) settleInvestment(ctx context.Context, tx db.Tx, inv funding.Invoice, paid money.Msat) error {
	if err := store.LockRound(ctx, tx, inv.OfferingID); err != nil {
		return err
	}
	// Once: a settlement seen again finds it active and changes nothing.
	pending, ok, err := store.LockByPayment(ctx, tx, inv.PaymentHash)
	if err != nil {
		return err
	}
	if ok && pending.State == Pending {
		if err := store.Activate(ctx, tx, pending.ID, paid, Cap(paid, pending.CapBps), s.Now()); err != nil {
			return err
		}
	}
	return s.funding.CreditInvoice(ctx, tx, inv, paid)
}

// Open returns the investment id if key is its claim key. Every failure
// (malformed key, another investment's, no such investment) is the same
// Unauthorized, so a key tells nothing about other investments.
func (s *Service) Open(ctx context.Context, id int64, key string) (Investment, error) {
	key = strings.TrimSpace(key)
	if !wellFormedClaimKey(key) {
		return Investment{}, errBadClaimKey()
	}
	inv, ok, err := store.InvestmentByID(ctx, s.db, id)
	if err != nil {
		return Investment{}, err
	}
	if !ok || subtle.ConstantTimeCompare([]byte(inv.ClaimKeyHash), []byte(hashClaimKey(key))) != 1 {
		return Investment{}, errBadClaimKey()
	}
	return inv, nil
}

// ByClaimKey returns the investment a claim key opens (signing in on the
// web with the key alone).
func (s *Service) ByClaimKey(ctx context.Context, key string) (Investment, error) {
	key = strings.TrimSpace(key)
	if !wellFormedClaimKey(key) {
		return Investment{}, errBadClaimKey()
	}
	inv, ok, err := store.InvestmentByClaimHash(ctx, s.db, hashClaimKey(key))
	if err != nil {
		return Investment{}, err
	}
	if !ok {
		return Investment{}, errBadClaimKey()
	}
	return inv, nil
}

// Get returns an investment by id, for callers that authenticated it
// already (a browser session holding its key).
func (s *Service) Get(ctx context.Context, id int64) (Investment, error) {
	inv, ok, err := store.InvestmentByID(ctx, s.db, id)
	if err != nil {
		return Investment{}, err
	}
	if !ok {
		return Investment{}, apperr.New(apperr.NotFound, "No such investment.")
	}
	return inv, nil
}

// Position is an investment with its money: returned (all shares ever
// received), payable now, and withdrawn (what left the payable account,
// routing fees included).
type Position struct {
	Investment
	PayableMsat   money.Msat
	ReservedMsat  money.Msat // in payouts still in flight
	WithdrawnMsat money.Msat
}

// Position reads an investment's balances.
func (s *Service) Position(ctx context.Context, inv Investment) (Position, error) {
	a, err := s.ledger.Account(ctx, ledger.InvestmentPayable(inv.ID))
	if err != nil {
		return Position{}, err
	}
	return Position{Investment: inv, PayableMsat: a.Available(), ReservedMsat: a.DebitsPending, WithdrawnMsat: a.DebitsPosted}, nil
}

// ReturnPoint is one share received, for the returns-over-time chart.
type ReturnPoint struct {
	At     int64 // Unix seconds
	Amount money.Msat
	Total  money.Msat // returned so far, this one included
}

// Returns lists the shares an investment received, oldest first (at most
// the last 500).
func (s *Service) Returns(ctx context.Context, inv Investment) ([]ReturnPoint, error) {
	ids, err := s.ledger.AccountIDs(ctx, ledger.InvestmentPayable(inv.ID))
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	ts, err := s.ledger.Credits(ctx, ids[0], time.Time{}) // newest first
	if err != nil {
		return nil, err
	}
	ts = ts[:min(len(ts), 500)]
	out := make([]ReturnPoint, len(ts))
	total := inv.ReturnedMsat // every share, also those older than the last 500
	for i, t := range ts {
		out[len(ts)-1-i] = ReturnPoint{At: t.CreatedAt.Unix(), Amount: t.Amount, Total: total}
		total -= t.Amount
	}
	return out, nil
}

package funding

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/funding/internal/store"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/lnurl"
	"github.com/keepalive/keepalive/internal/money"
	"github.com/keepalive/keepalive/internal/offering"
)

// WithdrawLinkTTL is how long a one-time LNURL-withdraw link stays valid.
const WithdrawLinkTTL = 15 * time.Minute

// withdrawLink is a one-time LNURL-withdraw (LUD-03) link to a balance
// the site owes someone; only a hash of its k1 is kept.
type withdrawLink = store.WithdrawLink

// WithdrawSource is a balance a withdraw link pays out: the ledger account
// (an offering's earned, an investment's payable, a bid's refund), the
// offering whose own payouts these are (the owner's earnings only; nil
// otherwise), and what the wallet shows.
type WithdrawSource struct {
	Account     string
	OfferingID  *int64
	Description string
}

// EarnedSource is an offering's earned balance, owed to its owner.
func EarnedSource(o offering.Offering) WithdrawSource {
	id := o.ID
	return WithdrawSource{Account: ledger.OfferingEarned(o.ID), OfferingID: &id, Description: "Keepalive: earnings of " + o.Name}
}

// payableAccount matches the accounts a withdraw link may draw on: money
// owed to one person, never the node, escrow, runway or fees.
var payableAccount = regexp.MustCompile(`^(?:offering/[1-9][0-9]*/earned|investment/[1-9][0-9]*/payable|bid/[1-9][0-9]*/refund)$`)

// NewWithdrawLink makes a one-time LNURL-withdraw k1 for src: the
// wallet that scans it is paid the balance, once. The caller has checked
// who may draw on src.
func (s *Service) NewWithdrawLink(ctx context.Context, src WithdrawSource) (k1 string, expires time.Time, err error) {
	if !payableAccount.MatchString(src.Account) {
		return "", time.Time{}, fmt.Errorf("funding: withdraw link to %q: not a payable account", src.Account)
	}
	if src.OfferingID != nil && src.Account != ledger.OfferingEarned(*src.OfferingID) {
		return "", time.Time{}, fmt.Errorf("funding: withdraw link to %q filed under offering %d", src.Account, *src.OfferingID)
	}
	k1, err = lnurl.NewK1(s.rand)
	if err != nil {
		return "", time.Time{}, err
	}
	now := s.now().UTC()
	link := withdrawLink{K1Hash: lnurl.K1Hash(k1), SourceAccount: src.Account, OfferingID: src.OfferingID,
		Description: src.Description, CreatedAt: now, ExpiresAt: now.Add(WithdrawLinkTTL)}
	if err := store.InsertWithdrawLink(ctx, s.db, &link); err != nil {
		return "", time.Time{}, err
	}
	return k1, link.ExpiresAt, nil
}

func (s *Service) openLink(ctx context.Context, k1 string) (withdrawLink, error) {
	link, found, err := store.WithdrawLinkByK1Hash(ctx, s.db, lnurl.K1Hash(k1))
	switch {
	case err != nil:
		return link, err
	case !found:
		return link, apperr.New(apperr.NotFound, "This withdrawal link is not valid.")
	case link.UsedAt != nil:
		return link, apperr.New(apperr.Conflict, "This withdrawal link has already been used.")
	case !s.now().Before(link.ExpiresAt):
		return link, apperr.New(apperr.Conflict, "This withdrawal link has expired; make a new one.")
	}
	return link, nil
}

// available is what the link's source holds now; an offering's earnings
// are brought up to this moment first.
func (s *Service) available(ctx context.Context, link withdrawLink) (money.Msat, error) {
	if id, ok := earnedOffering(link.SourceAccount); ok {
		if _, err := s.offerings.Accrue(ctx, id); err != nil {
			return 0, err
		}
	}
	acct, err := s.ledger.Account(ctx, link.SourceAccount)
	if err != nil && apperr.CodeOf(err) != apperr.NotFound {
		return 0, err
	}
	return acct.Available(), nil
}

// earnedOffering returns the offering whose earned account name is.
func earnedOffering(name string) (int64, bool) {
	rest, ok := strings.CutPrefix(name, "offering/")
	if !ok {
		return 0, false
	}
	idText, ok := strings.CutSuffix(rest, "/earned")
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(idText, 10, 64)
	return id, err == nil
}

// WithdrawOffer is what a wallet that scanned a link is told: what it is
// for, and the most it may ask for now.
type WithdrawOffer struct {
	Description string
	Max         money.Msat
}

// WithdrawParams answers a wallet that scanned a withdraw link: how much
// it may ask for (the withdrawable balance now).
func (s *Service) WithdrawParams(ctx context.Context, k1 string) (WithdrawOffer, error) {
	link, err := s.openLink(ctx, k1)
	if err != nil {
		return WithdrawOffer{}, err
	}
	avail, err := s.available(ctx, link)
	if err != nil {
		return WithdrawOffer{}, err
	}
	return WithdrawOffer{Description: link.Description, Max: MaxPayable(avail)}, nil
}

// RedeemWithdrawLink pays the wallet's BOLT11 invoice pr from the link's
// source, through Pay like every other payout. The link is spent first,
// atomically, so a replayed callback pays nothing; if the payout is
// refused the link is released again.
func (s *Service) RedeemWithdrawLink(ctx context.Context, k1, pr string) (Payout, error) {
	lower := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(pr)), "lightning:")
	if !strings.HasPrefix(lower, "ln") || strings.HasPrefix(lower, "lnurl") {
		// A wallet answers with an invoice; an address here would make
		// the site resolve a URL of the caller's choosing.
		return Payout{}, apperr.New(apperr.Unprocessable, "pr must be a BOLT11 invoice.")
	}
	link, err := s.openLink(ctx, k1)
	if err != nil {
		return Payout{}, err
	}
	now := s.now().UTC()
	spent, err := store.SpendWithdrawLink(ctx, s.db, link.ID, now)
	if err != nil {
		return Payout{}, err
	}
	if !spent {
		return Payout{}, apperr.New(apperr.Conflict, "This withdrawal link has already been used.")
	}
	avail, err := s.available(ctx, link)
	if err == nil {
		var p Payout
		if p, err = s.Pay(ctx, link.SourceAccount, link.OfferingID, avail, pr); err == nil {
			if uerr := store.PaidWithdrawLink(ctx, s.db, link.ID, p.PaymentHash); uerr != nil {
				s.log.Error("withdraw link payment hash", "err", uerr)
			}
			return p, nil
		}
	}
	// Refused (bad invoice, too large…): nothing was paid, so the link may
	// be tried again with a better invoice until it expires.
	if rerr := store.ReleaseWithdrawLink(ctx, s.db, link.ID); rerr != nil {
		s.log.Error("release withdraw link", "err", rerr)
	}
	return Payout{}, err
}

package sponsor

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/funding"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/money"
	"github.com/keepalive/keepalive/internal/offering"
	"github.com/keepalive/keepalive/internal/sponsor/clearing"
	"github.com/keepalive/keepalive/internal/sponsor/internal/store"
)

// ClaimKeyPrefix starts every sponsor's claim key.
const ClaimKeyPrefix = "ka_ck_"

// Limits of a bid's display.
const (
	MaxNameLen    = 40
	MaxTaglineLen = 80
	MaxURLLen     = 300
	MaxReasonLen  = 200
)

// Display is what a winner shows: text only.
type Display = clearing.Display

// BidRequest is a sponsor's bid.
type BidRequest struct {
	Slug    string
	Start   string // the period's name: its start, RFC 3339 UTC
	Amount  money.Msat
	Display Display
	// ClaimKey, when set, files the bid under a claim key the sponsor
	// already holds; otherwise a new one is made.
	ClaimKey string
}

// Placed is a new bid: its claim key (shown once) and first invoice.
type Placed struct {
	Bid      Bid
	ClaimKey string
	Invoice  funding.Invoice
}

// PlaceBid records a bid and issues the invoice that pays it into the
// offering's escrow. The bid counts once that invoice settles.
func (s *Service) PlaceBid(ctx context.Context, r BidRequest) (Placed, error) {
	o, st, err := s.enabledOffering(ctx, r.Slug)
	if err != nil {
		return Placed{}, err
	}
	start, err := s.openStart(st, r.Start)
	if err != nil {
		return Placed{}, err
	}
	problems := map[string]string{}
	if r.Amount < st.Reserve || !r.Amount.Valid() {
		problems["amount_msat"] = fmt.Sprintf("A bid is at least the reserve, %s, and at most 21,000,000 BTC.", st.Reserve)
	}
	d, displayProblems := cleanDisplay(r.Display)
	for k, v := range displayProblems {
		problems[k] = v
	}
	if r.ClaimKey != "" && !validClaimKey(r.ClaimKey) {
		problems["claim_key"] = "That is not a claim key."
	}
	if len(problems) > 0 {
		return Placed{}, apperr.InvalidFields(problems)
	}
	key := r.ClaimKey
	if key == "" {
		if key, err = newClaimKey(s.rand); err != nil {
			return Placed{}, err
		}
	}
	publicID, err := newPublicID(s.rand)
	if err != nil {
		return Placed{}, err
	}
	inv, err := s.payments.IssueInvoice(ctx, funding.InvoiceRequest{
		Purpose: funding.PurposeBid, OfferingID: o.ID, Amount: r.Amount,
		Memo: fmt.Sprintf("Sponsor bid on %s for the period from %s", o.Name, FormatStart(start)), Expiry: s.invoiceExpiry(start),
	})
	if err != nil {
		return Placed{}, err
	}
	now := s.Now()
	b := Bid{PublicID: publicID, OfferingID: o.ID, PeriodStart: start, PeriodEnd: st.Period.Next(start), ClaimKeyHash: hashKey(key),
		State: BidPending, DisplayName: d.Name, DisplayURL: d.URL, DisplayTagline: d.Tagline, CreatedAt: now}
	err = s.db.Tx(ctx, func(tx db.Tx) error {
		b.ID = 0
		return store.InsertBid(ctx, tx, &b, store.BidInvoice{PaymentHash: inv.PaymentHash, AmountMsat: r.Amount, CreatedAt: now})
	})
	if err != nil {
		return Placed{}, err
	}
	return Placed{Bid: b, ClaimKey: key, Invoice: inv}, nil
}

// enabledOffering returns an offering that takes sponsors, and its terms.
func (s *Service) enabledOffering(ctx context.Context, slug string) (offering.Offering, Settings, error) {
	o, err := s.offerings.Get(ctx, slug)
	if err != nil {
		return offering.Offering{}, Settings{}, err
	}
	st, err := s.Settings(ctx, o.ID)
	if err != nil {
		return offering.Offering{}, Settings{}, err
	}
	if !st.Enabled {
		return offering.Offering{}, Settings{}, apperr.New(apperr.Conflict, "%s does not take sponsors.", o.Name)
	}
	return o, st, nil
}

// openStart parses a period's name and checks that it takes bids now.
func (s *Service) openStart(st Settings, name string) (time.Time, error) {
	start, err := ParseStart(st.Period, name)
	if err != nil {
		return time.Time{}, err
	}
	open := st.Period.Open(s.Now(), st.OpenPeriods)
	switch {
	case !start.After(s.Now()):
		return time.Time{}, apperr.New(apperr.Conflict, "The period from %s has started: its bids are closed.", FormatStart(start))
	case start.After(open[len(open)-1]):
		return time.Time{}, apperr.New(apperr.Conflict, "The period from %s does not take bids yet: the last open one starts %s.",
			FormatStart(start), FormatStart(open[len(open)-1]))
	}
	return start, nil
}

// invoiceExpiry keeps a bid invoice payable until the period starts at
// the latest.
func (s *Service) invoiceExpiry(start time.Time) time.Duration {
	return max(min(s.cfg.BidExpiry, start.Sub(s.Now())), time.Second)
}

func cleanDisplay(d Display) (Display, map[string]string) {
	problems := map[string]string{}
	d.Name, d.URL, d.Tagline = strings.TrimSpace(d.Name), strings.TrimSpace(d.URL), strings.TrimSpace(d.Tagline)
	switch {
	case d.Name == "":
		problems["name"] = "Give the name to show."
	case utf8.RuneCountInString(d.Name) > MaxNameLen || !plainText(d.Name):
		problems["name"] = fmt.Sprintf("A name is at most %d characters, with no control or direction characters.", MaxNameLen)
	}
	if u, err := url.Parse(d.URL); err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || !asciiHost(u.Host) ||
		len(d.URL) > MaxURLLen || !plainText(d.URL) || strings.ContainsAny(d.URL, " \"'<>") {
		problems["url"] = "Give an https:// link, with the host in ASCII (an international name in its xn-- form)."
	}
	if utf8.RuneCountInString(d.Tagline) > MaxTaglineLen || !plainText(d.Tagline) {
		problems["tagline"] = fmt.Sprintf("A tagline is at most %d characters, with no control or direction characters.", MaxTaglineLen)
	}
	return d, problems
}

// asciiHost accepts a host in ASCII only: a name in another script can
// pass for a well-known one (Cyrillic "аpple.com"), so an international
// name is given in its punycode (xn--) form, which shows what it is.
func asciiHost(host string) bool {
	for i := 0; i < len(host); i++ {
		if host[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// plainText accepts valid UTF-8 on one line with no control characters
// and no bidirectional overrides or marks, which could disguise a link.
func plainText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == '\u2028' || r == '\u2029' {
			return false
		}
	}
	return true
}

func newClaimKey(r io.Reader) (string, error) {
	b := make([]byte, 32)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("sponsor: claim key: %w", err)
	}
	return ClaimKeyPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

func validClaimKey(k string) bool {
	return strings.HasPrefix(k, ClaimKeyPrefix) && len(k) == len(ClaimKeyPrefix)+43
}

func newPublicID(r io.Reader) (string, error) {
	b := make([]byte, 8)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("sponsor: bid id: %w", err)
	}
	return "b" + hex.EncodeToString(b), nil
}

// hashKey hashes a claim key for storage: 256 random bits need no
// stretching.
func hashKey(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

// Authorize returns the bid with that public id if claimKey is its key: a
// key that opens no bid at all is Unauthorized, another bid's key is
// Forbidden.
func (s *Service) Authorize(ctx context.Context, publicID, claimKey string) (Bid, error) {
	b, err := s.bidByPublicID(ctx, publicID)
	if err != nil {
		return Bid{}, err
	}
	return b, s.checkKey(ctx, b, claimKey)
}

func (s *Service) checkKey(ctx context.Context, b Bid, claimKey string) error {
	h := hashKey(claimKey)
	if claimKey != "" && subtle.ConstantTimeCompare([]byte(h), []byte(b.ClaimKeyHash)) == 1 {
		return nil
	}
	if claimKey != "" {
		if known, err := store.ClaimKeyKnown(ctx, s.db, h); err != nil {
			return err
		} else if known {
			return apperr.New(apperr.Forbidden, "That claim key is for another bid.")
		}
	}
	return apperr.New(apperr.Unauthorized, "Give the bid's claim key.")
}

// Raise asks for more on an active bid: total is the new bid, and the
// invoice is for the difference. The bid grows when it is paid. A raise
// supersedes the bid's earlier unpaid raises (see SettleInvoice).
func (s *Service) Raise(ctx context.Context, publicID, claimKey string, total money.Msat) (funding.Invoice, error) {
	b, err := s.Authorize(ctx, publicID, claimKey)
	if err != nil {
		return funding.Invoice{}, err
	}
	if err := s.checkOpen(b); err != nil {
		return funding.Invoice{}, err
	}
	if b.State != BidActive {
		return funding.Invoice{}, apperr.New(apperr.Conflict, "Pay the bid's first invoice before raising it.")
	}
	if total <= b.Amount || !total.Valid() {
		return funding.Invoice{}, apperr.InvalidFields(map[string]string{"amount_msat": fmt.Sprintf("A raise is to more than the %s already bid, and at most 21,000,000 BTC.", b.Amount)})
	}
	o, err := s.offerings.GetByID(ctx, b.OfferingID)
	if err != nil {
		return funding.Invoice{}, err
	}
	diff := total - b.Amount
	inv, err := s.payments.IssueInvoice(ctx, funding.InvoiceRequest{
		Purpose: funding.PurposeBid, OfferingID: b.OfferingID, Amount: diff,
		Memo: fmt.Sprintf("Raise of a sponsor bid on %s to %s", o.Name, total), Expiry: s.invoiceExpiry(b.PeriodStart),
	})
	if err != nil {
		return funding.Invoice{}, err
	}
	// The invoice counts only if the bid still is what it was priced
	// from; it supersedes the bid's earlier raises, which were priced
	// from the same amount (their payments, if they still arrive, are
	// refunded).
	err = s.db.Tx(ctx, func(tx db.Tx) error {
		cur, err := store.LockBid(ctx, tx, b.ID)
		if err != nil {
			return err
		}
		if cur.State != BidActive || cur.Amount != b.Amount {
			return apperr.New(apperr.Conflict, "The bid changed while it was being raised: look at it again and raise once more.")
		}
		now := s.Now()
		if err := store.SupersedeBidInvoices(ctx, tx, b.ID, now); err != nil {
			return err
		}
		return store.InsertBidInvoice(ctx, tx, store.BidInvoice{PaymentHash: inv.PaymentHash, BidID: b.ID, AmountMsat: diff, CreatedAt: now})
	})
	if err != nil {
		return funding.Invoice{}, err
	}
	return inv, nil
}

// checkOpen fails when the bid's period has started or the bid is closed.
func (s *Service) checkOpen(b Bid) error {
	if !b.Open() {
		return apperr.New(apperr.Conflict, "This bid is %s: it can no longer change.", b.State)
	}
	if !s.Now().Before(b.PeriodStart) {
		return apperr.New(apperr.Conflict, "The bid's period has started: its bids are closed.")
	}
	return nil
}

// EditDisplay changes what the bid shows, before its period.
func (s *Service) EditDisplay(ctx context.Context, publicID, claimKey string, d Display) (Bid, error) {
	b, err := s.Authorize(ctx, publicID, claimKey)
	if err != nil {
		return Bid{}, err
	}
	if err := s.checkOpen(b); err != nil {
		return Bid{}, err
	}
	d, problems := cleanDisplay(d)
	if len(problems) > 0 {
		return Bid{}, apperr.InvalidFields(problems)
	}
	edited, err := store.EditDisplay(ctx, s.db, b.ID, []BidState{BidPending, BidActive}, d.Name, d.URL, d.Tagline)
	if err != nil {
		return Bid{}, err
	}
	if !edited {
		return Bid{}, apperr.New(apperr.Conflict, "This bid can no longer change.")
	}
	b.DisplayName, b.DisplayURL, b.DisplayTagline = d.Name, d.URL, d.Tagline
	return b, nil
}

// WithdrawBid takes a bid back before its period starts: what it paid
// becomes a refund.
func (s *Service) WithdrawBid(ctx context.Context, publicID, claimKey string) (Bid, error) {
	b, err := s.Authorize(ctx, publicID, claimKey)
	if err != nil {
		return Bid{}, err
	}
	return s.close(ctx, b, BidWithdrawn, "withdraw:", "")
}

// Reject is the owner refusing a bid's display before its period: the
// whole bid is refunded and the sponsor sees the reason.
func (s *Service) Reject(ctx context.Context, offeringID int64, publicID, reason string) (Bid, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" || utf8.RuneCountInString(reason) > MaxReasonLen || !plainText(reason) {
		return Bid{}, apperr.InvalidFields(map[string]string{"reason": fmt.Sprintf("Say why, in at most %d characters.", MaxReasonLen)})
	}
	b, err := s.bidByPublicID(ctx, publicID)
	if err != nil {
		return Bid{}, err
	}
	if b.OfferingID != offeringID {
		return Bid{}, errNoBid
	}
	return s.close(ctx, b, BidRejected, "reject:", reason)
}

// Moderated is a bid as the offering's owner sees it before its period:
// its display and state, never its amount (bids are sealed to everyone
// until the clearing publishes them).
type Moderated struct {
	PublicID               string
	PeriodStart, PeriodEnd time.Time
	State                  BidState // pending (unpaid), active or rejected
	Display                Display
	RejectReason           string
}

// ForModeration lists the bids of an offering's periods that have not
// started: those the owner may still reject, and those it rejected.
func (s *Service) ForModeration(ctx context.Context, offeringID int64) ([]Moderated, error) {
	bids, err := store.ComingBids(ctx, s.db, offeringID, s.Now(), []BidState{BidPending, BidActive, BidRejected})
	if err != nil {
		return nil, err
	}
	out := make([]Moderated, len(bids))
	for i, b := range bids {
		out[i] = Moderated{PublicID: b.PublicID, PeriodStart: b.PeriodStart, PeriodEnd: b.PeriodEnd, State: b.State,
			Display: Display{Name: b.DisplayName, URL: b.DisplayURL, Tagline: b.DisplayTagline}, RejectReason: b.RejectReason}
	}
	return out, nil
}

// close ends an open bid before its period, refunding what it paid.
func (s *Service) close(ctx context.Context, b Bid, state BidState, keyPrefix, reason string) (Bid, error) {
	if err := s.checkOpen(b); err != nil {
		return Bid{}, err
	}
	err := s.db.Tx(ctx, func(tx db.Tx) error {
		cur, err := store.LockBid(ctx, tx, b.ID)
		if err != nil {
			return err
		}
		if err := s.checkOpen(cur); err != nil {
			return err
		}
		if cur.Amount > 0 {
			_, err := s.ledger.In(tx).Post(ctx, ledger.Entry{Key: fmt.Sprintf("%s%d", keyPrefix, cur.ID),
				Debit: ledger.OfferingEscrow(cur.OfferingID), Credit: ledger.BidRefund(cur.ID), Amount: cur.Amount, Memo: "bid " + string(state)})
			if err != nil {
				return err
			}
		}
		now := s.Now()
		b, b.State, b.RejectReason, b.ClosedAt = cur, state, reason, &now
		return store.CloseBid(ctx, tx, cur.ID, state, reason, now)
	})
	if err != nil {
		return Bid{}, err
	}
	return b, nil
}

// SettleInvoice credits a paid bid invoice inside the settlement
// transaction: into the offering's escrow while the bid is open and was
// paid before its period started; otherwise (withdrawn, rejected, paid
// too late, or a raise superseded by a later one) straight to the bid's
// refund. "Paid" is when the node settled the invoice, not when the site
// heard of it: a bid paid in time while the site was down still counts.
func (s *Service) SettleInvoice(ctx context.Context, tx db.Tx, inv funding.Invoice, paid money.Msat) error {
	settledAt := s.Now()
	if inv.SettledAt != nil && !inv.SettledAt.IsZero() {
		if latest := s.latestSettlement(*inv.SettledAt); latest.Before(settledAt) {
			settledAt = latest
		}
	}
	bi, err := store.BidInvoiceOf(ctx, tx, inv.PaymentHash)
	if err != nil {
		return err
	}
	b, err := store.LockBid(ctx, tx, bi.BidID)
	if err != nil {
		return err
	}
	l := s.ledger.In(tx)
	key := "invoice:" + inv.PaymentHash
	if !b.Open() || !settledAt.Before(b.PeriodStart) {
		_, err := l.Post(ctx, ledger.Entry{Key: key, Debit: ledger.Lightning, Credit: ledger.BidRefund(b.ID), Amount: paid, Memo: "bid paid after it closed"})
		return err
	}
	if bi.SupersededAt != nil {
		_, err := l.Post(ctx, ledger.Entry{Key: key, Debit: ledger.Lightning, Credit: ledger.BidRefund(b.ID), Amount: paid, Memo: "bid raise superseded by a later raise"})
		return err
	}
	if _, err := l.Post(ctx, ledger.Entry{Key: key, Debit: ledger.Lightning, Credit: ledger.OfferingEscrow(b.OfferingID), Amount: paid, Memo: "sponsor bid"}); err != nil {
		return err
	}
	total, err := money.Add(b.Amount, paid)
	if err != nil {
		return err
	}
	return store.Paid(ctx, tx, b.ID, total, settledAt)
}

var _ funding.SettleFunc = (*Service)(nil).SettleInvoice

// latestSettlement is the latest moment, on the sponsorship clock, that a
// payment the node says it settled at nodeTime can have happened. lnd
// reports settlements to the second, so a time on a whole second stands
// for that whole second (up to its last microsecond, the finest time both
// databases keep). A bid's settlement time is the earlier of this
// and when the site credits it: crediting at once keeps the finer order
// in which payments arrived (ties between equal bids), and crediting late
// (the site was down, or its stream behind) still counts a payment made
// before its period started.
func (s *Service) latestSettlement(nodeTime time.Time) time.Time {
	if nodeTime.Nanosecond() == 0 {
		nodeTime = nodeTime.Add(time.Second - time.Microsecond)
	}
	return nodeTime.Add(s.cfg.ClockSkew).UTC()
}

// BidView is a bid as its sponsor sees it.
type BidView struct {
	Bid
	Slug          string
	OfferingName  string
	RefundPayable money.Msat // withdrawable now (before the routing fee budget)
	Withdrawals   []funding.Payout
	Invoices      []string // payment hashes of its invoices, oldest first
}

// PayoutLister lists payouts from one account (funding).
type PayoutLister interface {
	PayoutsFrom(ctx context.Context, source string, limit int) ([]funding.Payout, error)
}

// View returns a bid with its money, for its sponsor.
func (s *Service) View(ctx context.Context, b Bid) (BidView, error) {
	v := BidView{Bid: b}
	o, err := s.offerings.GetByID(ctx, b.OfferingID)
	if err != nil {
		return BidView{}, err
	}
	v.Slug, v.OfferingName = o.Slug, o.Name
	acct, err := s.ledger.Account(ctx, ledger.BidRefund(b.ID))
	if err != nil && apperr.CodeOf(err) != apperr.NotFound {
		return BidView{}, err
	}
	v.RefundPayable = acct.Available()
	if pl, ok := s.payments.(PayoutLister); ok {
		if v.Withdrawals, err = pl.PayoutsFrom(ctx, ledger.BidRefund(b.ID), 50); err != nil {
			return BidView{}, err
		}
	}
	invs, err := store.BidInvoices(ctx, s.db, b.ID)
	if err != nil {
		return BidView{}, err
	}
	for _, bi := range invs {
		v.Invoices = append(v.Invoices, bi.PaymentHash)
	}
	return v, nil
}

// BidsOf lists every bid filed under a claim key, newest period first.
func (s *Service) BidsOf(ctx context.Context, claimKey string) ([]Bid, error) {
	if !validClaimKey(claimKey) {
		return nil, apperr.New(apperr.Unauthorized, "Give your claim key.")
	}
	bids, err := store.BidsByClaimKey(ctx, s.db, hashKey(claimKey))
	if err != nil {
		return nil, err
	}
	if len(bids) == 0 {
		return nil, apperr.New(apperr.Unauthorized, "No bid has that claim key.")
	}
	return bids, nil
}

// refundable authorizes the bid's sponsor and returns the bid, its refund
// account and what that holds; nothing to refund is a conflict.
func (s *Service) refundable(ctx context.Context, publicID, claimKey string) (Bid, string, money.Msat, error) {
	b, err := s.Authorize(ctx, publicID, claimKey)
	if err != nil {
		return Bid{}, "", 0, err
	}
	source := ledger.BidRefund(b.ID)
	acct, err := s.ledger.Account(ctx, source)
	if err != nil && apperr.CodeOf(err) != apperr.NotFound {
		return Bid{}, "", 0, err
	}
	if funding.MaxPayable(acct.Available()) < money.MsatPerSat {
		return Bid{}, "", 0, apperr.New(apperr.Conflict, "This bid has no refund to withdraw (yet: refunds are paid when the bid is withdrawn, rejected or its period clears).")
	}
	return b, source, acct.Available(), nil
}

// WithdrawRefund pays what the bid is owed back to destination (BOLT11,
// Lightning Address or LNURL-pay), with the payout machinery. The payout
// is the sponsor's, not the offering owner's: it is filed under no
// offering.
func (s *Service) WithdrawRefund(ctx context.Context, publicID, claimKey, destination string) (funding.Payout, error) {
	_, source, avail, err := s.refundable(ctx, publicID, claimKey)
	if err != nil {
		return funding.Payout{}, err
	}
	return s.payments.Pay(ctx, source, nil, avail, destination)
}

// RefundLink makes a one-time LNURL-withdraw k1 for the bid's refund: the
// sponsor's wallet scans it and is paid what the bid is owed, once.
func (s *Service) RefundLink(ctx context.Context, publicID, claimKey string) (string, time.Time, error) {
	_, source, _, err := s.refundable(ctx, publicID, claimKey)
	if err != nil {
		return "", time.Time{}, err
	}
	return s.payments.NewWithdrawLink(ctx, funding.WithdrawSource{Account: source, Description: "Keepalive: sponsor bid refund"})
}

// errAlreadyCleared rolls back a clearing that found its period cleared.
var errAlreadyCleared = errors.New("sponsor: period already cleared")

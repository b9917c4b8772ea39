package offering

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/money"
	"github.com/keepalive/keepalive/internal/offering/internal/store"
)

// HistoryPoint is the runway of an offering at one instant. Between two
// points the runway changes linearly, so a chart may join them with
// straight lines.
type HistoryPoint struct {
	At     time.Time
	Runway money.Msat
	// Payment is what arrived at At (the point is the runway just after
	// it); zero for points that only shape the line.
	Payment money.Msat
}

// History returns the runway of the offering from since until now.
//
// Money only reaches the runway by transfers into it, and only leaves it
// by accruals, which realise the drain at the burn rate; so the runway at
// instant t is the posted balance after the last payment before t, less
// the burn rate times the time since, floored at zero. Accruals are
// never read one by one (older ledgers hold one a minute, tens of
// thousands a month; now there is one a day and one per money movement). The balance right after each payment is found
// walking back from the account's current balance, summing the debits
// between payments over the ledger's (account, id) index: the work is
// proportional to the window, not to the offering's whole history.
//
// The drain between payments uses today's burn rate: after a change of
// rate the line before it is an estimate, while the runway right after
// each payment, and now, is exact.
func (s *Service) History(ctx context.Context, offeringID int64, since time.Time) ([]HistoryPoint, error) {
	o, err := s.GetByID(ctx, offeringID)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	since = since.UTC()
	if since.Before(o.CreatedAt) {
		since = o.CreatedAt.UTC() // nothing to draw before it was listed
	}
	if since.After(now) {
		since = now
	}
	accts, err := s.ledger.AccountsByID(ctx, o.RunwayAccountID)
	if err != nil {
		return nil, fmt.Errorf("offering: runway account of %d: %w", o.ID, err)
	}
	acct := accts[o.RunwayAccountID]

	// The payments of the window, and the last one before it: it sets the
	// runway the window starts with.
	credits, err := s.ledger.Credits(ctx, o.RunwayAccountID, since)
	if err != nil {
		return nil, fmt.Errorf("offering: payments of %d: %w", o.ID, err)
	}
	before, err := s.ledger.LastCreditBefore(ctx, o.RunwayAccountID, since)
	if err != nil {
		return nil, fmt.Errorf("offering: payment before %s of %d: %w", since.Format(time.RFC3339), o.ID, err)
	}
	anchors := append(append([]ledger.Transfer{}, credits...), before...) // newest first

	// Walk back: the balance after payment i is the balance after payment
	// i+1 less that payment, plus what was debited between them.
	after := make([]money.Msat, len(anchors))
	bal := acct.Balance()
	upper := int64(0) // 0: no upper bound (after the newest payment)
	for i, a := range anchors {
		debited, err := s.ledger.DebitedBetween(ctx, o.RunwayAccountID, a.ID, upper)
		if err != nil {
			return nil, err
		}
		bal += debited
		after[i] = bal
		bal -= a.Amount
		upper = a.ID
	}

	burn := o.BurnRateMsatPerHour
	var points []HistoryPoint
	// drainTo adds the line from the last point to t: a kink where the
	// runway runs out on the way, then the point at t.
	level, levelAt := money.Msat(0), since
	drainTo := func(t time.Time) money.Msat {
		if level > 0 {
			if out := fundedUntil(levelAt, level, burn); out.Before(t) {
				points = append(points, HistoryPoint{At: out})
				level, levelAt = 0, out
			}
		}
		return drained(level, burn, t.Sub(levelAt))
	}
	if len(before) == 1 {
		b := before[0]
		level, levelAt = after[len(after)-1], b.CreatedAt.UTC()
		level = drained(level, burn, since.Sub(levelAt))
		levelAt = since
	}
	points = append(points, HistoryPoint{At: since, Runway: level})
	for i := len(credits) - 1; i >= 0; i-- {
		c := credits[i]
		at := c.CreatedAt.UTC()
		drainTo(at)
		// Just before the payment the runway was the balance after it
		// less the payment: exact, since the accrual up to that instant
		// was posted in the same transaction.
		points = append(points, HistoryPoint{At: at, Runway: max(0, after[i]-c.Amount)})
		points = append(points, HistoryPoint{At: at, Runway: after[i], Payment: c.Amount})
		level, levelAt = after[i], at
	}
	points = append(points, HistoryPoint{At: now, Runway: drainTo(now)})
	sort.SliceStable(points, func(i, j int) bool { return points[i].At.Before(points[j].At) })
	return points, nil
}

// drained is what is left of runway after elapsed at the burn rate.
func drained(runway, burnPerHour money.Msat, elapsed time.Duration) money.Msat {
	consumed, _ := consumption(runway, burnPerHour, elapsed)
	return runway - consumed
}

// Direction says which way a movement of the public ledger goes, seen
// from the offering.
type Direction string

const (
	In     Direction = "in"     // money arrived for the offering
	Out    Direction = "out"    // money left the offering
	Within Direction = "within" // money moved between the offering's own accounts
)

// LedgerEntry is one movement of an offering's money as the public sees
// it. It carries no key, memo or counterparty: idempotency keys hold
// payment hashes, and memos may hold what payers wrote.
type LedgerEntry struct {
	ID        int64 // the transfer's id: a cursor for pages, nothing more
	At        time.Time
	Movement  string // in plain words: "payment in", "runway consumed"…
	Amount    money.Msat
	Direction Direction
	// Since is set on the runway consumed in one UTC day, which may be
	// posted several times (once a minute in older ledgers; at each money
	// movement) and is listed as one entry: the first posting's
	// time, At being the last one's. Postings is how many it sums.
	Since    time.Time
	Postings int
}

// LedgerPage is one page of the public ledger, newest first.
type LedgerPage struct {
	Entries []LedgerEntry
	// Older is the cursor of the next (older) page: pass it as before.
	// Zero when there is none.
	Older int64
}

// MaxLedgerPage is the most entries one page of the public ledger holds.
const MaxLedgerPage = 200

// PublicLedger lists the transfers touching the offering's runway, earned
// and escrow accounts, newest first, limit at a time, older than the
// cursor before (0: from the newest). Only money that moved is listed:
// reservations of payouts in flight are not, until they post.
//
// The runway is consumed by accruals (one a day and one per money
// movement; one a minute in older ledgers); listing each would bury the payments and withdrawals, so accruals are listed as one
// entry a UTC day (from consumption_days), placed by the id of the day's
// last accrual. A page holds limit entries of either kind, and reading
// one costs the same however long the offering has lived.
func (s *Service) PublicLedger(ctx context.Context, offeringID int64, limit int, before int64) (LedgerPage, error) {
	if limit <= 0 || limit > MaxLedgerPage {
		limit = 50
	}
	o, err := s.GetByID(ctx, offeringID)
	if err != nil {
		return LedgerPage{}, err
	}
	accts, err := s.ledger.AccountIDs(ctx, ledger.OfferingRunway(o.ID), ledger.OfferingEarned(o.ID), ledger.OfferingEscrow(o.ID))
	if err != nil {
		return LedgerPage{}, fmt.Errorf("offering: accounts of %d: %w", o.ID, err)
	}
	moves, err := s.ledger.Movements(ctx, accts, limit+1, before)
	if err != nil {
		return LedgerPage{}, fmt.Errorf("offering: public ledger of %d: %w", o.ID, err)
	}
	days, err := store.ConsumptionDays(ctx, s.db, o.ID, limit+1, before)
	if err != nil {
		return LedgerPage{}, err
	}

	// The newest limit of both kinds, by id; the next page starts below
	// the last one kept.
	var page LedgerPage
	cut := append([]int64(nil), moves...)
	for _, d := range days {
		cut = append(cut, d.LastTransferID) // an accrual's id: never a movement's
	}
	sort.Slice(cut, func(i, j int) bool { return cut[i] > cut[j] })
	if len(cut) > limit {
		page.Older = cut[limit-1]
	}
	keep := func(id int64) bool { return page.Older == 0 || id >= page.Older }

	var kept []int64
	for _, id := range moves {
		if keep(id) {
			kept = append(kept, id)
		}
	}
	rows, err := s.ledger.MovementsByID(ctx, kept)
	if err != nil {
		return LedgerPage{}, fmt.Errorf("offering: public ledger of %d: %w", o.ID, err)
	}
	for _, row := range rows {
		movement, dir := describe(o.ID, row.Debit, row.Credit)
		page.Entries = append(page.Entries, LedgerEntry{ID: row.ID, At: row.At, Movement: movement,
			Amount: row.Amount, Direction: dir, Postings: 1})
	}
	for _, d := range days {
		if keep(d.LastTransferID) {
			page.Entries = append(page.Entries, LedgerEntry{ID: d.LastTransferID, At: d.LastAt.UTC(), Since: d.FirstAt.UTC(),
				Movement: "runway consumed", Amount: d.AmountMsat, Direction: Within, Postings: d.Postings})
		}
	}
	sort.SliceStable(page.Entries, func(i, j int) bool {
		a, b := page.Entries[i], page.Entries[j]
		if !a.At.Equal(b.At) {
			return a.At.After(b.At)
		}
		return a.ID > b.ID
	})
	return page, nil
}

// describe names a movement between two accounts, one of them the
// offering's, in plain words; counterparties are named by role only.
func describe(offeringID int64, debit, credit string) (string, Direction) {
	runway, earned, escrow := ledger.OfferingRunway(offeringID), ledger.OfferingEarned(offeringID), ledger.OfferingEscrow(offeringID)
	ours := func(name string) bool { return name == runway || name == earned || name == escrow }
	dir := Within
	switch {
	case !ours(debit):
		dir = In
	case !ours(credit):
		dir = Out
	}
	switch {
	case debit == runway && credit == earned:
		return "runway consumed", dir
	case credit == runway && debit == ledger.Lightning:
		return "payment in", dir
	case credit == runway && debit == escrow:
		return "sponsorship added to runway", dir
	case credit == runway:
		return "added to runway", dir
	case debit == earned && credit == ledger.Lightning:
		return "withdrawn by the owner", dir
	case credit == ledger.RoutingFees:
		return "routing fee", dir
	case credit == escrow && debit == ledger.Lightning:
		return "sponsor bid in", dir
	case credit == ledger.PlatformFees:
		return "platform fee", dir
	case debit == escrow && strings.HasPrefix(credit, "bid/"):
		return "sponsor bid refunded", dir
	case debit == escrow && strings.HasPrefix(credit, "investment/"):
		return "return to investors", dir
	case dir == In:
		return "money in", dir
	case dir == Out:
		return "money out", dir
	}
	return "moved between the offering's accounts", dir
}

// CheckConsumption verifies consumption_days against the transfers it
// sums: for every offering and UTC day, the amount, the number of
// accruals and the first and last of them. Tests call it after every
// scenario, beside the ledger's invariants (in the same transaction when
// the site may be running); it reads every accrual.
func CheckConsumption(ctx context.Context, l *ledger.Ledger, tx db.Tx) error {
	type day struct {
		Amount          money.Msat
		Postings        int
		FirstID, LastID int64
		FirstAt, LastAt time.Time
	}
	key := func(offeringID int64, at time.Time) string {
		return fmt.Sprintf("%d/%s", offeringID, at.UTC().Format(time.DateOnly))
	}
	offerings, err := store.Accounts(ctx, tx)
	if err != nil {
		return err
	}
	type pair struct{ debit, credit int64 }
	byAccounts := make(map[pair]int64, len(offerings))
	for _, o := range offerings {
		byAccounts[pair{o.RunwayAccountID, o.EarnedAccountID}] = o.ID
	}
	accruals, err := l.In(tx).Accruals(ctx)
	if err != nil {
		return err
	}
	want := map[string]*day{}
	for _, a := range accruals {
		offeringID, ok := byAccounts[pair{a.DebitAccountID, a.CreditAccountID}]
		if !ok {
			return fmt.Errorf("offering: accrual %s is not between an offering's runway and earned accounts", a.Key)
		}
		k := key(offeringID, a.CreatedAt)
		d := want[k]
		if d == nil {
			d = &day{FirstID: a.ID, FirstAt: a.CreatedAt}
			want[k] = d
		}
		d.Amount += a.Amount
		d.Postings++
		d.LastID, d.LastAt = a.ID, a.CreatedAt
	}
	stored, err := store.AllConsumptionDays(ctx, tx)
	if err != nil {
		return err
	}
	if len(stored) != len(want) {
		return fmt.Errorf("offering: consumption_days has %d rows, the accruals make %d days", len(stored), len(want))
	}
	for _, got := range stored {
		k := fmt.Sprintf("%d/%s", got.OfferingID, got.Day)
		w := want[k]
		if w == nil {
			return fmt.Errorf("offering: consumption_days %s has no accruals", k)
		}
		if got.AmountMsat != w.Amount || got.Postings != w.Postings || got.FirstTransferID != w.FirstID ||
			got.LastTransferID != w.LastID || !got.FirstAt.Equal(w.FirstAt) || !got.LastAt.Equal(w.LastAt) {
			return fmt.Errorf("offering: consumption_days %s = %+v, the accruals make %+v", k, got, *w)
		}
	}
	return nil
}

package offering

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/money"
	"github.com/keepalive/keepalive/internal/offering/internal/store"
)

// accrueLocked posts the runway consumed since o.AccruedAt to earned and
// moves o.AccruedAt on. The caller holds the offering's row (lockBySlug
// or lockByID) and saves o afterwards.
func (s *Service) accrueLocked(ctx context.Context, tx db.Tx, o *Offering) (money.Msat, error) {
	runway, err := s.ledger.In(tx).Balance(ctx, ledger.OfferingRunway(o.ID))
	if err != nil {
		return 0, err
	}
	return s.accrueFrom(ctx, tx, o, runway)
}

// accrueFrom is accrueLocked for a caller that has read the runway's
// balance under the same locks.
func (s *Service) accrueFrom(ctx context.Context, tx db.Tx, o *Offering, runway money.Msat) (money.Msat, error) {
	consumed, entry := s.accrual(o, runway)
	if entry == nil {
		return consumed, nil
	}
	tr, err := s.ledger.In(tx).Post(ctx, *entry)
	if err != nil {
		return 0, err
	}
	if err := addConsumedDay(ctx, tx, o.ID, tr); err != nil {
		return 0, err
	}
	return consumed, nil
}

// accrual returns the runway consumed since o.AccruedAt out of runway,
// with the entry that posts it (nil when nothing was consumed), and moves
// o.AccruedAt on to where the consumption paid for.
func (s *Service) accrual(o *Offering, runway money.Msat) (money.Msat, *ledger.Entry) {
	now := s.Now().Truncate(time.Millisecond)
	if !now.After(o.AccruedAt) {
		return 0, nil
	}
	if runway <= 0 {
		o.AccruedAt = now // unpaid time is not owed later
		return 0, nil
	}
	consumed, paid := consumption(runway, o.BurnRateMsatPerHour, now.Sub(o.AccruedAt))
	var entry *ledger.Entry
	if consumed > 0 {
		entry = &ledger.Entry{
			Key:    accrualKeyPrefix + fmt.Sprintf("%d:%d", o.ID, o.AccruedAt.UnixMilli()),
			Debit:  ledger.OfferingRunway(o.ID),
			Credit: ledger.OfferingEarned(o.ID),
			Amount: consumed,
			Memo:   "runway consumed",
		}
	}
	if consumed == runway {
		o.AccruedAt = now
	} else {
		o.AccruedAt = o.AccruedAt.Add(paid)
	}
	return consumed, entry
}

// accrualKeyPrefix starts the key of every accrual transfer; the indexes
// of the other movements (migration 00004) leave these keys out.
const accrualKeyPrefix = "accrual:"

// addConsumedDay adds an accrual to its UTC day in consumption_days, in
// the accrual's transaction. An accrual the day already counts (a key
// posted again returns the first transfer) changes nothing: transfer ids
// only grow, and the offering's row lock orders its accruals.
func addConsumedDay(ctx context.Context, tx db.Tx, offeringID int64, tr ledger.Transfer) error {
	return store.AddConsumedDay(ctx, tx, consumedDay(offeringID, tr))
}

// consumedDay is the consumption_days row of one accrual.
func consumedDay(offeringID int64, tr ledger.Transfer) store.ConsumptionDay {
	at := tr.CreatedAt.UTC()
	return store.ConsumptionDay{OfferingID: offeringID, Day: at.Format(time.DateOnly),
		AmountMsat: tr.Amount, Postings: 1, FirstTransferID: tr.ID, LastTransferID: tr.ID, FirstAt: at, LastAt: at}
}

// SettleAccrual posts the offering's consumption up to now inside the
// caller's transaction tx, and holds the offering's row until tx ends.
//
// Consumption is not posted as time passes: the status, the runway and
// the earned balance are computed when read, from the last posted accrual
// and the burn rate. It is posted when money moves, so that what moves
// is exact to that instant: call SettleAccrual in the same transaction,
// before moving money in or out of an offering's accounts (a payment in,
// a withdrawal, a revenue event, a clearing); a rate change and a runway
// credit do it themselves. The accrual job adds one posting a UTC day.
func (s *Service) SettleAccrual(ctx context.Context, tx db.Tx, offeringID int64) (money.Msat, error) {
	o, err := s.lockByID(ctx, tx, offeringID)
	if err != nil {
		return 0, err
	}
	if err := s.ledger.In(tx).Lock(ctx, ledger.OfferingRunway(o.ID), ledger.OfferingEarned(o.ID)); err != nil {
		return 0, err
	}
	consumed, err := s.accrueLocked(ctx, tx, &o)
	if err != nil {
		return 0, err
	}
	if consumed > 0 {
		s.changing(tx, o.Slug)
	}
	if err := store.SetAccruedAt(ctx, tx, o.ID, o.AccruedAt); err != nil {
		return 0, err
	}
	return consumed, nil
}

// Accrue is SettleAccrual in a transaction of its own: the offering's
// earned balance is posted up to now (before a withdrawal is sized, and
// from the daily accrual job).
func (s *Service) Accrue(ctx context.Context, offeringID int64) (money.Msat, error) {
	var consumed money.Msat
	err := s.db.Tx(ctx, func(tx db.Tx) error {
		var err error
		consumed, err = s.SettleAccrual(ctx, tx, offeringID)
		return err
	})
	return consumed, err
}

// Credit is money arriving for an offering's runway.
type Credit struct {
	Key    string // idempotency key, e.g. "invoice:<payment_hash>"
	Debit  string // where it comes from, e.g. ledger.Lightning
	Amount money.Msat
	Memo   string
}

// CreditRunway adds money to an offering's runway inside the caller's
// transaction tx: consumption up to now is posted first, so the new money
// buys time from now and not from the past, and funded_until is
// rewritten. Repeating the same key changes nothing. The offering's
// cached status is dropped when tx commits.
func (s *Service) CreditRunway(ctx context.Context, tx db.Tx, offeringID int64, c Credit) (Offering, error) {
	if c.Amount <= 0 || !c.Amount.Valid() {
		return Offering{}, apperr.New(apperr.Invalid, "A payment must be a positive amount.")
	}
	o, err := s.lockByID(ctx, tx, offeringID)
	if err != nil {
		return Offering{}, err
	}
	// One statement locks the accounts, reads the runway's balance and
	// tells whether the key was credited; with the runway locked, what the
	// accrual and this credit leave is known without reading it again.
	// The accrual and the credit are posted together (the accrual first,
	// so the new money buys time from now), and the accrual's day is
	// counted by the statement that rewrites funded_until: on PostgreSQL
	// a settlement's round trips are as few as its steps.
	l := s.ledger.In(tx)
	runwayName := ledger.OfferingRunway(o.ID)
	accts, credited, err := l.LockForKey(ctx, c.Key, c.Debit, runwayName, ledger.OfferingEarned(o.ID))
	if err != nil {
		return Offering{}, err
	}
	if credited {
		return o, nil // already credited: nothing moves, nothing is rewritten
	}
	runway := accts[runwayName].Balance()
	consumed, accrual := s.accrual(&o, runway)
	entries := make([]ledger.Entry, 0, 2)
	if accrual != nil {
		entries = append(entries, *accrual)
	}
	entries = append(entries, ledger.Entry{Key: c.Key, Debit: c.Debit, Credit: runwayName, Amount: c.Amount, Memo: c.Memo})
	posted, err := l.PostAll(ctx, entries)
	if err != nil {
		return Offering{}, err
	}
	var day *store.ConsumptionDay
	if accrual != nil {
		d := consumedDay(o.ID, posted[0])
		day = &d
	}
	runway += c.Amount - consumed
	fu := fundedUntil(o.AccruedAt, runway, o.BurnRateMsatPerHour)
	o.FundedUntil = &fu
	if err := store.SetFunding(ctx, tx, o.ID, o.AccruedAt, fu, day); err != nil {
		return Offering{}, err
	}
	s.changing(tx, o.Slug)
	return o, nil
}

// changing tells the status cache that tx changes the offering's runway:
// until tx commits this process reads its status from the database, and
// the commit drops its entry here and on the other replicas.
func (s *Service) changing(tx db.Tx, slug string) {
	release := s.cache.hold(slug)
	tx.AfterCommit(func() {
		s.cache.forget(slug)
		release()
	})
}

// Invalidate drops the cached status of an offering; call it after a
// transaction that changed its runway commits.
func (s *Service) Invalidate(slug string) { s.cache.forget(slug) }

// snapshotRow is one offering with its runway and earned balances.
type snapshotRow struct {
	Offering
	RunwayPosted money.Msat
	EarnedPosted money.Msat
	EarnedTotal  money.Msat // everything ever earned, withdrawn or not
}

// withBalances reads the runway and earned balances of the offerings
// from the ledger, in one query.
func (s *Service) withBalances(ctx context.Context, os []Offering) ([]snapshotRow, error) {
	ids := make([]int64, 0, 2*len(os))
	for _, o := range os {
		ids = append(ids, o.RunwayAccountID, o.EarnedAccountID)
	}
	accts, err := s.ledger.AccountsByID(ctx, ids...)
	if err != nil {
		return nil, err
	}
	out := make([]snapshotRow, len(os))
	for i, o := range os {
		out[i] = snapshotRow{Offering: o, RunwayPosted: accts[o.RunwayAccountID].Balance(), EarnedPosted: accts[o.EarnedAccountID].Balance(), EarnedTotal: accts[o.EarnedAccountID].CreditsPosted}
	}
	return out, nil
}

func (r snapshotRow) snapshot() Snapshot {
	return Snapshot{
		Slug: r.Slug, BurnRateMsatPerHour: r.BurnRateMsatPerHour, GraceSeconds: r.GraceSeconds,
		AccruedAt: r.AccruedAt, FundedUntil: r.FundedUntil, RunwayPosted: r.RunwayPosted,
	}
}

// cached returns the offering's row and balances, from memory when it can.
func (s *Service) cached(ctx context.Context, slug string) (snapshotRow, error) {
	if !isSlug(slug) {
		return snapshotRow{}, notFound(slug)
	}
	return s.cache.get(slug, func() (snapshotRow, error) {
		o, err := s.Get(ctx, slug)
		if err != nil {
			return snapshotRow{}, err
		}
		rows, err := s.withBalances(ctx, []Offering{o})
		if err != nil {
			return snapshotRow{}, fmt.Errorf("offering: status of %s: %w", slug, err)
		}
		return rows[0], nil
	})
}

// Status returns the funding status of the offering now. It is the
// hottest read of the site: it is answered from memory when it can be.
func (s *Service) Status(ctx context.Context, slug string) (Status, error) {
	r, err := s.cached(ctx, slug)
	if err != nil {
		return Status{}, err
	}
	return r.snapshot().StatusAt(s.Now()), nil
}

// Listed is an offering with its status, for lists.
type Listed struct {
	Offering
	Status Status
	Earned money.Msat // posted earned balance
}

// ListQuery selects offerings for a list: from Offset, or next to the
// offering After or Before (a cursor: an offering's id), which costs the
// same however deep in the list it is.
type ListQuery struct {
	Search string // part of the name, any case
	Limit  int
	Offset int
	After  int64 // the offerings that follow this one
	Before int64 // the offerings just before this one
}

// MaxListLimit is the largest page a list returns.
const MaxListLimit = 100

// List returns offerings in list order (see Page) and how many match. The
// count reads every match: it is for the API, which promises a total;
// pages ask Page, whose cost does not grow with the number of offerings.
func (s *Service) List(ctx context.Context, q ListQuery) ([]Listed, int64, error) {
	page, err := s.Page(ctx, q)
	if err != nil {
		return nil, 0, err
	}
	total, err := store.Count(ctx, s.db, searchPattern(q.Search))
	if err != nil {
		return nil, 0, err
	}
	return page.Offerings, total, nil
}

// ListPage is a page of a list, and whether there are offerings after it
// (Next) and before it (Prev).
type ListPage struct {
	Offerings  []Listed
	Next, Prev bool
}

// Page returns one page of offerings, the ones alive longest first, then
// those in grace, then expired ones, then those never funded. A cursor
// that names no offering reads the first page.
func (s *Service) Page(ctx context.Context, q ListQuery) (ListPage, error) {
	if q.Limit <= 0 || q.Limit > MaxListLimit {
		q.Limit = 20
	}
	if q.Offset < 0 {
		q.Offset = 0
	}
	pattern := searchPattern(q.Search)
	var (
		found []store.Offering
		page  ListPage
		atCur bool
		err   error
	)
	switch {
	case q.After > 0:
		found, page.Next, atCur, err = store.PageAfter(ctx, s.db, pattern, q.Limit, q.After)
		page.Prev = true // the cursor, at least
	case q.Before > 0:
		found, page.Prev, atCur, err = store.PageBefore(ctx, s.db, pattern, q.Limit, q.Before)
		page.Next = true
	}
	if err == nil && !atCur {
		found, page.Next, err = store.Page(ctx, s.db, pattern, q.Limit, q.Offset)
		page.Prev = q.Offset > 0
	}
	if err != nil {
		return ListPage{}, err
	}
	rows, err := s.withBalances(ctx, found)
	if err != nil {
		return ListPage{}, fmt.Errorf("offering: list: %w", err)
	}
	now := s.Now()
	page.Offerings = make([]Listed, len(rows))
	for i, r := range rows {
		page.Offerings[i] = Listed{Offering: r.Offering, Status: r.snapshot().StatusAt(now), Earned: r.EarnedPosted}
	}
	return page, nil
}

// searchPattern is the LIKE pattern of a search term (empty: no search).
func searchPattern(search string) string {
	term := strings.TrimSpace(search)
	if term == "" {
		return ""
	}
	if len(term) > 100 {
		term = term[:100]
	}
	return "%" + escapeLike(strings.ToLower(term)) + "%"
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// Finances is what the owner sees of an offering's money now.
type Finances struct {
	Status Status
	// Earned is what the owner may withdraw now: the posted earned balance
	// plus what has been consumed since the last posted accrual.
	Earned money.Msat
	// EarnedTotal is everything the owner has earned, withdrawn or not.
	EarnedTotal money.Msat
}

// Finances returns the offering's status and earned balance now.
func (s *Service) Finances(ctx context.Context, o Offering) (Finances, error) {
	_, fin, err := s.View(ctx, o.Slug)
	return fin, err
}

// View returns an offering and its finances for pages, from memory when
// it can: the offering page is read far more often than it changes.
func (s *Service) View(ctx context.Context, slug string) (Offering, Finances, error) {
	r, err := s.cached(ctx, slug)
	if err != nil {
		return Offering{}, Finances{}, err
	}
	now := s.Now()
	pending, _ := consumption(r.RunwayPosted, r.BurnRateMsatPerHour, now.Sub(r.AccruedAt))
	return r.Offering, Finances{Status: r.snapshot().StatusAt(now), Earned: r.EarnedPosted + pending, EarnedTotal: r.EarnedTotal + pending}, nil
}

// statusCache keeps status snapshots in memory. Changes made by this
// process invalidate their entry at once, and reach the other replicas'
// caches through publish (see ShareStatus); a generation counter stops a
// read that raced an invalidation from storing a stale snapshot; the TTL
// bounds how long a change whose notice was lost goes unseen.
//
// A transaction that changes an offering's runway holds its entry (hold)
// from the change until its commit has dropped it: meanwhile this process
// reads that status from the database and keeps nothing. Without the hold,
// a client who saw the commit (an invoice read as settled) could be
// answered from a snapshot taken before it, in the instant between the
// commit and the drop.
type statusCache struct {
	ttl     time.Duration
	now     func() time.Time
	publish func(slug string) // tells the other replicas; nil: one process
	mu      sync.Mutex
	m       map[string]cacheEntry
	gen     map[string]uint64
	held    map[string]cacheHold
	epoch   uint64 // bumped when everything is dropped
}

// cacheHold counts the transactions changing an offering. A transaction
// that rolls back never releases its hold, so a hold also lapses at until.
type cacheHold struct {
	n     int
	until time.Time
}

// holdFor bounds how long a rolled-back transaction's hold stops caching.
const holdFor = 10 * time.Second

type cacheEntry struct {
	row     snapshotRow
	fetched time.Time
}

func newStatusCache(ttl time.Duration) *statusCache {
	return &statusCache{ttl: ttl, now: time.Now, m: map[string]cacheEntry{}, gen: map[string]uint64{}, held: map[string]cacheHold{}}
}

func (c *statusCache) get(slug string, load func() (snapshotRow, error)) (snapshotRow, error) {
	c.mu.Lock()
	e, ok := c.m[slug]
	gen, epoch := c.gen[slug], c.epoch
	c.mu.Unlock()
	if ok && c.now().Sub(e.fetched) < c.ttl {
		return e.row, nil
	}
	row, err := load()
	if err != nil {
		return snapshotRow{}, err
	}
	c.mu.Lock()
	if c.gen[slug] == gen && c.epoch == epoch && !c.isHeld(slug) {
		if len(c.m) > 100_000 { // a crude bound against slug-guessing floods
			c.m = map[string]cacheEntry{}
		}
		c.m[slug] = cacheEntry{row: row, fetched: c.now()}
	}
	c.mu.Unlock()
	return row, nil
}

// forget drops slug's entry here and on every other replica.
func (c *statusCache) forget(slug string) {
	c.drop(slug)
	if c.publish != nil {
		c.publish(slug)
	}
}

// hold drops slug's entry and keeps it from being stored again until the
// function it returns is called (or holdFor has passed).
func (c *statusCache) hold(slug string) (release func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if len(c.held) > 1_000 { // rolled-back holds, lapsed
		for k, h := range c.held {
			if !now.Before(h.until) {
				delete(c.held, k)
			}
		}
	}
	h := c.held[slug]
	if !now.Before(h.until) {
		h.n = 0
	}
	h.n++
	h.until = now.Add(holdFor)
	c.held[slug] = h
	delete(c.m, slug)
	c.gen[slug]++
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if h := c.held[slug]; h.n > 1 {
			h.n--
			c.held[slug] = h
		} else {
			delete(c.held, slug)
		}
	}
}

// isHeld tells whether a transaction is changing slug; c.mu is held.
func (c *statusCache) isHeld(slug string) bool {
	h, ok := c.held[slug]
	return ok && c.now().Before(h.until)
}

// drop drops slug's entry in this process.
func (c *statusCache) drop(slug string) {
	c.mu.Lock()
	delete(c.m, slug)
	c.gen[slug]++
	c.mu.Unlock()
}

// clear drops every entry in this process.
func (c *statusCache) clear() {
	c.mu.Lock()
	c.m = map[string]cacheEntry{}
	c.epoch++
	c.mu.Unlock()
}

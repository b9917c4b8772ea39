// Package ledger owns the double-entry ledger: accounts, immutable
// transfers keyed for idempotency, two-phase (pending) transfers, balances
// and the check of the ledger's invariants.
//
// Balances are kept on the account rows and changed in the same database
// transaction that inserts the transfer, so a balance read is one row. A
// transfer never changes after it is written: a pending transfer is
// resolved by a second transfer that posts or voids it, and a unique
// index makes sure that happens once.
package ledger

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/ledger/internal/store"
	"github.com/keepalive/keepalive/internal/money"
)

// Kind tells what a transfer does: Posted, Pending, PostPending or
// VoidPending.
type Kind = store.Kind

const (
	Posted      = store.Posted      // moves money now
	Pending     = store.Pending     // reserves money on the debit account
	PostPending = store.PostPending // completes a pending transfer (all or part of it)
	VoidPending = store.VoidPending // releases a pending transfer
)

// Transfer is one immutable row of the ledger.
type Transfer = store.Transfer

// Account is an account with its running totals; its Balance is what has
// been posted to it, its Available that less what is reserved.
type Account = store.Account

// Entry asks for money to move from Debit to Credit.
type Entry struct {
	Key    string // unique idempotency key, e.g. "invoice:<payment_hash>"
	Debit  string // account name
	Credit string // account name
	Amount money.Msat
	Memo   string
}

var (
	// ErrInsufficientFunds means the debit account does not hold enough.
	ErrInsufficientFunds = errors.New("ledger: insufficient funds")
	// ErrKeyReused means a key was posted before with different terms.
	ErrKeyReused = errors.New("ledger: idempotency key reused with different terms")
	// ErrAlreadyResolved means a pending transfer was already posted or voided
	// under another key.
	ErrAlreadyResolved = errors.New("ledger: pending transfer already resolved")
)

// Ledger posts transfers. The zero value is not usable; call New.
type Ledger struct {
	db  *db.DB
	tx  *db.Tx // set when bound to a caller's transaction by In
	now func() time.Time

	ids *sync.Map // account name → id, only for committed accounts
}

// New returns a ledger on d; now is injectable for tests (nil means
// time.Now).
func New(d *db.DB, now func() time.Time) *Ledger {
	if now == nil {
		now = time.Now
	}
	return &Ledger{db: d, now: now, ids: &sync.Map{}}
}

// In returns the ledger bound to the caller's transaction tx, so that
// transfers commit or roll back together with the caller's other writes.
// The caller retries the transaction (db.Tx does).
func (l *Ledger) In(tx db.Tx) *Ledger {
	c := *l
	c.tx = &tx
	return &c
}

// run runs fn in the bound transaction, or in a new one with retries.
func (l *Ledger) run(ctx context.Context, fn func(tx db.Tx) error) error {
	if l.tx != nil {
		return fn(*l.tx)
	}
	return l.db.Tx(ctx, fn)
}

// conn is the bound transaction, or the pool.
func (l *Ledger) conn() store.Conn {
	if l.tx != nil {
		return *l.tx
	}
	return l.db
}

// Post moves e.Amount from e.Debit to e.Credit now. Posting a key again
// with the same terms returns the first transfer and changes nothing.
func (l *Ledger) Post(ctx context.Context, e Entry) (Transfer, error) {
	return l.write(ctx, e, Posted)
}

// Reserve creates a pending transfer: the amount stays on the debit
// account but can no longer be spent, until PostPending or VoidPending.
func (l *Ledger) Reserve(ctx context.Context, e Entry) (Transfer, error) {
	return l.write(ctx, e, Pending)
}

func (l *Ledger) write(ctx context.Context, e Entry, kind Kind) (Transfer, error) {
	if err := validate(e); err != nil {
		return Transfer{}, err
	}
	var out Transfer
	err := l.withAccounts(ctx, []string{e.Debit, e.Credit}, func(tx db.Tx, ids map[string]int64) error {
		t := Transfer{Key: e.Key, DebitAccountID: ids[e.Debit], CreditAccountID: ids[e.Credit],
			Amount: e.Amount, Kind: kind, Memo: e.Memo, CreatedAt: l.now().UTC()}
		var err error
		out, err = l.insert(ctx, tx, t, 0, counterSides{debit: allowNegative(e.Debit), credit: allowNegative(e.Credit)})
		return err
	})
	return out, err
}

// PostPending completes the pending transfer keyed pendingKey, moving
// amount (at most the reserved amount; the rest is released) under the
// new key. Resolving the same pending transfer again under the same key
// returns the first resolution.
func (l *Ledger) PostPending(ctx context.Context, key, pendingKey string, amount money.Msat) (Transfer, error) {
	return l.resolve(ctx, key, pendingKey, amount, PostPending)
}

// VoidPending releases the pending transfer keyed pendingKey.
func (l *Ledger) VoidPending(ctx context.Context, key, pendingKey string) (Transfer, error) {
	return l.resolve(ctx, key, pendingKey, -1, VoidPending)
}

func (l *Ledger) resolve(ctx context.Context, key, pendingKey string, amount money.Msat, kind Kind) (Transfer, error) {
	if key == "" || pendingKey == "" {
		return Transfer{}, apperr.New(apperr.Invalid, "a transfer needs a key")
	}
	var out Transfer
	err := l.run(ctx, func(tx db.Tx) error {
		p, err := store.TransferByKey(ctx, tx, pendingKey)
		if errors.Is(err, db.ErrNotFound) {
			return apperr.Wrap(err, apperr.NotFound, "no pending transfer %q", pendingKey)
		}
		if err != nil {
			return fmt.Errorf("ledger: find pending %s: %w", pendingKey, err)
		}
		if p.Kind != Pending {
			return apperr.New(apperr.Conflict, "transfer %q is not pending", pendingKey)
		}
		amt := amount
		if kind == VoidPending {
			amt = p.Amount
		}
		if amt < 0 || amt > p.Amount {
			return apperr.New(apperr.Invalid, "cannot post %d msat of a pending %d msat", amt, p.Amount)
		}
		accts, err := store.AccountsByID(ctx, tx, []int64{p.DebitAccountID, p.CreditAccountID})
		if err != nil {
			return err
		}
		var counter counterSides
		var totals []int64 // accounts that keep running totals: only these are locked
		for _, a := range accts {
			counter.debit = counter.debit || (a.ID == p.DebitAccountID && a.AllowNegative)
			counter.credit = counter.credit || (a.ID == p.CreditAccountID && a.AllowNegative)
			if !a.AllowNegative {
				totals = append(totals, a.ID)
			}
		}
		if err := l.lockIDs(ctx, tx, totals); err != nil {
			return err
		}
		t := Transfer{Key: key, DebitAccountID: p.DebitAccountID, CreditAccountID: p.CreditAccountID,
			Amount: amt, Kind: kind, PendingID: &p.ID, CreatedAt: l.now().UTC()}
		out, err = l.insert(ctx, tx, t, p.Amount, counter)
		return err
	})
	return out, err
}

func validate(e Entry) error {
	switch {
	case e.Key == "":
		return apperr.New(apperr.Invalid, "a transfer needs a key")
	case e.Debit == "" || e.Credit == "":
		return apperr.New(apperr.Invalid, "a transfer needs two accounts")
	case e.Debit == e.Credit:
		return apperr.New(apperr.Invalid, "a transfer needs two different accounts")
	case e.Amount <= 0:
		return apperr.New(apperr.Invalid, "a transfer amount must be positive")
	case !e.Amount.Valid():
		return apperr.New(apperr.Invalid, "a transfer amount must be at most 21 million bitcoin")
	}
	return nil
}

// insert writes t and applies it to the two accounts, unless a transfer
// with t.Key exists, in which case that one is returned when its terms
// match. pendingAmount is the reserved amount of the transfer t resolves.
func (l *Ledger) insert(ctx context.Context, tx db.Tx, t Transfer, pendingAmount money.Msat, counter counterSides) (Transfer, error) {
	if t.PendingID != nil {
		n, err := store.OtherResolutions(ctx, tx, *t.PendingID, t.Key)
		if err != nil {
			return Transfer{}, err
		}
		if n > 0 {
			return Transfer{}, apperr.Wrap(ErrAlreadyResolved, apperr.Conflict, "that payment was already settled")
		}
	}
	// One round trip in the common case: the key's uniqueness decides
	// whether this is new, and a repeat is read back only when it is one.
	id, inserted, err := store.InsertTransfer(ctx, tx, t)
	if errors.Is(err, db.ErrDuplicate) {
		// Another writer resolved the same pending transfer under
		// another key. Run the transaction again: it will see that.
		return Transfer{}, fmt.Errorf("%w: ledger: %s raced another resolution: %w", db.ErrRetry, t.Key, err)
	}
	if err != nil {
		return Transfer{}, err
	}
	if !inserted {
		existing, err := store.TransferByKey(ctx, tx, t.Key)
		if err != nil {
			return Transfer{}, err
		}
		return sameTerms(existing, t)
	}
	t.ID = id
	if err := apply(ctx, tx, t, pendingAmount, counter); err != nil {
		return Transfer{}, err
	}
	return t, nil
}

func sameTerms(existing, t Transfer) (Transfer, error) {
	if existing.DebitAccountID != t.DebitAccountID || existing.CreditAccountID != t.CreditAccountID ||
		existing.Amount != t.Amount || existing.Kind != t.Kind ||
		(existing.PendingID == nil) != (t.PendingID == nil) ||
		(existing.PendingID != nil && *existing.PendingID != *t.PendingID) {
		return Transfer{}, apperr.Wrap(ErrKeyReused, apperr.Conflict, "key %q was used for another transfer", t.Key)
	}
	return existing, nil
}

// accountIDs returns the ids of the named accounts, creating them on
// first use; ids of committed accounts are cached (they never change).
func (l *Ledger) accountIDs(ctx context.Context, names ...string) (map[string]int64, error) {
	ids, missing := l.cachedIDs(names)
	if len(missing) > 0 {
		// Outside any transaction: once this returns, the rows are
		// committed and their ids safe to cache.
		got, err := l.ensure(ctx, l.db, missing)
		if err != nil {
			return nil, err
		}
		for n, id := range got {
			ids[n] = id
			l.ids.Store(n, id)
		}
	}
	return ids, nil
}

// counterSides tells which sides of a transfer are counter accounts.
//
// The lightning account is the counterweight of the ledger: nearly every
// transfer in or out touches it. Keeping running totals on its row would
// make every settlement in the site wait for that one row lock, so a
// counter account keeps none: its totals are derived from its transfers
// when read (rarely: invariants, the operator's view). It needs no
// balance guard, being the one account allowed below zero.
type counterSides struct{ debit, credit bool }

// apply changes the two accounts' totals for t, in ascending id order so
// that concurrent transfers never deadlock. The debit's balance check sits
// in the UPDATE itself, so it holds under concurrency without a read.
func apply(ctx context.Context, tx db.Tx, t Transfer, pendingAmount money.Msat, counter counterSides) error {
	var debit, credit store.Totals
	switch t.Kind {
	case Posted:
		debit.DebitsPosted, credit.CreditsPosted = t.Amount, t.Amount
	case Pending:
		debit.DebitsPending, credit.CreditsPending = t.Amount, t.Amount
	case PostPending:
		debit.DebitsPending, debit.DebitsPosted = -pendingAmount, t.Amount
		credit.CreditsPending, credit.CreditsPosted = -pendingAmount, t.Amount
	case VoidPending:
		debit.DebitsPending, credit.CreditsPending = -pendingAmount, -pendingAmount
	}
	var guard money.Msat
	if t.Kind == Posted || t.Kind == Pending {
		// Resolutions only release what was reserved, so only new money
		// movements need the guard.
		guard = t.Amount
	}
	debitFirst := t.DebitAccountID < t.CreditAccountID
	for i := 0; i < 2; i++ {
		isDebit := (i == 0) == debitFirst
		if (isDebit && counter.debit) || (!isDebit && counter.credit) {
			continue // a counter account keeps no running totals
		}
		id, change, g := t.CreditAccountID, credit, money.Msat(0)
		if isDebit {
			id, change, g = t.DebitAccountID, debit, guard
		}
		changed, err := store.AddTotals(ctx, tx, id, change, g)
		if err != nil {
			return fmt.Errorf("ledger: apply %s: %w", t.Key, err)
		}
		if !changed {
			if isDebit {
				return apperr.Wrap(ErrInsufficientFunds, apperr.Conflict, "not enough funds for that")
			}
			return fmt.Errorf("ledger: apply %s: credit account %d not found", t.Key, t.CreditAccountID)
		}
	}
	return nil
}

// withAccounts makes sure the named accounts exist, then runs fn in a
// transaction with their ids.
func (l *Ledger) withAccounts(ctx context.Context, names []string, fn func(tx db.Tx, ids map[string]int64) error) error {
	if l.tx != nil {
		ids, err := l.idsInTx(ctx, names)
		if err != nil {
			return err
		}
		return fn(*l.tx, ids)
	}
	ids, err := l.accountIDs(ctx, names...)
	if err != nil {
		return err
	}
	return l.db.Tx(ctx, func(tx db.Tx) error { return fn(tx, ids) })
}

// ensure creates the named accounts that do not exist and returns the ids
// of all of them.
func (l *Ledger) ensure(ctx context.Context, c store.Conn, names []string) (map[string]int64, error) {
	ids, _, err := l.open(ctx, c, names, nil)
	return ids, err
}

// open is ensure whose new accounts start with the posted credits that
// credits names (PostMany inserts their transfers next); opened says
// which accounts it created so.
func (l *Ledger) open(ctx context.Context, c store.Conn, names []string, credits map[string]money.Msat) (ids map[string]int64, opened map[string]bool, err error) {
	accounts := make([]store.NewAccount, len(names))
	for i, n := range names {
		accounts[i] = store.NewAccount{Name: n, AllowNegative: allowNegative(n), Credits: credits[n]}
	}
	ids, err = store.CreateAccounts(ctx, c, l.now(), accounts)
	if err != nil {
		return nil, nil, err
	}
	opened = make(map[string]bool, len(ids))
	var existing []string
	for _, n := range names {
		if _, ok := ids[n]; ok {
			opened[n] = credits[n] != 0
		} else {
			existing = append(existing, n)
		}
	}
	if len(existing) > 0 {
		found, err := store.IDsByName(ctx, c, existing)
		if err != nil {
			return nil, nil, err
		}
		for _, n := range existing {
			if _, ok := found[n]; !ok {
				return nil, nil, fmt.Errorf("ledger: account %s was not created", n)
			}
			ids[n] = found[n]
		}
	}
	return ids, opened, nil
}

// cachedIDs splits names into those whose ids are cached (committed
// accounts) and those still to look up.
func (l *Ledger) cachedIDs(names []string) (map[string]int64, []string) {
	ids := make(map[string]int64, len(names))
	var missing []string
	for _, n := range names {
		if id, ok := l.ids.Load(n); ok {
			ids[n] = id.(int64)
		} else {
			missing = append(missing, n)
		}
	}
	return ids, missing
}

// idsInTx returns the ids of the named accounts inside the bound
// transaction: committed ones from the cache, the others made (or found)
// in the transaction and not cached, since it may still roll back.
func (l *Ledger) idsInTx(ctx context.Context, names []string) (map[string]int64, error) {
	ids, _, err := l.openInTx(ctx, names, nil)
	return ids, err
}

// openInTx is idsInTx with the accounts it creates opened with credits,
// as open does.
func (l *Ledger) openInTx(ctx context.Context, names []string, credits map[string]money.Msat) (map[string]int64, map[string]bool, error) {
	ids, missing := l.cachedIDs(names)
	if len(missing) == 0 {
		return ids, nil, nil
	}
	got, opened, err := l.open(ctx, *l.tx, missing, credits)
	if err != nil {
		return nil, nil, err
	}
	for n, id := range got {
		ids[n] = id
	}
	// Once the transaction commits these rows are safe to cache.
	l.tx.AfterCommit(func() {
		for n, id := range got {
			l.ids.Store(n, id)
		}
	})
	return ids, opened, nil
}

// Ensure creates the named accounts that do not exist yet and returns the
// ids of all of them, in the bound transaction if there is one.
func (l *Ledger) Ensure(ctx context.Context, names ...string) (map[string]int64, error) {
	if l.tx != nil {
		return l.idsInTx(ctx, names)
	}
	return l.ensure(ctx, l.db, names)
}

// Lock makes sure the named accounts exist and, on PostgreSQL, locks their
// rows in ascending id order for the rest of the bound transaction. A
// caller that will move money between several accounts in one
// transaction locks them all first, so that no two transactions wait on
// each other. Counter accounts (lightning) are not locked: they keep no
// totals, so there is nothing to guard, and every settlement of the site
// would otherwise queue on that one row.
func (l *Ledger) Lock(ctx context.Context, names ...string) error {
	if l.tx == nil {
		return errors.New("ledger: Lock needs a transaction (use In)")
	}
	ids, err := l.idsInTx(ctx, names)
	if err != nil {
		return err
	}
	list := make([]int64, 0, len(ids))
	for name, id := range ids {
		if !allowNegative(name) { // a counter account keeps no totals: nothing to guard
			list = append(list, id)
		}
	}
	return l.lockIDs(ctx, *l.tx, list)
}

// LockForKey is Lock that also returns the locked accounts (by name;
// counter accounts are neither locked nor returned) and tells whether a
// transfer keyed key exists, all in one statement: what a caller about to
// post under key reads first, a round trip instead of three.
func (l *Ledger) LockForKey(ctx context.Context, key string, names ...string) (map[string]Account, bool, error) {
	if l.tx == nil {
		return nil, false, errors.New("ledger: LockForKey needs a transaction (use In)")
	}
	ids, err := l.idsInTx(ctx, names)
	if err != nil {
		return nil, false, err
	}
	byID := make(map[int64]string, len(ids))
	list := make([]int64, 0, len(ids))
	for name, id := range ids {
		if !allowNegative(name) {
			byID[id] = name
			list = append(list, id)
		}
	}
	if len(list) == 0 {
		_, err := store.TransferByKey(ctx, *l.tx, key)
		if errors.Is(err, db.ErrNotFound) {
			return map[string]Account{}, false, nil
		}
		return map[string]Account{}, err == nil, err
	}
	accts, posted, err := store.LockedAccounts(ctx, *l.tx, list, key)
	if err != nil {
		return nil, false, err
	}
	out := make(map[string]Account, len(accts))
	for _, a := range accts {
		out[byID[a.ID]] = a
	}
	if len(out) != len(list) {
		return nil, false, fmt.Errorf("ledger: lock %v: %d of %d accounts found", names, len(out), len(list))
	}
	return out, posted, nil
}

func (l *Ledger) lockIDs(ctx context.Context, tx db.Tx, ids []int64) error {
	if l.db.Dialect != db.Postgres || len(ids) == 0 {
		return nil // SQLite transactions are immediate: the writer holds the whole file
	}
	return store.LockAccounts(ctx, tx, ids)
}

// Account returns the named account; one that was never used reads as
// empty.
func (l *Ledger) Account(ctx context.Context, name string) (Account, error) {
	c := l.conn()
	a, err := store.AccountByName(ctx, c, name)
	if errors.Is(err, db.ErrNotFound) {
		return Account{Name: name, AllowNegative: allowNegative(name)}, nil
	}
	if err != nil {
		return Account{}, err
	}
	if a.AllowNegative {
		totals, err := store.DerivedTotals(ctx, c, a.ID)
		if err != nil {
			return Account{}, err
		}
		a.DebitsPosted, a.CreditsPosted, a.DebitsPending, a.CreditsPending = totals.DebitsPosted, totals.CreditsPosted, totals.DebitsPending, totals.CreditsPending
	}
	return a, nil
}

// Balance returns the posted balance of the named account.
func (l *Ledger) Balance(ctx context.Context, name string) (money.Msat, error) {
	a, err := l.Account(ctx, name)
	return a.Balance(), err
}

// TransferByKey returns the transfer with that key.
func (l *Ledger) TransferByKey(ctx context.Context, key string) (Transfer, error) {
	return store.TransferByKey(ctx, l.conn(), key)
}

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
	"sort"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/money"
)

// Kind tells what a transfer does.
type Kind string

const (
	Posted      Kind = "posted"       // moves money now
	Pending     Kind = "pending"      // reserves money on the debit account
	PostPending Kind = "post_pending" // completes a pending transfer (all or part of it)
	VoidPending Kind = "void_pending" // releases a pending transfer
)

// Transfer is one immutable row of the ledger.
type Transfer struct {
	ID              int64      `gorm:"primaryKey"`
	Key             string     `gorm:"column:key"`
	DebitAccountID  int64      `gorm:"column:debit_account_id"`
	CreditAccountID int64      `gorm:"column:credit_account_id"`
	Amount          money.Msat `gorm:"column:amount_msat"`
	Kind            Kind       `gorm:"column:kind"`
	PendingID       *int64     `gorm:"column:pending_id"`
	Memo            string     `gorm:"column:memo"`
	CreatedAt       time.Time  `gorm:"column:created_at"`
}

func (Transfer) TableName() string { return "transfers" }

// Account is one row of the accounts table with its running totals.
type Account struct {
	ID             int64      `gorm:"primaryKey"`
	Name           string     `gorm:"column:name"`
	AllowNegative  bool       `gorm:"column:allow_negative"`
	DebitsPosted   money.Msat `gorm:"column:debits_posted"`
	CreditsPosted  money.Msat `gorm:"column:credits_posted"`
	DebitsPending  money.Msat `gorm:"column:debits_pending"`
	CreditsPending money.Msat `gorm:"column:credits_pending"`
	CreatedAt      time.Time  `gorm:"column:created_at"`
}

func (Account) TableName() string { return "accounts" }

// Balance is what has been posted to the account: credits minus debits.
func (a Account) Balance() money.Msat { return a.CreditsPosted - a.DebitsPosted }

// Available is the balance less what pending transfers have reserved.
func (a Account) Available() money.Msat { return a.Balance() - a.DebitsPending }

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
func (l *Ledger) run(ctx context.Context, fn func(tx *gorm.DB) error) error {
	if l.tx != nil {
		return fn(l.tx.Gorm(ctx))
	}
	return l.db.Tx(ctx, func(tx db.Tx) error { return fn(tx.Gorm(ctx)) })
}

// query is the bound transaction, or the pool.
func (l *Ledger) query(ctx context.Context) *gorm.DB {
	if l.tx != nil {
		return l.tx.Gorm(ctx)
	}
	return l.db.Gorm(ctx)
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
	err := l.withAccounts(ctx, []string{e.Debit, e.Credit}, func(tx *gorm.DB, ids map[string]int64) error {
		t := Transfer{Key: e.Key, DebitAccountID: ids[e.Debit], CreditAccountID: ids[e.Credit],
			Amount: e.Amount, Kind: kind, Memo: e.Memo, CreatedAt: l.now().UTC()}
		var err error
		out, err = l.insert(tx, t, 0, counterSides{debit: allowNegative(e.Debit), credit: allowNegative(e.Credit)})
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
	err := l.run(ctx, func(tx *gorm.DB) error {
		var p Transfer
		if err := tx.Where("key = ?", pendingKey).Take(&p).Error; err != nil {
			err = db.TranslateError(err)
			if errors.Is(err, db.ErrNotFound) {
				return apperr.Wrap(err, apperr.NotFound, "no pending transfer %q", pendingKey)
			}
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
		var accts []Account
		if err := tx.Select("id", "allow_negative").Where("id IN ?", []int64{p.DebitAccountID, p.CreditAccountID}).Find(&accts).Error; err != nil {
			return fmt.Errorf("ledger: accounts of %s: %w", pendingKey, err)
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
		if err := lockIDs(tx, l.db.Dialect, totals...); err != nil {
			return err
		}
		t := Transfer{Key: key, DebitAccountID: p.DebitAccountID, CreditAccountID: p.CreditAccountID,
			Amount: amt, Kind: kind, PendingID: &p.ID, CreatedAt: l.now().UTC()}
		var err error
		out, err = l.insert(tx, t, p.Amount, counter)
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
func (l *Ledger) insert(tx *gorm.DB, t Transfer, pendingAmount money.Msat, counter counterSides) (Transfer, error) {
	if t.PendingID != nil {
		var n int64
		if err := tx.Model(&Transfer{}).Where("pending_id = ? AND key <> ?", *t.PendingID, t.Key).Count(&n).Error; err != nil {
			return Transfer{}, fmt.Errorf("ledger: resolution of %s: %w", t.Key, err)
		}
		if n > 0 {
			return Transfer{}, apperr.Wrap(ErrAlreadyResolved, apperr.Conflict, "that payment was already settled")
		}
	}
	// One round trip in the common case: the key's uniqueness decides
	// whether this is new, and a repeat is read back only when it is one.
	var ids []int64
	err := tx.Raw(`INSERT INTO transfers (key, debit_account_id, credit_account_id, amount_msat, kind, pending_id, memo, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING RETURNING id`,
		t.Key, t.DebitAccountID, t.CreditAccountID, t.Amount, t.Kind, t.PendingID, t.Memo, t.CreatedAt).Scan(&ids).Error
	if err != nil {
		if errors.Is(db.TranslateError(err), db.ErrDuplicate) {
			// Another writer resolved the same pending transfer under
			// another key. Run the transaction again: it will see that.
			return Transfer{}, fmt.Errorf("%w: ledger: %s raced another resolution: %w", db.ErrRetry, t.Key, err)
		}
		return Transfer{}, fmt.Errorf("ledger: insert %s: %w", t.Key, err)
	}
	if len(ids) == 0 {
		var existing Transfer
		if err := tx.Where("key = ?", t.Key).Take(&existing).Error; err != nil {
			return Transfer{}, fmt.Errorf("ledger: look up %s: %w", t.Key, err)
		}
		return sameTerms(existing, t)
	}
	t.ID = ids[0]
	if err := apply(tx, t, pendingAmount, counter); err != nil {
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
		got, err := ensure(l.db.Gorm(ctx), l.now(), missing)
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
func apply(tx *gorm.DB, t Transfer, pendingAmount money.Msat, counter counterSides) error {
	var debitSet, creditSet string
	var debitArgs, creditArgs []any
	switch t.Kind {
	case Posted:
		debitSet, debitArgs = "debits_posted = debits_posted + ?", []any{t.Amount}
		creditSet, creditArgs = "credits_posted = credits_posted + ?", []any{t.Amount}
	case Pending:
		debitSet, debitArgs = "debits_pending = debits_pending + ?", []any{t.Amount}
		creditSet, creditArgs = "credits_pending = credits_pending + ?", []any{t.Amount}
	case PostPending:
		debitSet, debitArgs = "debits_pending = debits_pending - ?, debits_posted = debits_posted + ?", []any{pendingAmount, t.Amount}
		creditSet, creditArgs = "credits_pending = credits_pending - ?, credits_posted = credits_posted + ?", []any{pendingAmount, t.Amount}
	case VoidPending:
		debitSet, debitArgs = "debits_pending = debits_pending - ?", []any{pendingAmount}
		creditSet, creditArgs = "credits_pending = credits_pending - ?", []any{pendingAmount}
	}
	debitSQL := "UPDATE accounts SET " + debitSet + " WHERE id = ?"
	debitArgs = append(debitArgs, t.DebitAccountID)
	if t.Kind == Posted || t.Kind == Pending {
		// Resolutions only release what was reserved, so only new money
		// movements need the guard.
		debitSQL += " AND (allow_negative OR credits_posted - debits_posted - debits_pending >= ?)"
		debitArgs = append(debitArgs, t.Amount)
	}
	creditSQL := "UPDATE accounts SET " + creditSet + " WHERE id = ?"
	creditArgs = append(creditArgs, t.CreditAccountID)

	debitFirst := t.DebitAccountID < t.CreditAccountID
	for i := 0; i < 2; i++ {
		isDebit := (i == 0) == debitFirst
		if (isDebit && counter.debit) || (!isDebit && counter.credit) {
			continue // a counter account keeps no running totals
		}
		q, args := creditSQL, creditArgs
		if isDebit {
			q, args = debitSQL, debitArgs
		}
		res := tx.Exec(q, args...)
		if res.Error != nil {
			return fmt.Errorf("ledger: apply %s: %w", t.Key, res.Error)
		}
		if res.RowsAffected != 1 {
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
func (l *Ledger) withAccounts(ctx context.Context, names []string, fn func(tx *gorm.DB, ids map[string]int64) error) error {
	if l.tx != nil {
		ids, err := l.idsInTx(ctx, names)
		if err != nil {
			return err
		}
		return fn(l.tx.Gorm(ctx), ids)
	}
	ids, err := l.accountIDs(ctx, names...)
	if err != nil {
		return err
	}
	return l.db.Tx(ctx, func(tx db.Tx) error { return fn(tx.Gorm(ctx), ids) })
}

// ensure creates the named accounts that do not exist and returns the ids
// of all of them.
func ensure(q *gorm.DB, now time.Time, names []string) (map[string]int64, error) {
	for _, n := range names {
		err := q.Exec("INSERT INTO accounts (name, allow_negative, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
			n, allowNegative(n), now.UTC()).Error
		if err != nil {
			return nil, fmt.Errorf("ledger: create account %s: %w", n, err)
		}
	}
	var rows []Account
	if err := q.Select("id", "name").Where("name IN ?", names).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("ledger: account ids: %w", err)
	}
	ids := make(map[string]int64, len(rows))
	for _, r := range rows {
		ids[r.Name] = r.ID
	}
	return ids, nil
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
	ids, missing := l.cachedIDs(names)
	if len(missing) == 0 {
		return ids, nil
	}
	got, err := ensure(l.tx.Gorm(ctx), l.now(), missing)
	if err != nil {
		return nil, err
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
	return ids, nil
}

// Ensure creates the named accounts that do not exist yet and returns the
// ids of all of them, in the bound transaction if there is one.
func (l *Ledger) Ensure(ctx context.Context, names ...string) (map[string]int64, error) {
	if l.tx != nil {
		return l.idsInTx(ctx, names)
	}
	return ensure(l.db.Gorm(ctx), l.now(), names)
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
	return lockIDs(l.tx.Gorm(ctx), l.db.Dialect, list...)
}

func lockIDs(tx *gorm.DB, dialect db.Dialect, ids ...int64) error {
	if dialect != db.Postgres || len(ids) == 0 {
		return nil // SQLite transactions are immediate: the writer holds the whole file
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	var got []int64
	if err := tx.Raw("SELECT id FROM accounts WHERE id IN ? ORDER BY id FOR UPDATE", ids).Scan(&got).Error; err != nil {
		return fmt.Errorf("ledger: lock accounts: %w", err)
	}
	return nil
}

// Account returns the named account; one that was never used reads as
// empty.
func (l *Ledger) Account(ctx context.Context, name string) (Account, error) {
	q := l.query(ctx)
	var a Account
	err := q.Where("name = ?", name).Take(&a).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Account{Name: name, AllowNegative: allowNegative(name)}, nil
	}
	if err != nil {
		return Account{}, fmt.Errorf("ledger: account %s: %w", name, err)
	}
	if a.AllowNegative {
		totals, err := derivedTotals(q, a.ID)
		if err != nil {
			return Account{}, err
		}
		a.DebitsPosted, a.CreditsPosted, a.DebitsPending, a.CreditsPending = totals.dp, totals.cp, totals.dpend, totals.cpend
	}
	return a, nil
}

type totals struct{ dp, cp, dpend, cpend money.Msat }

// derivedTotals sums an account's transfers: how a counter account's
// totals are read.
func derivedTotals(q *gorm.DB, id int64) (totals, error) {
	var row struct {
		DP, CP, DPend, CPend int64
	}
	err := q.Raw(`SELECT
		COALESCE(SUM(CASE WHEN t.debit_account_id = ? AND t.kind IN ('posted', 'post_pending') THEN t.amount_msat ELSE 0 END), 0) AS dp,
		COALESCE(SUM(CASE WHEN t.credit_account_id = ? AND t.kind IN ('posted', 'post_pending') THEN t.amount_msat ELSE 0 END), 0) AS cp,
		COALESCE(SUM(CASE WHEN t.debit_account_id = ? AND t.kind = 'pending' AND r.id IS NULL THEN t.amount_msat ELSE 0 END), 0) AS d_pend,
		COALESCE(SUM(CASE WHEN t.credit_account_id = ? AND t.kind = 'pending' AND r.id IS NULL THEN t.amount_msat ELSE 0 END), 0) AS c_pend
		FROM transfers t LEFT JOIN transfers r ON r.pending_id = t.id
		WHERE t.debit_account_id = ? OR t.credit_account_id = ?`, id, id, id, id, id, id).Scan(&row).Error
	if err != nil {
		return totals{}, fmt.Errorf("ledger: totals of account %d: %w", id, err)
	}
	return totals{money.Msat(row.DP), money.Msat(row.CP), money.Msat(row.DPend), money.Msat(row.CPend)}, nil
}

// Balance returns the posted balance of the named account.
func (l *Ledger) Balance(ctx context.Context, name string) (money.Msat, error) {
	a, err := l.Account(ctx, name)
	return a.Balance(), err
}

// TransferByKey returns the transfer with that key.
func (l *Ledger) TransferByKey(ctx context.Context, key string) (Transfer, error) {
	q := l.query(ctx)
	var t Transfer
	if err := q.Where("key = ?", key).Take(&t).Error; err != nil {
		return Transfer{}, db.TranslateError(err)
	}
	return t, nil
}

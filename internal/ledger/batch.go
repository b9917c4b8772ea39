package ledger

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/money"
)

// batchRows bounds the rows of one multi-row statement: 7 parameters a
// transfer stays under SQLite's and PostgreSQL's parameter limits.
const batchRows = 1000

// PostMany posts many entries in the bound transaction (or a new one)
// with a handful of statements whatever their number: the accounts are
// made in bulk, the transfers inserted in multi-row INSERTs, and each
// account's totals changed once. It is how a revenue event pays ten
// thousand investors. Keys must differ; an entry whose key was posted
// before with the same terms changes nothing, as with Post. Overdrawing
// any debit account fails the whole call.
func (l *Ledger) PostMany(ctx context.Context, entries []Entry) error {
	if len(entries) == 0 {
		return nil
	}
	seen := make(map[string]bool, len(entries))
	names := map[string]bool{}
	for _, e := range entries {
		if err := validate(e); err != nil {
			return err
		}
		if seen[e.Key] {
			return apperr.New(apperr.Invalid, "key %q appears twice in one batch", e.Key)
		}
		seen[e.Key] = true
		names[e.Debit], names[e.Credit] = true, true
	}
	list := make([]string, 0, len(names))
	for n := range names {
		list = append(list, n)
	}
	sort.Strings(list)
	post := func(t db.Tx) error {
		tx := t.Gorm(ctx)
		ids, opened, err := l.In(t).ensureMany(ctx, list, onlyCredited(entries))
		if err != nil {
			return err
		}
		now := l.now().UTC()
		inserted, err := l.insertPosted(ctx, tx, entries, ids, now)
		if err != nil {
			return err
		}
		debits, credits := map[int64]money.Msat{}, map[int64]money.Msat{}
		for _, e := range entries {
			if !inserted[e.Key] {
				if err := l.checkRepeat(tx, e, ids); err != nil {
					return err
				}
				continue
			}
			if !allowNegative(e.Debit) {
				debits[ids[e.Debit]] += e.Amount
			}
			if !allowNegative(e.Credit) && !opened[e.Credit] {
				credits[ids[e.Credit]] += e.Amount
			}
		}
		if err := l.addTotals(ctx, tx, "credits_posted", credits, false); err != nil {
			return err
		}
		return l.addTotals(ctx, tx, "debits_posted", debits, true)
	}
	if l.tx != nil {
		return post(*l.tx)
	}
	return l.db.Tx(ctx, post)
}

// onlyCredited sums what entries credit to each account they never
// debit: such an account, if the batch creates it, is created with those
// credits already counted (on PostgreSQL), which saves updating it again.
// Should any of its entries not be inserted after all (a key posted
// before), that entry names another account and the batch fails.
func onlyCredited(entries []Entry) map[string]money.Msat {
	out := map[string]money.Msat{}
	for _, e := range entries {
		if !allowNegative(e.Credit) {
			out[e.Credit] += e.Amount
		}
	}
	for _, e := range entries {
		delete(out, e.Debit)
	}
	return out
}

// insertPosted inserts entries as posted transfers, in multi-row INSERTs
// (one over arrays on PostgreSQL), and returns the keys it inserted.
func (l *Ledger) insertPosted(ctx context.Context, tx *gorm.DB, entries []Entry, ids map[string]int64, now time.Time) (map[string]bool, error) {
	if l.db.Dialect == db.Postgres {
		return insertPostedPG(ctx, tx, entries, ids, now)
	}
	inserted := map[string]bool{}
	for start := 0; start < len(entries); start += batchRows {
		chunk := entries[start:min(start+batchRows, len(entries))]
		var sb strings.Builder
		sb.WriteString("INSERT INTO transfers (key, debit_account_id, credit_account_id, amount_msat, kind, memo, created_at) VALUES ")
		args := make([]any, 0, len(chunk)*7)
		for i, e := range chunk {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(?, ?, ?, ?, ?, ?, ?)")
			args = append(args, e.Key, ids[e.Debit], ids[e.Credit], e.Amount, Posted, e.Memo, now)
		}
		sb.WriteString(" ON CONFLICT (key) DO NOTHING RETURNING key")
		var keys []string
		if err := tx.Raw(sb.String(), args...).Scan(&keys).Error; err != nil {
			return nil, fmt.Errorf("ledger: insert %d transfers: %w", len(chunk), err)
		}
		for _, k := range keys {
			inserted[k] = true
		}
	}
	return inserted, nil
}

// checkRepeat makes sure an entry posted before had the same terms.
func (l *Ledger) checkRepeat(tx *gorm.DB, e Entry, ids map[string]int64) error {
	var existing Transfer
	if err := tx.Where("key = ?", e.Key).Take(&existing).Error; err != nil {
		return fmt.Errorf("ledger: look up %s: %w", e.Key, err)
	}
	_, err := sameTerms(existing, Transfer{Key: e.Key, DebitAccountID: ids[e.Debit], CreditAccountID: ids[e.Credit],
		Amount: e.Amount, Kind: Posted})
	return err
}

// addTotals adds amounts to one total column of many accounts, one
// statement per batchRows accounts; guarded, a debit may not overdraw.
func (l *Ledger) addTotals(ctx context.Context, tx *gorm.DB, column string, amounts map[int64]money.Msat, guarded bool) error {
	ids := make([]int64, 0, len(amounts))
	for id := range amounts {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] }) // a stable order of row locks
	if l.db.Dialect == db.Postgres && len(ids) > 0 {
		n, err := addTotalsPG(ctx, tx, column, ids, amounts, guarded)
		if err != nil {
			return fmt.Errorf("ledger: add to %s of %d accounts: %w", column, len(ids), err)
		}
		return totalsChanged(column, n, len(ids), guarded)
	}
	for start := 0; start < len(ids); start += batchRows {
		chunk := ids[start:min(start+batchRows, len(ids))]
		var sb strings.Builder
		sb.WriteString("UPDATE accounts SET " + column + " = accounts." + column + " + v.column2 FROM (VALUES ")
		args := make([]any, 0, 2*len(chunk))
		for i, id := range chunk {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(CAST(? AS BIGINT), CAST(? AS BIGINT))")
			args = append(args, id, int64(amounts[id]))
		}
		sb.WriteString(") AS v WHERE accounts.id = v.column1")
		if guarded {
			sb.WriteString(" AND (accounts.allow_negative OR accounts.credits_posted - accounts.debits_posted - accounts.debits_pending >= v.column2)")
		}
		res := tx.Exec(sb.String(), args...)
		if res.Error != nil {
			return fmt.Errorf("ledger: add to %s of %d accounts: %w", column, len(chunk), res.Error)
		}
		if err := totalsChanged(column, res.RowsAffected, len(chunk), guarded); err != nil {
			return err
		}
	}
	return nil
}

// totalsChanged checks that a totals update changed every account it was
// for: a guarded one that changed fewer would have overdrawn.
func totalsChanged(column string, changed int64, want int, guarded bool) error {
	switch {
	case changed == int64(want):
		return nil
	case guarded:
		return apperr.Wrap(ErrInsufficientFunds, apperr.Conflict, "not enough funds for that")
	default:
		return fmt.Errorf("ledger: add to %s: %d of %d accounts found", column, changed, want)
	}
}

// ensureMany is Ensure for many names, with multi-row statements. On
// PostgreSQL an account it creates starts with the credits that credited
// names (onlyCredited), and opened says which it created so.
func (l *Ledger) ensureMany(ctx context.Context, names []string, credited map[string]money.Msat) (ids map[string]int64, opened map[string]bool, err error) {
	ids, missing := l.cachedIDs(names)
	if len(missing) == 0 {
		return ids, nil, nil
	}
	q := l.tx.Gorm(ctx)
	now := l.now().UTC()
	var got map[string]int64
	if l.db.Dialect == db.Postgres {
		got, opened, err = createAccountsPG(ctx, q, missing, credited, now)
	} else {
		got, err = createAccounts(ctx, q, missing, now)
	}
	if err != nil {
		return nil, nil, err
	}
	for _, n := range missing {
		if _, ok := got[n]; !ok {
			return nil, nil, fmt.Errorf("ledger: account %s was not created", n)
		}
		ids[n] = got[n]
	}
	l.tx.AfterCommit(func() { // only committed ids are cached
		for n, id := range got {
			l.ids.Store(n, id)
		}
	})
	return ids, opened, nil
}

// createAccounts creates the accounts not there yet and returns the ids
// of all of names, with multi-row statements.
func createAccounts(ctx context.Context, q *gorm.DB, names []string, now time.Time) (map[string]int64, error) {
	got := map[string]int64{}
	for start := 0; start < len(names); start += batchRows {
		chunk := names[start:min(start+batchRows, len(names))]
		var sb strings.Builder
		sb.WriteString("INSERT INTO accounts (name, allow_negative, created_at) VALUES ")
		args := make([]any, 0, 3*len(chunk))
		for i, n := range chunk {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(?, ?, ?)")
			args = append(args, n, allowNegative(n), now)
		}
		sb.WriteString(" ON CONFLICT (name) DO NOTHING")
		if err := q.Exec(sb.String(), args...).Error; err != nil {
			return nil, fmt.Errorf("ledger: create %d accounts: %w", len(chunk), err)
		}
		var rows []Account
		if err := q.Select("id", "name").Where("name IN ?", chunk).Find(&rows).Error; err != nil {
			return nil, fmt.Errorf("ledger: account ids: %w", err)
		}
		for _, r := range rows {
			got[r.Name] = r.ID
		}
	}
	return got, nil
}

// TransfersWithPrefix returns the transfers whose keys start with prefix,
// oldest first: the parts of one batch keyed <event>/… (a revenue event
// read back when it is posted again).
func (l *Ledger) TransfersWithPrefix(ctx context.Context, prefix string) ([]Transfer, error) {
	var out []Transfer
	pattern := strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(prefix) + "%"
	if err := l.query(ctx).Where(`key LIKE ? ESCAPE '\'`, pattern).Order("id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("ledger: transfers %s…: %w", prefix, err)
	}
	return out, nil
}

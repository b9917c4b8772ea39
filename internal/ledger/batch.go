package ledger

import (
	"context"
	"fmt"
	"sort"
	"strings"

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
		ids, err := l.In(t).ensureMany(ctx, list)
		if err != nil {
			return err
		}
		inserted := map[string]bool{}
		now := l.now().UTC()
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
				return fmt.Errorf("ledger: insert %d transfers: %w", len(chunk), err)
			}
			for _, k := range keys {
				inserted[k] = true
			}
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
			if !allowNegative(e.Credit) {
				credits[ids[e.Credit]] += e.Amount
			}
		}
		if err := addTotals(tx, "credits_posted", credits, false); err != nil {
			return err
		}
		return addTotals(tx, "debits_posted", debits, true)
	}
	if l.tx != nil {
		return post(*l.tx)
	}
	return l.db.Tx(ctx, post)
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
func addTotals(tx *gorm.DB, column string, amounts map[int64]money.Msat, guarded bool) error {
	ids := make([]int64, 0, len(amounts))
	for id := range amounts {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] }) // a stable order of row locks
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
		if res.RowsAffected != int64(len(chunk)) {
			if guarded {
				return apperr.Wrap(ErrInsufficientFunds, apperr.Conflict, "not enough funds for that")
			}
			return fmt.Errorf("ledger: add to %s: %d of %d accounts found", column, res.RowsAffected, len(chunk))
		}
	}
	return nil
}

// ensureMany is Ensure for many names, with multi-row statements.
func (l *Ledger) ensureMany(ctx context.Context, names []string) (map[string]int64, error) {
	ids, missing := l.cachedIDs(names)
	if len(missing) == 0 {
		return ids, nil
	}
	q := l.tx.Gorm(ctx)
	now := l.now().UTC()
	got := map[string]int64{}
	for start := 0; start < len(missing); start += batchRows {
		chunk := missing[start:min(start+batchRows, len(missing))]
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
	for _, n := range missing {
		if _, ok := got[n]; !ok {
			return nil, fmt.Errorf("ledger: account %s was not created", n)
		}
		ids[n] = got[n]
	}
	l.tx.AfterCommit(func() { // only committed ids are cached
		for n, id := range got {
			l.ids.Store(n, id)
		}
	})
	return ids, nil
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

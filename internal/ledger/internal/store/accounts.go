package store

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/keepalive/keepalive/internal/money"
)

// NewAccount is an account to create.
type NewAccount struct {
	Name          string
	AllowNegative bool
	// Credits are posted credits the account starts with: the transfers
	// that make them are inserted in the same transaction.
	Credits money.Msat
}

// CreateAccounts inserts the accounts that do not exist yet and returns
// the ids of those it inserted; the others are left as they are. It
// inserts in name order so that two callers creating the same accounts
// never wait on each other in a circle: on PostgreSQL in one statement
// over arrays, on SQLite a multi-row statement per BatchRows accounts.
func CreateAccounts(ctx context.Context, c Conn, now time.Time, accounts []NewAccount) (map[string]int64, error) {
	sorted := append([]NewAccount(nil), accounts...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	created := make(map[string]int64, len(sorted))
	if isPostgres(ctx, c) {
		names, negative, credits := make([]string, len(sorted)), make([]bool, len(sorted)), make([]int64, len(sorted))
		for i, a := range sorted {
			names[i], negative[i], credits[i] = a.Name, a.AllowNegative, int64(a.Credits)
		}
		err := scanArrays(ctx, c, func(rows *sql.Rows) error {
			var id int64
			var name string
			err := rows.Scan(&id, &name)
			created[name] = id
			return err
		}, `INSERT INTO accounts (name, allow_negative, credits_posted, created_at)
			SELECT n, neg, cp, $4 FROM unnest($1::text[], $2::boolean[], $3::bigint[]) WITH ORDINALITY AS u(n, neg, cp, i) ORDER BY i
			ON CONFLICT (name) DO NOTHING RETURNING id, name`, names, negative, credits, now.UTC())
		if err != nil {
			return nil, fmt.Errorf("ledger: create %d accounts: %w", len(sorted), err)
		}
		return created, nil
	}
	for start := 0; start < len(sorted); start += BatchRows {
		chunk := sorted[start:min(start+BatchRows, len(sorted))]
		var sb strings.Builder
		sb.WriteString("INSERT INTO accounts (name, allow_negative, credits_posted, created_at) VALUES ")
		args := make([]any, 0, 4*len(chunk))
		for i, a := range chunk {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(?, ?, ?, ?)")
			args = append(args, a.Name, a.AllowNegative, a.Credits, now.UTC())
		}
		sb.WriteString(" ON CONFLICT (name) DO NOTHING RETURNING id, name")
		var rows []Account
		if err := scan(ctx, c, &rows, sb.String(), args...); err != nil {
			return nil, fmt.Errorf("ledger: create %d accounts: %w", len(chunk), err)
		}
		for _, r := range rows {
			created[r.Name] = r.ID
		}
	}
	return created, nil
}

// IDsByName returns the ids of those of the named accounts that exist.
func IDsByName(ctx context.Context, c Conn, names []string) (map[string]int64, error) {
	ids := make(map[string]int64, len(names))
	for start := 0; start < len(names); start += BatchRows {
		chunk := names[start:min(start+BatchRows, len(names))]
		var rows []Account
		if err := scan(ctx, c, &rows, "SELECT id, name FROM accounts WHERE name IN ?", chunk); err != nil {
			return nil, fmt.Errorf("ledger: account ids: %w", err)
		}
		for _, r := range rows {
			ids[r.Name] = r.ID
		}
	}
	return ids, nil
}

// AccountByName returns the named account, db.ErrNotFound if it was
// never used.
func AccountByName(ctx context.Context, c Conn, name string) (Account, error) {
	var a Account
	if err := scanOne(ctx, c, &a, "SELECT "+accountColumns+" FROM accounts WHERE name = ?", name); err != nil {
		return Account{}, fmt.Errorf("ledger: account %s: %w", name, err)
	}
	return a, nil
}

// AccountsByID returns the accounts with those ids.
func AccountsByID(ctx context.Context, c Conn, ids []int64) ([]Account, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var rows []Account
	if err := scan(ctx, c, &rows, "SELECT "+accountColumns+" FROM accounts WHERE id IN ?", ids); err != nil {
		return nil, fmt.Errorf("ledger: accounts %v: %w", ids, err)
	}
	return rows, nil
}

// AllAccounts returns every account, by id: for checks, not pages.
func AllAccounts(ctx context.Context, c Conn) ([]Account, error) {
	var rows []Account
	if err := scan(ctx, c, &rows, "SELECT "+accountColumns+" FROM accounts ORDER BY id"); err != nil {
		return nil, fmt.Errorf("ledger: accounts: %w", err)
	}
	return rows, nil
}

// LockAccounts locks the rows of the accounts with those ids, in id
// order, until the transaction c ends (PostgreSQL; SQLite's immediate
// transactions hold the whole file already).
func LockAccounts(ctx context.Context, c Conn, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	var got []int64
	if err := scan(ctx, c, &got, "SELECT id FROM accounts WHERE id IN ? ORDER BY id FOR UPDATE", ids); err != nil {
		return fmt.Errorf("ledger: lock accounts: %w", err)
	}
	return nil
}

// Totals are the four running totals of an account.
type Totals struct {
	DebitsPosted, CreditsPosted, DebitsPending, CreditsPending money.Msat
}

// AddTotals adds change to the totals of one account. With guard > 0 the
// account (unless allowed below zero) must keep guard available before
// the change, checked in the UPDATE itself so that it holds under
// concurrency without a read. It reports whether the row was changed.
func AddTotals(ctx context.Context, c Conn, id int64, change Totals, guard money.Msat) (bool, error) {
	q := `UPDATE accounts SET debits_posted = debits_posted + ?, credits_posted = credits_posted + ?,
		debits_pending = debits_pending + ?, credits_pending = credits_pending + ? WHERE id = ?`
	args := []any{change.DebitsPosted, change.CreditsPosted, change.DebitsPending, change.CreditsPending, id}
	if guard > 0 {
		q += " AND (allow_negative OR credits_posted - debits_posted - debits_pending >= ?)"
		args = append(args, guard)
	}
	n, err := exec(ctx, c, q, args...)
	if err != nil {
		return false, fmt.Errorf("ledger: change totals of account %d: %w", id, err)
	}
	return n == 1, nil
}

// PostedColumn names one of the two posted totals.
type PostedColumn string

const (
	DebitsPosted  PostedColumn = "debits_posted"
	CreditsPosted PostedColumn = "credits_posted"
)

// AddPosted adds amounts to one posted total of many accounts, one
// statement per BatchRows accounts, in id order (a stable order of row
// locks). Guarded, a debit may not overdraw an account that is not
// allowed below zero. It returns how many accounts were changed.
func AddPosted(ctx context.Context, c Conn, column PostedColumn, amounts map[int64]money.Msat, guarded bool) (int64, error) {
	if column != DebitsPosted && column != CreditsPosted {
		return 0, fmt.Errorf("ledger: no posted total %q", column)
	}
	ids := make([]int64, 0, len(amounts))
	for id := range amounts {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	guard := func(amount string) string {
		if !guarded {
			return ""
		}
		return " AND (accounts.allow_negative OR accounts.credits_posted - accounts.debits_posted - accounts.debits_pending >= " + amount + ")"
	}
	if isPostgres(ctx, c) && len(ids) > 0 {
		values := make([]int64, len(ids))
		for i, id := range ids {
			values[i] = int64(amounts[id])
		}
		n, err := execArrays(ctx, c, "UPDATE accounts SET "+string(column)+" = accounts."+string(column)+" + v.amount"+
			" FROM unnest($1::bigint[], $2::bigint[]) AS v(id, amount) WHERE accounts.id = v.id"+guard("v.amount"), ids, values)
		if err != nil {
			return 0, fmt.Errorf("ledger: add to %s of %d accounts: %w", column, len(ids), err)
		}
		return n, nil
	}
	var changed int64
	for start := 0; start < len(ids); start += BatchRows {
		chunk := ids[start:min(start+BatchRows, len(ids))]
		var sb strings.Builder
		sb.WriteString("UPDATE accounts SET " + string(column) + " = accounts." + string(column) + " + v.column2 FROM (VALUES ")
		args := make([]any, 0, 2*len(chunk))
		for i, id := range chunk {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(CAST(? AS BIGINT), CAST(? AS BIGINT))")
			args = append(args, id, int64(amounts[id]))
		}
		sb.WriteString(") AS v WHERE accounts.id = v.column1" + guard("v.column2"))
		n, err := exec(ctx, c, sb.String(), args...)
		if err != nil {
			return changed, fmt.Errorf("ledger: add to %s of %d accounts: %w", column, len(chunk), err)
		}
		changed += n
		if n != int64(len(chunk)) {
			break // the caller reports it; the rest would be rolled back
		}
	}
	return changed, nil
}

// DerivedTotals sums an account's transfers: how a counter account's
// totals are read, since it keeps none on its row.
func DerivedTotals(ctx context.Context, c Conn, id int64) (Totals, error) {
	var row struct {
		DP, CP, DPend, CPend int64
	}
	err := scan(ctx, c, &row, `SELECT
		COALESCE(SUM(CASE WHEN t.debit_account_id = ? AND t.kind IN ('posted', 'post_pending') THEN t.amount_msat ELSE 0 END), 0) AS dp,
		COALESCE(SUM(CASE WHEN t.credit_account_id = ? AND t.kind IN ('posted', 'post_pending') THEN t.amount_msat ELSE 0 END), 0) AS cp,
		COALESCE(SUM(CASE WHEN t.debit_account_id = ? AND t.kind = 'pending' AND r.id IS NULL THEN t.amount_msat ELSE 0 END), 0) AS d_pend,
		COALESCE(SUM(CASE WHEN t.credit_account_id = ? AND t.kind = 'pending' AND r.id IS NULL THEN t.amount_msat ELSE 0 END), 0) AS c_pend
		FROM transfers t LEFT JOIN transfers r ON r.pending_id = t.id
		WHERE t.debit_account_id = ? OR t.credit_account_id = ?`, id, id, id, id, id, id)
	if err != nil {
		return Totals{}, fmt.Errorf("ledger: totals of account %d: %w", id, err)
	}
	return Totals{money.Msat(row.DP), money.Msat(row.CP), money.Msat(row.DPend), money.Msat(row.CPend)}, nil
}

// addPostedTotals adds credits and debits to the posted totals of many
// accounts (credits first, then debits, on SQLite); a debit may not
// overdraw an account that is not allowed below zero. It returns the ids
// of the accounts it changed; after an overdraft the debited accounts
// read as unchanged, the caller tells it and the transaction rolls back.
func addPostedTotals(ctx context.Context, c Conn, credits, debits map[int64]money.Msat) (map[int64]bool, error) {
	changed := map[int64]bool{}
	for _, step := range []struct {
		column  PostedColumn
		amounts map[int64]money.Msat
	}{{CreditsPosted, credits}, {DebitsPosted, debits}} {
		n, err := AddPosted(ctx, c, step.column, step.amounts, step.column == DebitsPosted)
		if err != nil {
			return nil, err
		}
		if n != int64(len(step.amounts)) && step.column == CreditsPosted {
			return nil, fmt.Errorf("ledger: %d of %d credited accounts found", n, len(step.amounts))
		}
		if n != int64(len(step.amounts)) {
			for id := range step.amounts {
				delete(changed, id)
			}
			return changed, nil
		}
		for id := range step.amounts {
			changed[id] = true
		}
	}
	return changed, nil
}

// LockedAccounts locks the accounts with those ids (in id order, on
// PostgreSQL) and returns them, and tells whether a transfer with key
// exists, in one statement: what a caller about to post under key reads
// first.
func LockedAccounts(ctx context.Context, c Conn, ids []int64, key string) ([]Account, bool, error) {
	lock := ""
	if isPostgres(ctx, c) {
		lock = " FOR UPDATE OF accounts"
	}
	var rows []struct {
		Account
		KeyPosted bool
	}
	if err := scan(ctx, c, &rows, "SELECT "+accountColumns+", EXISTS (SELECT 1 FROM transfers WHERE key = ?) AS key_posted"+
		" FROM accounts WHERE id IN ? ORDER BY id"+lock, key, ids); err != nil {
		return nil, false, fmt.Errorf("ledger: lock accounts %v: %w", ids, err)
	}
	out := make([]Account, len(rows))
	posted := false
	for i, r := range rows {
		out[i], posted = r.Account, r.KeyPosted
	}
	return out, posted, nil
}

package ledger

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/keepalive/keepalive/internal/money"
)

// On PostgreSQL PostMany's bulk steps are each one statement over arrays
// (unnest), whatever the number of rows: ten thousand rows cost five
// parameters, not seventy thousand placeholders that the client spells
// out and the server parses and plans ten times over (clearing a
// 10,000-bid period, docs/benchmarks.md). They go straight to the
// transaction's connection: pgx sends a Go slice as a PostgreSQL array,
// where GORM would expand it into a list.

// createAccountsPG creates the accounts not there yet, each with the
// credits credited names, and returns the ids of all of names and which of
// them it created.
func createAccountsPG(ctx context.Context, tx *gorm.DB, names []string, credited map[string]money.Msat, now time.Time) (map[string]int64, map[string]bool, error) {
	negative, credits := make([]bool, len(names)), make([]int64, len(names))
	for i, n := range names {
		negative[i], credits[i] = allowNegative(n), int64(credited[n])
	}
	ids := make(map[string]int64, len(names))
	collect := func(q string, args ...any) error {
		rows, err := tx.Statement.ConnPool.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			var name string
			if err := rows.Scan(&id, &name); err != nil {
				return err
			}
			ids[name] = id
		}
		return rows.Err()
	}
	err := collect(`INSERT INTO accounts (name, allow_negative, credits_posted, created_at)
		SELECT n, neg, c, $4 FROM unnest($1::text[], $2::boolean[], $3::bigint[]) AS u(n, neg, c)
		ON CONFLICT (name) DO NOTHING RETURNING id, name`, names, negative, credits, now)
	if err != nil {
		return nil, nil, fmt.Errorf("ledger: create %d accounts: %w", len(names), err)
	}
	opened := make(map[string]bool, len(ids))
	for n := range ids {
		opened[n] = credited[n] > 0
	}
	if len(ids) == len(names) {
		return ids, opened, nil
	}
	existing := make([]string, 0, len(names)-len(ids))
	for _, n := range names {
		if _, ok := ids[n]; !ok {
			existing = append(existing, n)
		}
	}
	if err := collect(`SELECT id, name FROM accounts WHERE name = ANY($1::text[])`, existing); err != nil {
		return nil, nil, fmt.Errorf("ledger: account ids: %w", err)
	}
	return ids, opened, nil
}

// insertPostedPG inserts entries as posted transfers and returns the keys
// it inserted (a key posted before is left as it is).
func insertPostedPG(ctx context.Context, tx *gorm.DB, entries []Entry, ids map[string]int64, now time.Time) (map[string]bool, error) {
	keys, memos := make([]string, len(entries)), make([]string, len(entries))
	debits, credits, amounts := make([]int64, len(entries)), make([]int64, len(entries)), make([]int64, len(entries))
	for i, e := range entries {
		keys[i], memos[i] = e.Key, e.Memo
		debits[i], credits[i], amounts[i] = ids[e.Debit], ids[e.Credit], int64(e.Amount)
	}
	rows, err := tx.Statement.ConnPool.QueryContext(ctx, `INSERT INTO transfers (key, debit_account_id, credit_account_id, amount_msat, kind, memo, created_at)
		SELECT k, d, c, a, $6, m, $7 FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[]) AS u(k, d, c, a, m)
		ON CONFLICT (key) DO NOTHING RETURNING key`, keys, debits, credits, amounts, memos, string(Posted), now)
	if err != nil {
		return nil, fmt.Errorf("ledger: insert %d transfers: %w", len(entries), err)
	}
	defer rows.Close()
	inserted := make(map[string]bool, len(entries))
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		inserted[k] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ledger: insert %d transfers: %w", len(entries), err)
	}
	return inserted, nil
}

// addTotalsPG is addTotals in one statement; it returns how many accounts
// it changed (fewer than asked when a guarded debit would overdraw).
func addTotalsPG(ctx context.Context, tx *gorm.DB, column string, ids []int64, amounts map[int64]money.Msat, guarded bool) (int64, error) {
	values := make([]int64, len(ids))
	for i, id := range ids {
		values[i] = int64(amounts[id])
	}
	q := "UPDATE accounts SET " + column + " = accounts." + column + " + v.amount FROM unnest($1::bigint[], $2::bigint[]) AS v(id, amount) WHERE accounts.id = v.id"
	if guarded {
		q += " AND (accounts.allow_negative OR accounts.credits_posted - accounts.debits_posted - accounts.debits_pending >= v.amount)"
	}
	res, err := tx.Statement.ConnPool.ExecContext(ctx, q, ids, values)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

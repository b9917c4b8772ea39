package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/keepalive/keepalive/internal/money"
)

// InsertTransfer writes t unless a transfer with its key exists, and
// returns the new id, or inserted false for a repeated key. A clash on
// another unique index (a pending transfer resolved twice) is
// db.ErrDuplicate.
func InsertTransfer(ctx context.Context, c Conn, t Transfer) (id int64, inserted bool, err error) {
	var ids []int64
	err = scan(ctx, c, &ids, `INSERT INTO transfers (key, debit_account_id, credit_account_id, amount_msat, kind, pending_id, memo, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING RETURNING id`,
		t.Key, t.DebitAccountID, t.CreditAccountID, t.Amount, t.Kind, t.PendingID, t.Memo, t.CreatedAt)
	if err != nil {
		return 0, false, fmt.Errorf("ledger: insert %s: %w", t.Key, err)
	}
	if len(ids) == 0 {
		return 0, false, nil
	}
	return ids[0], true, nil
}

// insertPosted writes posted transfers, skipping keys that exist, and
// returns the ids of those it inserted, by key, a multi-row statement per
// BatchRows transfers: PostWithTotals on SQLite.
func insertPosted(ctx context.Context, c Conn, rows []Transfer) (map[string]int64, error) {
	inserted := make(map[string]int64, len(rows))
	for start := 0; start < len(rows); start += BatchRows {
		chunk := rows[start:min(start+BatchRows, len(rows))]
		var sb strings.Builder
		sb.WriteString("INSERT INTO transfers (key, debit_account_id, credit_account_id, amount_msat, kind, memo, created_at) VALUES ")
		args := make([]any, 0, len(chunk)*7)
		for i, t := range chunk {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(?, ?, ?, ?, ?, ?, ?)")
			args = append(args, t.Key, t.DebitAccountID, t.CreditAccountID, t.Amount, Posted, t.Memo, t.CreatedAt)
		}
		sb.WriteString(" ON CONFLICT (key) DO NOTHING RETURNING id, key")
		var got []Transfer
		if err := scan(ctx, c, &got, sb.String(), args...); err != nil {
			return nil, fmt.Errorf("ledger: insert %d transfers: %w", len(chunk), err)
		}
		for _, t := range got {
			inserted[t.Key] = t.ID
		}
	}
	return inserted, nil
}

// TransferByKey returns the transfer with that key, db.ErrNotFound if
// there is none.
func TransferByKey(ctx context.Context, c Conn, key string) (Transfer, error) {
	var t Transfer
	if err := scanOne(ctx, c, &t, "SELECT "+transferColumns+" FROM transfers WHERE key = ?", key); err != nil {
		return Transfer{}, fmt.Errorf("ledger: transfer %s: %w", key, err)
	}
	return t, nil
}

// OtherResolutions counts the transfers that resolve the pending transfer
// pendingID under a key other than key.
func OtherResolutions(ctx context.Context, c Conn, pendingID int64, key string) (int64, error) {
	var n int64
	if err := scan(ctx, c, &n, "SELECT COUNT(*) FROM transfers WHERE pending_id = ? AND key <> ?", pendingID, key); err != nil {
		return 0, fmt.Errorf("ledger: resolutions of %d: %w", pendingID, err)
	}
	return n, nil
}

// TransfersWithPrefix returns the transfers whose keys start with prefix,
// oldest first.
//
// The prefix is read as a range of keys, key >= prefix AND key < its
// successor, which the unique index on key serves: keys compare byte by
// byte (SQLite's default; the C collation on PostgreSQL, migration 00013).
func TransfersWithPrefix(ctx context.Context, c Conn, prefix string) ([]Transfer, error) {
	var out []Transfer
	q, args := "SELECT "+transferColumns+" FROM transfers WHERE key >= ?", []any{prefix}
	if end, ok := prefixEnd(prefix); ok {
		q, args = q+" AND key < ?", append(args, end)
	}
	if err := scan(ctx, c, &out, q+" ORDER BY id", args...); err != nil {
		return nil, fmt.Errorf("ledger: transfers %s…: %w", prefix, err)
	}
	return out, nil
}

// prefixEnd is the least string greater than every string starting with
// prefix, byte by byte: prefix with its last byte below 0xff raised by one
// and the rest cut off; none when every byte is 0xff (or prefix is empty).
func prefixEnd(prefix string) (string, bool) {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}

// AllTransfers returns every transfer, by id: for checks, not pages.
func AllTransfers(ctx context.Context, c Conn) ([]Transfer, error) {
	var out []Transfer
	if err := scan(ctx, c, &out, "SELECT "+transferColumns+" FROM transfers ORDER BY id"); err != nil {
		return nil, fmt.Errorf("ledger: transfers: %w", err)
	}
	return out, nil
}

// Credits returns the transfers that moved money into the account at or
// after since, newest first.
func Credits(ctx context.Context, c Conn, accountID int64, since time.Time) ([]Transfer, error) {
	var out []Transfer
	err := scan(ctx, c, &out, "SELECT "+transferColumns+` FROM transfers
		WHERE credit_account_id = ? AND kind IN ? AND created_at >= ? ORDER BY id DESC`, accountID, MovedKinds, since)
	if err != nil {
		return nil, fmt.Errorf("ledger: credits of account %d: %w", accountID, err)
	}
	return out, nil
}

// LastCreditBefore returns the last transfer that moved money into the
// account before t, if any.
func LastCreditBefore(ctx context.Context, c Conn, accountID int64, t time.Time) ([]Transfer, error) {
	var out []Transfer
	err := scan(ctx, c, &out, "SELECT "+transferColumns+` FROM transfers
		WHERE credit_account_id = ? AND kind IN ? AND created_at < ? ORDER BY id DESC LIMIT 1`, accountID, MovedKinds, t)
	if err != nil {
		return nil, fmt.Errorf("ledger: credit before %s of account %d: %w", t.Format(time.RFC3339), accountID, err)
	}
	return out, nil
}

// DebitedBetween sums the posted debits of an account with ids strictly
// between lower and upper (upper 0: no bound), over the (account, id)
// index.
func DebitedBetween(ctx context.Context, c Conn, accountID, lower, upper int64) (money.Msat, error) {
	q := "SELECT COALESCE(SUM(amount_msat), 0) FROM transfers WHERE debit_account_id = ? AND id > ? AND kind IN ?"
	args := []any{accountID, lower, MovedKinds}
	if upper > 0 {
		q += " AND id < ?"
		args = append(args, upper)
	}
	var sum int64
	if err := scan(ctx, c, &sum, q, args...); err != nil {
		return 0, fmt.Errorf("ledger: debits of account %d: %w", accountID, err)
	}
	return money.Msat(sum), nil
}

// Side is a side of a transfer.
type Side string

const (
	Debit  Side = "debit_account_id"
	Credit Side = "credit_account_id"
)

// MovementIDs returns the ids of the n newest transfers that moved money
// on one side of the account, accruals left out, older than before (0: no
// bound), newest first. The key condition is written out as the partial
// indexes' (migration 00004), so that SQLite and PostgreSQL both see the
// index applies and read at most n entries of it.
func MovementIDs(ctx context.Context, c Conn, accountID int64, side Side, n int, before int64) ([]int64, error) {
	if side != Debit && side != Credit {
		return nil, fmt.Errorf("ledger: no side %q", side)
	}
	q := "SELECT id FROM transfers WHERE " + string(side) + " = ? AND key NOT LIKE 'accrual:%' AND kind IN ? AND amount_msat > 0"
	args := []any{accountID, MovedKinds}
	if before > 0 {
		q += " AND id < ?"
		args = append(args, before)
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, n)
	var ids []int64
	if err := scan(ctx, c, &ids, q, args...); err != nil {
		return nil, fmt.Errorf("ledger: movements of account %d: %w", accountID, err)
	}
	return ids, nil
}

// NamedTransfer is a transfer with its accounts' names.
type NamedTransfer struct {
	ID         int64
	CreatedAt  time.Time
	AmountMsat money.Msat
	DebitName  string
	CreditName string
	Key        string
}

// NamedTransfers returns the transfers with those ids, accounts named.
func NamedTransfers(ctx context.Context, c Conn, ids []int64) ([]NamedTransfer, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var rows []NamedTransfer
	err := scan(ctx, c, &rows, `SELECT t.id, t.created_at, t.amount_msat, d.name AS debit_name, c.name AS credit_name, t.key
		FROM transfers t JOIN accounts d ON d.id = t.debit_account_id JOIN accounts c ON c.id = t.credit_account_id
		WHERE t.id IN ?`, ids)
	if err != nil {
		return nil, fmt.Errorf("ledger: transfers %v: %w", ids, err)
	}
	return rows, nil
}

// Accruals returns every posted transfer whose key starts with prefix
// (the accruals' own), oldest first.
func Accruals(ctx context.Context, c Conn, prefix string) ([]Transfer, error) {
	var out []Transfer
	err := scan(ctx, c, &out, "SELECT "+transferColumns+` FROM transfers
		WHERE key LIKE ? AND kind IN ? AND amount_msat > 0 ORDER BY id`, prefix+"%", MovedKinds)
	if err != nil {
		return nil, fmt.Errorf("ledger: accruals: %w", err)
	}
	return out, nil
}

// PostWithTotals inserts posted transfers, skipping keys that exist, and
// adds each inserted transfer's amount to the posted totals of its
// accounts: to its debit account's when countDebit[i], to its credit
// account's when countCredit[i]. A debit may not overdraw an account that
// is not allowed below zero, counting the credits of the same call. It
// returns the ids of the transfers it inserted, by key, and the ids of
// the accounts it changed: an account debited here and missing from them
// would have been overdrawn, and the caller rolls back. On PostgreSQL it
// is one statement (one round trip on the settlement path); on SQLite, one
// to insert and one per column of totals.
func PostWithTotals(ctx context.Context, c Conn, rows []Transfer, countDebit, countCredit []bool) (map[string]int64, map[int64]bool, error) {
	if !isPostgres(ctx, c) {
		inserted, err := insertPosted(ctx, c, rows)
		if err != nil {
			return nil, nil, err
		}
		credits, debits := map[int64]money.Msat{}, map[int64]money.Msat{}
		for i, t := range rows {
			if _, ok := inserted[t.Key]; !ok {
				continue
			}
			if countDebit[i] {
				debits[t.DebitAccountID] += t.Amount
			}
			if countCredit[i] {
				credits[t.CreditAccountID] += t.Amount
			}
		}
		changed, err := addPostedTotals(ctx, c, credits, debits)
		return inserted, changed, err
	}
	n := len(rows)
	keys, memos, times := make([]string, n), make([]string, n), make([]time.Time, n)
	debits, credits, amounts := make([]int64, n), make([]int64, n), make([]int64, n)
	for i, t := range rows {
		keys[i], memos[i], times[i] = t.Key, t.Memo, t.CreatedAt
		debits[i], credits[i], amounts[i] = t.DebitAccountID, t.CreditAccountID, int64(t.Amount)
	}
	inserted, changed := make(map[string]int64, n), map[int64]bool{}
	err := scanArrays(ctx, c, func(r *sql.Rows) error {
		var id int64
		var key sql.NullString
		if err := r.Scan(&id, &key); err != nil {
			return err
		}
		if key.Valid {
			inserted[key.String] = id
		} else {
			changed[id] = true
		}
		return nil
	}, `WITH u AS (
			SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::timestamptz[], $8::bool[], $9::bool[])
			WITH ORDINALITY AS u(k, d, cr, a, m, at, count_d, count_c, i)
		), ins AS (
			INSERT INTO transfers (key, debit_account_id, credit_account_id, amount_msat, kind, memo, created_at)
			SELECT k, d, cr, a, $7, m, at FROM u ORDER BY i
			ON CONFLICT (key) DO NOTHING RETURNING id, key
		), v AS (
			SELECT id, SUM(c)::bigint AS c, SUM(d)::bigint AS d FROM (
				SELECT u.cr AS id, u.a AS c, 0::bigint AS d FROM u JOIN ins ON ins.key = u.k WHERE u.count_c
				UNION ALL
				SELECT u.d, 0::bigint, u.a FROM u JOIN ins ON ins.key = u.k WHERE u.count_d
			) moves GROUP BY id
		), upd AS (
			UPDATE accounts SET credits_posted = accounts.credits_posted + v.c, debits_posted = accounts.debits_posted + v.d
			FROM v WHERE accounts.id = v.id AND (v.d = 0 OR accounts.allow_negative
				OR accounts.credits_posted + v.c - accounts.debits_posted - accounts.debits_pending >= v.d)
			RETURNING accounts.id
		)
		SELECT id, key FROM ins UNION ALL SELECT id, NULL FROM upd`,
		keys, debits, credits, amounts, memos, times, string(Posted), countDebit, countCredit)
	if err != nil {
		return nil, nil, fmt.Errorf("ledger: post %d transfers: %w", n, err)
	}
	return inserted, changed, nil
}

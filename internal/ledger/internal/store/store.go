// Package store holds the SQL of the ledger: the accounts and transfers
// tables are read and written here and nowhere else. Only the ledger
// package can import it (Go's internal rule); everyone else asks the
// ledger.
//
// Every statement is written by hand and run with Raw or Exec: the hot
// writes need ON CONFLICT … RETURNING and multi-row UPDATE … FROM
// (VALUES …), which the query builder does not express, so the reads are
// written the same way.
package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/money"
)

// Conn is where statements run: the pool (*db.DB) or a transaction in
// progress (db.Tx).
type Conn = db.Conn

// Kind tells what a transfer does.
type Kind string

const (
	Posted      Kind = "posted"       // moves money now
	Pending     Kind = "pending"      // reserves money on the debit account
	PostPending Kind = "post_pending" // completes a pending transfer (all or part of it)
	VoidPending Kind = "void_pending" // releases a pending transfer
)

// MovedKinds are the transfer kinds that change posted balances; pending
// transfers only reserve, and a void releases what never moved.
var MovedKinds = []Kind{Posted, PostPending}

// Transfer is one immutable row of the transfers table.
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

const (
	transferColumns = "id, key, debit_account_id, credit_account_id, amount_msat, kind, pending_id, memo, created_at"
	accountColumns  = "id, name, allow_negative, debits_posted, credits_posted, debits_pending, credits_pending, created_at"
)

// BatchRows bounds the rows of one multi-row statement: 7 parameters a
// transfer stays under SQLite's and PostgreSQL's parameter limits.
const BatchRows = 1000

// scanOne runs a query for one row into dest, db.ErrNotFound when none.
func scanOne(ctx context.Context, c Conn, dest any, query string, args ...any) error {
	res := c.Gorm(ctx).Raw(query, args...).Scan(dest)
	if res.Error != nil {
		return db.TranslateError(res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("%w: %s", db.ErrNotFound, query)
	}
	return nil
}

// scan runs a query into a slice.
func scan(ctx context.Context, c Conn, dest any, query string, args ...any) error {
	return db.TranslateError(c.Gorm(ctx).Raw(query, args...).Scan(dest).Error)
}

// isPostgres reports whether c runs on PostgreSQL.
func isPostgres(ctx context.Context, c Conn) bool {
	return c.Gorm(ctx).Dialector.Name() == string(db.Postgres)
}

// scanArrays and execArrays run PostgreSQL statements whose parameters
// include Go slices, sent as arrays ($1::bigint[]) for unnest or ANY: a
// bulk statement then has a handful of parameters whatever its number of
// rows, where a multi-row VALUES list has thousands for the client to
// spell out and the server to parse. They go to the connection under
// GORM, which would expand a slice into a list; the SQL is still written
// by hand, with PostgreSQL's own $n placeholders.
func scanArrays(ctx context.Context, c Conn, each func(*sql.Rows) error, query string, args ...any) error {
	rows, err := c.Gorm(ctx).Statement.ConnPool.QueryContext(ctx, query, args...)
	if err != nil {
		return db.TranslateError(err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows); err != nil {
			return err
		}
	}
	return db.TranslateError(rows.Err())
}

func execArrays(ctx context.Context, c Conn, query string, args ...any) (int64, error) {
	res, err := c.Gorm(ctx).Statement.ConnPool.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, db.TranslateError(err)
	}
	return res.RowsAffected()
}

// exec runs a statement and returns the rows it changed.
func exec(ctx context.Context, c Conn, query string, args ...any) (int64, error) {
	res := c.Gorm(ctx).Exec(query, args...)
	return res.RowsAffected, db.TranslateError(res.Error)
}

package ledger

import (
	"context"
	"sort"
	"time"

	"github.com/keepalive/keepalive/internal/ledger/internal/store"
	"github.com/keepalive/keepalive/internal/money"
)

// AccrualKeyPrefix starts the key of every transfer that only realises the
// steady drain of a balance (an offering's consumption, posted by the
// offering package). Movements leave them out, through partial indexes
// (migration 00004) whose condition is this prefix, written as a literal.
const AccrualKeyPrefix = "accrual:"

// AccountsByID returns the accounts with those ids, with their running
// totals (counter accounts' are not derived here: ask Account for those).
func (l *Ledger) AccountsByID(ctx context.Context, ids ...int64) (map[int64]Account, error) {
	rows, err := store.AccountsByID(ctx, l.conn(), ids)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]Account, len(rows))
	for _, a := range rows {
		out[a.ID] = a
	}
	return out, nil
}

// AccountIDs returns the ids of those of the named accounts that exist,
// in ascending order.
func (l *Ledger) AccountIDs(ctx context.Context, names ...string) ([]int64, error) {
	byName, err := store.IDsByName(ctx, l.conn(), names)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, 0, len(byName))
	for _, id := range byName {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids, nil
}

// Credits returns the transfers that moved money into the account at or
// after since, newest first.
func (l *Ledger) Credits(ctx context.Context, accountID int64, since time.Time) ([]Transfer, error) {
	return store.Credits(ctx, l.conn(), accountID, since)
}

// LastCreditBefore returns the last transfer that moved money into the
// account before t, if any.
func (l *Ledger) LastCreditBefore(ctx context.Context, accountID int64, t time.Time) ([]Transfer, error) {
	return store.LastCreditBefore(ctx, l.conn(), accountID, t)
}

// DebitedBetween sums the posted debits of an account with ids strictly
// between lower and upper (upper 0: no bound), over the (account, id)
// index: the cost follows the window, not the account's age.
func (l *Ledger) DebitedBetween(ctx context.Context, accountID, lower, upper int64) (money.Msat, error) {
	return store.DebitedBetween(ctx, l.conn(), accountID, lower, upper)
}

// Movements returns the ids of the n newest transfers that moved money to
// or from any of the accounts, accruals left out, older than before (0: no
// bound), newest first. One indexed query per account and side, each
// reading at most n entries of an index that holds no accruals.
func (l *Ledger) Movements(ctx context.Context, accountIDs []int64, n int, before int64) ([]int64, error) {
	seen := map[int64]bool{}
	var all []int64
	for _, id := range accountIDs {
		for _, side := range []store.Side{store.Debit, store.Credit} {
			ids, err := store.MovementIDs(ctx, l.conn(), id, side, n, before)
			if err != nil {
				return nil, err
			}
			for _, id := range ids {
				if !seen[id] {
					seen[id] = true
					all = append(all, id)
				}
			}
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i] > all[j] })
	return all[:min(len(all), n)], nil
}

// Movement is a transfer with its accounts named.
type Movement struct {
	ID     int64
	At     time.Time
	Amount money.Msat
	Debit  string
	Credit string
	Key    string // the transfer's idempotency key: for the code that posted it to recognise, never to show
}

// MovementsByID returns the transfers with those ids, accounts named.
func (l *Ledger) MovementsByID(ctx context.Context, ids []int64) ([]Movement, error) {
	rows, err := store.NamedTransfers(ctx, l.conn(), ids)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	out := make([]Movement, len(rows))
	for i, r := range rows {
		out[i] = Movement{ID: r.ID, At: r.CreatedAt.UTC(), Amount: r.AmountMsat, Debit: r.DebitName, Credit: r.CreditName, Key: r.Key}
	}
	return out, nil
}

// Accruals returns every posted accrual (keys AccrualKeyPrefix…), oldest
// first. It reads them all: for checks, not pages.
func (l *Ledger) Accruals(ctx context.Context) ([]Transfer, error) {
	return store.Accruals(ctx, l.conn(), AccrualKeyPrefix)
}

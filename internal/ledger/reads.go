package ledger

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/keepalive/keepalive/internal/money"
)

// AccrualKeyPrefix starts the key of every transfer that only realises the
// steady drain of a balance (an offering's consumption, posted by the
// offering package). Movements leave them out, through partial indexes
// (migration 00004) whose condition is this prefix, written as a literal.
const AccrualKeyPrefix = "accrual:"

// movedKinds are the transfer kinds that change posted balances; pending
// transfers only reserve, and a void releases what never moved.
var movedKinds = []Kind{Posted, PostPending}

// AccountsByID returns the accounts with those ids, with their running
// totals (counter accounts' are not derived here: ask Account for those).
func (l *Ledger) AccountsByID(ctx context.Context, ids ...int64) (map[int64]Account, error) {
	out := make(map[int64]Account, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var rows []Account
	if err := l.query(ctx).Where("id IN ?", ids).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("ledger: accounts %v: %w", ids, err)
	}
	for _, a := range rows {
		out[a.ID] = a
	}
	return out, nil
}

// AccountIDs returns the ids of those of the named accounts that exist.
func (l *Ledger) AccountIDs(ctx context.Context, names ...string) ([]int64, error) {
	var ids []int64
	if err := l.query(ctx).Model(&Account{}).Where("name IN ?", names).Order("id").Pluck("id", &ids).Error; err != nil {
		return nil, fmt.Errorf("ledger: account ids: %w", err)
	}
	return ids, nil
}

// Credits returns the transfers that moved money into the account at or
// after since, newest first.
func (l *Ledger) Credits(ctx context.Context, accountID int64, since time.Time) ([]Transfer, error) {
	var out []Transfer
	err := l.query(ctx).Where("credit_account_id = ? AND kind IN ? AND created_at >= ?", accountID, movedKinds, since).
		Order("id DESC").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("ledger: credits of account %d: %w", accountID, err)
	}
	return out, nil
}

// LastCreditBefore returns the last transfer that moved money into the
// account before t, if any.
func (l *Ledger) LastCreditBefore(ctx context.Context, accountID int64, t time.Time) ([]Transfer, error) {
	var out []Transfer
	err := l.query(ctx).Where("credit_account_id = ? AND kind IN ? AND created_at < ?", accountID, movedKinds, t).
		Order("id DESC").Limit(1).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("ledger: credit before %s of account %d: %w", t.Format(time.RFC3339), accountID, err)
	}
	return out, nil
}

// DebitedBetween sums the posted debits of an account with ids strictly
// between lower and upper (upper 0: no bound), over the (account, id)
// index: the cost follows the window, not the account's age.
func (l *Ledger) DebitedBetween(ctx context.Context, accountID, lower, upper int64) (money.Msat, error) {
	var sum int64
	r := l.query(ctx).Model(&Transfer{}).Select("COALESCE(SUM(amount_msat), 0)").
		Where("debit_account_id = ? AND id > ? AND kind IN ?", accountID, lower, movedKinds)
	if upper > 0 {
		r = r.Where("id < ?", upper)
	}
	if err := r.Scan(&sum).Error; err != nil {
		return 0, fmt.Errorf("ledger: debits of account %d: %w", accountID, err)
	}
	return money.Msat(sum), nil
}

// Movements returns the ids of the n newest transfers that moved money to
// or from any of the accounts, accruals left out, older than before (0: no
// bound), newest first. One indexed query per account and side, each
// reading at most n entries of an index that holds no accruals: the key
// condition is written out as the index's, so that SQLite and PostgreSQL
// both see the index applies.
func (l *Ledger) Movements(ctx context.Context, accountIDs []int64, n int, before int64) ([]int64, error) {
	seen := map[int64]bool{}
	var all []int64
	for _, id := range accountIDs {
		for _, side := range []string{"debit_account_id", "credit_account_id"} {
			r := l.query(ctx).Table("transfers").Select("id").
				Where(side+" = ? AND key NOT LIKE 'accrual:%' AND kind IN ? AND amount_msat > 0", id, movedKinds)
			if before > 0 {
				r = r.Where("id < ?", before)
			}
			var ids []int64
			if err := r.Order("id DESC").Limit(n).Pluck("id", &ids).Error; err != nil {
				return nil, fmt.Errorf("ledger: movements of account %d: %w", id, err)
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
	if len(ids) == 0 {
		return nil, nil
	}
	var rows []struct {
		ID         int64
		CreatedAt  time.Time
		AmountMsat money.Msat
		DebitName  string
		CreditName string
		Key        string
	}
	err := l.query(ctx).Table("transfers t").
		Select("t.id, t.created_at, t.amount_msat, d.name AS debit_name, c.name AS credit_name, t.key").
		Joins("JOIN accounts d ON d.id = t.debit_account_id").
		Joins("JOIN accounts c ON c.id = t.credit_account_id").
		Where("t.id IN ?", ids).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("ledger: transfers %v: %w", ids, err)
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
	var out []Transfer
	err := l.query(ctx).Where("key LIKE ? AND kind IN ? AND amount_msat > 0", AccrualKeyPrefix+"%", movedKinds).
		Order("id").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("ledger: accruals: %w", err)
	}
	return out, nil
}

package ledger

import (
	"context"
	"fmt"
	"sort"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/ledger/internal/store"
	"github.com/keepalive/keepalive/internal/money"
)

// PostMany posts many entries in the bound transaction (or a new one)
// with a handful of statements whatever their number: the accounts are
// made in bulk (those only credited here already holding their credits),
// the transfers inserted in bulk, and each other account's totals changed
// once; on PostgreSQL each step is one statement over arrays. It is how a revenue event pays ten
// thousand investors. Keys must differ; an entry whose key was posted
// before with the same terms changes nothing, as with Post. Overdrawing
// any debit account fails the whole call.
func (l *Ledger) PostMany(ctx context.Context, entries []Entry) error {
	_, err := l.PostAll(ctx, entries)
	return err
}

// PostAll is PostMany returning the transfers, one an entry in order
// (the one posted before for a key posted before). The entries are
// inserted in their order, so their ids grow in it.
func (l *Ledger) PostAll(ctx context.Context, entries []Entry) ([]Transfer, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	seen := make(map[string]bool, len(entries))
	names := map[string]bool{}
	for _, e := range entries {
		if err := validate(e); err != nil {
			return nil, err
		}
		if seen[e.Key] {
			return nil, apperr.New(apperr.Invalid, "key %q appears twice in one batch", e.Key)
		}
		seen[e.Key] = true
		names[e.Debit], names[e.Credit] = true, true
	}
	list := make([]string, 0, len(names))
	for n := range names {
		list = append(list, n)
	}
	sort.Strings(list)
	var out []Transfer
	post := func(tx db.Tx) error {
		ids, opened, err := l.In(tx).openInTx(ctx, list, onlyCredited(entries))
		if err != nil {
			return err
		}
		now := l.now().UTC()
		rows := make([]Transfer, len(entries))
		for i, e := range entries {
			rows[i] = Transfer{Key: e.Key, DebitAccountID: ids[e.Debit], CreditAccountID: ids[e.Credit],
				Amount: e.Amount, Kind: Posted, Memo: e.Memo, CreatedAt: now}
		}
		countDebit, countCredit := make([]bool, len(entries)), make([]bool, len(entries))
		for i, e := range entries {
			countDebit[i] = !allowNegative(e.Debit)
			countCredit[i] = !allowNegative(e.Credit) && !opened[e.Credit]
		}
		inserted, changed, err := store.PostWithTotals(ctx, tx, rows, countDebit, countCredit)
		if err != nil {
			return err
		}
		debited, credited := map[int64]bool{}, map[int64]bool{}
		for i, e := range entries {
			id, ok := inserted[e.Key]
			if !ok {
				existing, err := store.TransferByKey(ctx, tx, e.Key)
				if err != nil {
					return err
				}
				if rows[i], err = sameTerms(existing, rows[i]); err != nil {
					return err
				}
				continue
			}
			rows[i].ID = id
			if countDebit[i] {
				debited[ids[e.Debit]] = true
			}
			if countCredit[i] {
				credited[ids[e.Credit]] = true
			}
		}
		for id := range debited {
			if !changed[id] {
				return apperr.Wrap(ErrInsufficientFunds, apperr.Conflict, "not enough funds for that")
			}
		}
		for id := range credited {
			if !changed[id] {
				return fmt.Errorf("ledger: post %d entries: credited account %d not found", len(entries), id)
			}
		}
		out = rows
		return nil
	}
	var err error
	if l.tx != nil {
		err = post(*l.tx)
	} else {
		err = l.db.Tx(ctx, post)
	}
	return out, err
}

// onlyCredited sums what entries credit to each account they never
// debit: such an account, when the batch creates it, starts with those
// credits posted, which saves updating its row again. Should one of
// those entries not be inserted after all (its key was posted before),
// the transfer posted before names another account, so the batch fails
// on its terms and rolls back.
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

// TransfersWithPrefix returns the transfers whose keys start with prefix,
// oldest first: the parts of one batch keyed <event>/… (a revenue event
// read back when it is posted again).
func (l *Ledger) TransfersWithPrefix(ctx context.Context, prefix string) ([]Transfer, error) {
	return store.TransfersWithPrefix(ctx, l.conn(), prefix)
}

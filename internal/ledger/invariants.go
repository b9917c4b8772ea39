package ledger

import (
	"context"
	"errors"
	"fmt"

	"github.com/keepalive/keepalive/internal/ledger/internal/store"
	"github.com/keepalive/keepalive/internal/money"
)

// CheckInvariants verifies the ledger's invariants (docs/design.md) against
// the database and returns every violation found, joined. Tests call it
// after every scenario; it reads everything, so it is not for hot paths.
//
//   - the balances of all accounts sum to zero;
//   - no account but lightning has a negative available balance;
//   - every account's running totals equal the sums of its transfers;
//   - every resolution resolves a pending transfer between the same
//     accounts, posts no more than was reserved, and a void releases all
//     of it; each pending transfer is resolved at most once.
func (l *Ledger) CheckInvariants(ctx context.Context) error {
	accounts, err := store.AllAccounts(ctx, l.conn())
	if err != nil {
		return fmt.Errorf("ledger: invariants: %w", err)
	}
	transfers, err := store.AllTransfers(ctx, l.conn())
	if err != nil {
		return fmt.Errorf("ledger: invariants: %w", err)
	}

	var errs []error
	byID := make(map[int64]Transfer, len(transfers))
	for _, t := range transfers {
		byID[t.ID] = t
	}
	want := map[int64]*store.Totals{}
	get := func(id int64) *store.Totals {
		if want[id] == nil {
			want[id] = &store.Totals{}
		}
		return want[id]
	}
	resolved := map[int64]bool{}
	for _, t := range transfers {
		if t.Amount < 0 || !t.Amount.Valid() {
			errs = append(errs, fmt.Errorf("transfer %s: amount %d out of range", t.Key, t.Amount))
		}
		switch t.Kind {
		case Posted:
			get(t.DebitAccountID).DebitsPosted += t.Amount
			get(t.CreditAccountID).CreditsPosted += t.Amount
		case Pending:
			get(t.DebitAccountID).DebitsPending += t.Amount
			get(t.CreditAccountID).CreditsPending += t.Amount
		case PostPending, VoidPending:
			if t.PendingID == nil {
				errs = append(errs, fmt.Errorf("transfer %s: resolution without a pending transfer", t.Key))
				continue
			}
			p, ok := byID[*t.PendingID]
			switch {
			case !ok || p.Kind != Pending:
				errs = append(errs, fmt.Errorf("transfer %s: resolves %d, which is not a pending transfer", t.Key, *t.PendingID))
				continue
			case p.ID > t.ID:
				errs = append(errs, fmt.Errorf("transfer %s: resolves a later transfer", t.Key))
			case resolved[p.ID]:
				errs = append(errs, fmt.Errorf("transfer %s: pending %s resolved twice", t.Key, p.Key))
			case p.DebitAccountID != t.DebitAccountID || p.CreditAccountID != t.CreditAccountID:
				errs = append(errs, fmt.Errorf("transfer %s: accounts differ from pending %s", t.Key, p.Key))
			case t.Kind == PostPending && t.Amount > p.Amount:
				errs = append(errs, fmt.Errorf("transfer %s: posts %d of a pending %d", t.Key, t.Amount, p.Amount))
			case t.Kind == VoidPending && t.Amount != p.Amount:
				errs = append(errs, fmt.Errorf("transfer %s: voids %d of a pending %d", t.Key, t.Amount, p.Amount))
			}
			resolved[p.ID] = true
			get(t.DebitAccountID).DebitsPending -= p.Amount
			get(t.CreditAccountID).CreditsPending -= p.Amount
			if t.Kind == PostPending {
				get(t.DebitAccountID).DebitsPosted += t.Amount
				get(t.CreditAccountID).CreditsPosted += t.Amount
			}
		default:
			errs = append(errs, fmt.Errorf("transfer %s: unknown kind %q", t.Key, t.Kind))
		}
	}

	var sum, pendingDebits, pendingCredits money.Msat
	for _, a := range accounts {
		w := get(a.ID)
		if a.AllowNegative {
			// A counter account keeps no running totals: its row must
			// stay at zero, and its totals are its transfers'.
			if a.DebitsPosted != 0 || a.CreditsPosted != 0 || a.DebitsPending != 0 || a.CreditsPending != 0 {
				errs = append(errs, fmt.Errorf("account %s: a counter account has stored totals", a.Name))
			}
			a.DebitsPosted, a.CreditsPosted, a.DebitsPending, a.CreditsPending = w.DebitsPosted, w.CreditsPosted, w.DebitsPending, w.CreditsPending
		}
		if a.DebitsPosted != w.DebitsPosted || a.CreditsPosted != w.CreditsPosted || a.DebitsPending != w.DebitsPending || a.CreditsPending != w.CreditsPending {
			errs = append(errs, fmt.Errorf("account %s: totals %d/%d/%d/%d, transfers say %d/%d/%d/%d", a.Name,
				a.DebitsPosted, a.CreditsPosted, a.DebitsPending, a.CreditsPending, w.DebitsPosted, w.CreditsPosted, w.DebitsPending, w.CreditsPending))
		}
		if !a.AllowNegative && a.Available() < 0 {
			errs = append(errs, fmt.Errorf("account %s: available balance %d is negative", a.Name, a.Available()))
		}
		if a.AllowNegative != allowNegative(a.Name) {
			errs = append(errs, fmt.Errorf("account %s: allow_negative is %v", a.Name, a.AllowNegative))
		}
		sum += a.Balance()
		pendingDebits += a.DebitsPending
		pendingCredits += a.CreditsPending
	}
	if sum != 0 {
		errs = append(errs, fmt.Errorf("balances sum to %d, not zero", sum))
	}
	if pendingDebits != pendingCredits {
		errs = append(errs, fmt.Errorf("pending debits %d differ from pending credits %d", pendingDebits, pendingCredits))
	}
	if len(errs) > 0 {
		return fmt.Errorf("ledger: invariants violated: %w", errors.Join(errs...))
	}
	return nil
}

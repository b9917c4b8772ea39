package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"pgregory.net/rapid"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/money"
)

// op is one step of a generated scenario.
type op struct {
	kind     string // post, reserve, postPending, void, repeat, batch
	from, to int    // account indexes
	amount   money.Msat
	target   int // index of an earlier op (pending to resolve, or op to repeat)
}

func genOps(t *rapid.T, accounts int) []op {
	return rapid.SliceOfN(rapid.Custom(func(t *rapid.T) op {
		o := op{
			kind:   rapid.SampledFrom([]string{"post", "post", "post", "reserve", "postPending", "void", "repeat", "batch"}).Draw(t, "kind"),
			from:   rapid.IntRange(0, accounts-1).Draw(t, "from"),
			to:     rapid.IntRange(0, accounts-1).Draw(t, "to"),
			amount: money.Msat(rapid.Int64Range(1, 50_000).Draw(t, "amount")),
			target: rapid.IntRange(0, 1000).Draw(t, "target"),
		}
		return o
	}), 1, 40).Draw(t, "ops")
}

// TestLedgerProperties runs random sequences of transfers, pending
// transfers, posts, voids and repeated keys, some of them from concurrent
// goroutines, and checks the invariants after each sequence, plus that
// every account's balance equals what the successful operations imply.
//
// Every operation goes through the ledger's one write path as the site
// calls it: inside the caller's transaction (db.Tx, retried on conflict),
// the ledger bound to it with In, accounts locked first as settlement and
// payouts do.
func TestLedgerProperties(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		base := ledger.New(d, nil)
		// inTx runs one ledger operation the way settlement, accrual and
		// payouts do; a failed operation rolls its transaction back.
		inTx := func(ctx context.Context, lock []string, fn func(l *ledger.Ledger) (ledger.Transfer, error)) (ledger.Transfer, error) {
			var out ledger.Transfer
			err := d.Tx(ctx, func(tx db.Tx) error {
				l := base.In(tx)
				if len(lock) > 0 {
					if err := l.Lock(ctx, lock...); err != nil {
						return err
					}
				}
				var err error
				out, err = fn(l)
				return err
			})
			return out, err
		}
		l := base
		var run atomic.Int64
		rapid.Check(t, func(rt *rapid.T) {
			ctx := context.Background()
			n := run.Add(1)
			const accounts = 4
			name := func(i int) string {
				if i == 0 {
					return ledger.Lightning
				}
				return fmt.Sprintf("offering/%d/runway", n*10+int64(i))
			}
			// fresh names an account that only batch op i uses, new to
			// the ledger when that batch creates it.
			fresh := func(i int) string { return fmt.Sprintf("bid/%d/refund", n*1000+int64(i)) }
			ops := genOps(rt, accounts)
			allNames := func() []string {
				out := []string{}
				for j := range accounts {
					out = append(out, name(j))
				}
				for i := range ops {
					out = append(out, fresh(i))
				}
				return out
			}
			concurrent := rapid.Bool().Draw(rt, "concurrent")

			// Keys of successful pending transfers, so later ops can resolve them.
			var mu sync.Mutex
			pendings := []string{}
			done := map[string]ledger.Transfer{} // key → transfer, for successful ops
			key := func(i int) string { return fmt.Sprintf("r%d:op%d", n, i) }

			do := func(i int, o op) {
				var tr ledger.Transfer
				var err error
				k := key(i)
				switch o.kind {
				case "post", "reserve":
					if o.from == o.to {
						return
					}
					e := ledger.Entry{Key: k, Debit: name(o.from), Credit: name(o.to), Amount: o.amount}
					tr, err = inTx(ctx, []string{e.Debit, e.Credit}, func(l *ledger.Ledger) (ledger.Transfer, error) {
						if o.kind == "post" {
							return l.Post(ctx, e)
						}
						return l.Reserve(ctx, e)
					})
				case "batch":
					// PostMany as clearing and revenue splits call it: a
					// transfer between existing accounts, one to a new
					// account (created already credited on PostgreSQL),
					// and for odd amounts one back out of it; posted twice,
					// the second time changing nothing.
					entries := []ledger.Entry{{Key: k + "/new", Debit: name(o.from), Credit: fresh(i), Amount: o.amount/2 + 1}}
					if o.from != o.to {
						entries = append(entries, ledger.Entry{Key: k + "/old", Debit: name(o.from), Credit: name(o.to), Amount: o.amount})
					}
					if o.amount%2 == 1 {
						entries = append(entries, ledger.Entry{Key: k + "/back", Debit: fresh(i), Credit: name(o.to), Amount: 1})
					}
					for range 2 {
						err = d.Tx(ctx, func(tx db.Tx) error { return base.In(tx).PostMany(ctx, entries) })
						if err != nil {
							break
						}
					}
					if err == nil {
						var trs []ledger.Transfer
						if trs, err = l.TransfersWithPrefix(ctx, k+"/"); err == nil && len(trs) != len(entries) {
							rt.Errorf("batch %s: %d transfers for %d entries", k, len(trs), len(entries))
						}
						mu.Lock()
						for _, t := range trs {
							done[t.Key] = t
						}
						mu.Unlock()
						return
					}
				case "postPending", "void":
					mu.Lock()
					if len(pendings) == 0 {
						mu.Unlock()
						return
					}
					p := pendings[o.target%len(pendings)]
					mu.Unlock()
					tr, err = inTx(ctx, nil, func(l *ledger.Ledger) (ledger.Transfer, error) {
						if o.kind == "void" {
							return l.VoidPending(ctx, k, p)
						}
						pt, err := l.TransferByKey(ctx, p)
						if err != nil {
							return ledger.Transfer{}, err
						}
						return l.PostPending(ctx, k, p, min(o.amount, pt.Amount))
					})
				case "repeat":
					mu.Lock()
					var prev ledger.Transfer
					found := false
					for _, t := range done {
						prev, found = t, true
						break
					}
					mu.Unlock()
					if !found || prev.Kind != ledger.Posted {
						return
					}
					// Same key, same terms: must return the same transfer.
					var from, to string
					for _, nm := range allNames() {
						a, _ := l.Account(ctx, nm)
						if a.ID == prev.DebitAccountID {
							from = nm
						}
						if a.ID == prev.CreditAccountID {
							to = nm
						}
					}
					again, err := inTx(ctx, []string{from, to}, func(l *ledger.Ledger) (ledger.Transfer, error) {
						return l.Post(ctx, ledger.Entry{Key: prev.Key, Debit: from, Credit: to, Amount: prev.Amount})
					})
					if err != nil || again.ID != prev.ID {
						rt.Errorf("repeat of %s: got %d, %v; want transfer %d", prev.Key, again.ID, err, prev.ID)
					}
					return
				}
				switch {
				case err == nil:
					mu.Lock()
					done[tr.Key] = tr
					if tr.Kind == ledger.Pending {
						pendings = append(pendings, tr.Key)
					}
					mu.Unlock()
				case errors.Is(err, ledger.ErrInsufficientFunds), errors.Is(err, ledger.ErrAlreadyResolved):
					// expected outcomes of a random scenario
				default:
					rt.Errorf("op %d %s: unexpected error %v (code %s)", i, o.kind, err, apperr.CodeOf(err))
				}
			}

			if concurrent {
				var wg sync.WaitGroup
				for i, o := range ops {
					wg.Add(1)
					go func() { defer wg.Done(); do(i, o) }()
				}
				wg.Wait()
			} else {
				for i, o := range ops {
					do(i, o)
				}
			}

			if err := l.CheckInvariants(ctx); err != nil {
				rt.Fatal(err)
			}
			// Balances follow from the successful transfers alone.
			want := map[int64]money.Msat{}
			pendingAmount := map[int64]money.Msat{}
			for _, tr := range done {
				if tr.Kind == ledger.Pending {
					pendingAmount[tr.ID] = tr.Amount
				}
			}
			for _, tr := range done {
				if tr.Kind == ledger.Posted || tr.Kind == ledger.PostPending {
					want[tr.DebitAccountID] -= tr.Amount
					want[tr.CreditAccountID] += tr.Amount
				}
			}
			for _, nm := range allNames()[1:] { // lightning is shared by every run
				a, err := l.Account(ctx, nm)
				if err != nil {
					rt.Fatal(err)
				}
				if a.ID != 0 && a.Balance() != want[a.ID] {
					rt.Fatalf("%s: balance %d, successful transfers say %d", a.Name, a.Balance(), want[a.ID])
				}
			}
		})
	})
}

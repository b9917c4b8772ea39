package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/money"
)

func checkInvariants(t testing.TB, l *ledger.Ledger) {
	t.Helper()
	if err := l.CheckInvariants(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func balance(t testing.TB, l *ledger.Ledger, name string) money.Msat {
	t.Helper()
	b, err := l.Balance(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPostIsIdempotent(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		l := ledger.New(d, nil)
		runway := ledger.OfferingRunway(1)
		e := ledger.Entry{Key: "invoice:aa", Debit: ledger.Lightning, Credit: runway, Amount: 5000}
		first, err := l.Post(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		again, err := l.Post(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		if again.ID != first.ID {
			t.Fatalf("second post created transfer %d, want the first (%d)", again.ID, first.ID)
		}
		if got := balance(t, l, runway); got != 5000 {
			t.Fatalf("runway = %d, want 5000", got)
		}
		if got := balance(t, l, ledger.Lightning); got != -5000 {
			t.Fatalf("lightning = %d, want -5000", got)
		}
		e.Amount = 6000
		if _, err := l.Post(ctx, e); !errors.Is(err, ledger.ErrKeyReused) {
			t.Fatalf("reusing a key with another amount: err = %v, want ErrKeyReused", err)
		}
		checkInvariants(t, l)
	})
}

func TestPostRefusesOverdraftAndBadEntries(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		l := ledger.New(d, nil)
		a, b := ledger.OfferingRunway(1), ledger.OfferingEarned(1)
		if _, err := l.Post(ctx, ledger.Entry{Key: "in", Debit: ledger.Lightning, Credit: a, Amount: 100}); err != nil {
			t.Fatal(err)
		}
		_, err := l.Post(ctx, ledger.Entry{Key: "over", Debit: a, Credit: b, Amount: 101})
		if !errors.Is(err, ledger.ErrInsufficientFunds) || apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("overdraft: err = %v, want ErrInsufficientFunds with code conflict", err)
		}
		if _, err := l.TransferByKey(ctx, "over"); !errors.Is(err, db.ErrNotFound) {
			t.Fatalf("a refused transfer was written: %v", err)
		}
		bad := []ledger.Entry{
			{Key: "", Debit: a, Credit: b, Amount: 1},
			{Key: "k1", Debit: a, Credit: a, Amount: 1},
			{Key: "k2", Debit: a, Credit: b, Amount: 0},
			{Key: "k3", Debit: a, Credit: b, Amount: -1},
			{Key: "k4", Debit: ledger.Lightning, Credit: b, Amount: money.MaxMsat + 1},
			{Key: "k5", Debit: "", Credit: b, Amount: 1},
		}
		for _, e := range bad {
			if _, err := l.Post(ctx, e); apperr.CodeOf(err) != apperr.Invalid {
				t.Errorf("Post(%+v): err = %v, want code invalid", e, err)
			}
		}
		if got := balance(t, l, a); got != 100 {
			t.Fatalf("runway = %d after refused transfers, want 100", got)
		}
		checkInvariants(t, l)
	})
}

func TestPendingPostAndVoid(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		l := ledger.New(d, nil)
		earned := ledger.OfferingEarned(7)
		if _, err := l.Post(ctx, ledger.Entry{Key: "in", Debit: ledger.Lightning, Credit: earned, Amount: 10_000}); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Reserve(ctx, ledger.Entry{Key: "payout:1", Debit: earned, Credit: ledger.Lightning, Amount: 8_000}); err != nil {
			t.Fatal(err)
		}
		acct, _ := l.Account(ctx, earned)
		if acct.Available() != 2_000 || acct.Balance() != 10_000 {
			t.Fatalf("after reserve: balance %d available %d, want 10000/2000", acct.Balance(), acct.Available())
		}
		// The reserve protects the money: another reservation cannot take it.
		if _, err := l.Reserve(ctx, ledger.Entry{Key: "payout:2", Debit: earned, Credit: ledger.Lightning, Amount: 2_001}); !errors.Is(err, ledger.ErrInsufficientFunds) {
			t.Fatalf("second reserve: err = %v, want ErrInsufficientFunds", err)
		}
		// Post part of it: the rest is released.
		if _, err := l.PostPending(ctx, "payout:1:posted", "payout:1", 7_500); err != nil {
			t.Fatal(err)
		}
		if _, err := l.PostPending(ctx, "payout:1:posted", "payout:1", 7_500); err != nil {
			t.Fatalf("repeating the same resolution: %v", err)
		}
		if _, err := l.VoidPending(ctx, "payout:1:voided", "payout:1"); !errors.Is(err, ledger.ErrAlreadyResolved) {
			t.Fatalf("void after post: err = %v, want ErrAlreadyResolved", err)
		}
		if got := balance(t, l, earned); got != 2_500 {
			t.Fatalf("earned = %d, want 2500", got)
		}
		// A void releases everything.
		if _, err := l.Reserve(ctx, ledger.Entry{Key: "payout:3", Debit: earned, Credit: ledger.Lightning, Amount: 2_500}); err != nil {
			t.Fatal(err)
		}
		if _, err := l.VoidPending(ctx, "payout:3:voided", "payout:3"); err != nil {
			t.Fatal(err)
		}
		if _, err := l.PostPending(ctx, "payout:3:posted", "payout:3", 1); !errors.Is(err, ledger.ErrAlreadyResolved) {
			t.Fatalf("post after void: err = %v, want ErrAlreadyResolved", err)
		}
		if _, err := l.PostPending(ctx, "x", "payout:404", 1); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("post of an unknown pending: err = %v, want not_found", err)
		}
		if _, err := l.Reserve(ctx, ledger.Entry{Key: "payout:4", Debit: earned, Credit: ledger.Lightning, Amount: 100}); err != nil {
			t.Fatal(err)
		}
		if _, err := l.PostPending(ctx, "payout:4:posted", "payout:4", 101); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("posting more than reserved: err = %v, want invalid", err)
		}
		acct, _ = l.Account(ctx, earned)
		if acct.Available() != 2_400 || acct.Balance() != 2_500 {
			t.Fatalf("end: balance %d available %d, want 2500/2400", acct.Balance(), acct.Available())
		}
		checkInvariants(t, l)
	})
}

func TestTransfersAreImmutable(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		l := ledger.New(d, nil)
		if _, err := l.Post(ctx, ledger.Entry{Key: "in", Debit: ledger.Lightning, Credit: "offering/1/runway", Amount: 1}); err != nil {
			t.Fatal(err)
		}
		if err := d.Gorm(context.Background()).Exec("UPDATE transfers SET amount_msat = 2").Error; err == nil {
			t.Fatal("UPDATE of a transfer succeeded")
		}
		if err := d.Gorm(context.Background()).Exec("DELETE FROM transfers").Error; err == nil {
			t.Fatal("DELETE of a transfer succeeded")
		}
		checkInvariants(t, l)
	})
}

// TestConcurrentDoubleSpend has many goroutines race to spend the same
// balance and to post the same keys: exactly the affordable ones win.
func TestConcurrentDoubleSpend(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		l := ledger.New(d, nil)
		src := ledger.OfferingEarned(1)
		if _, err := l.Post(ctx, ledger.Entry{Key: "fund", Debit: ledger.Lightning, Credit: src, Amount: 10 * 1000}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins, fails := 0, 0
		for i := 0; i < 40; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				// Every key is tried by two goroutines.
				e := ledger.Entry{Key: fmt.Sprintf("spend:%d", i/2), Debit: src, Credit: ledger.Lightning, Amount: 1000}
				_, err := l.Post(ctx, e)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
				case errors.Is(err, ledger.ErrInsufficientFunds):
					fails++
				default:
					t.Errorf("post %s: %v", e.Key, err)
				}
			}(i)
		}
		wg.Wait()
		if got := balance(t, l, src); got != 0 {
			t.Fatalf("source balance = %d, want 0 (exactly 10 spends)", got)
		}
		var n int64
		d.Gorm(context.Background()).Table("transfers").Where("key LIKE ?", "spend:%").Count(&n)
		if n != 10 {
			t.Fatalf("%d spend transfers written, want 10", n)
		}
		if wins < 10 {
			t.Fatalf("%d posts succeeded, want at least 10 (repeats of a key succeed too)", wins)
		}
		checkInvariants(t, l)
	})
}

// TestPostManyNewAccountsAndRepeatedKeys: accounts a batch creates and only
// credits start with their credits; a batch whose key was posted before
// with other terms (here: to another account) fails whole, writing
// nothing, not even the accounts it was creating; an overdraft likewise.
func TestPostManyNewAccountsAndRepeatedKeys(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		l := ledger.New(d, nil)
		escrow := ledger.OfferingEscrow(1)
		if _, err := l.Post(ctx, ledger.Entry{Key: "seed", Debit: ledger.Lightning, Credit: escrow, Amount: 10_000}); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Post(ctx, ledger.Entry{Key: "clear:7", Debit: escrow, Credit: ledger.BidRefund(99), Amount: 1_000}); err != nil {
			t.Fatal(err)
		}
		postMany := func(entries ...ledger.Entry) error {
			return d.Tx(ctx, func(tx db.Tx) error { return l.In(tx).PostMany(ctx, entries) })
		}
		fresh := []ledger.Entry{
			{Key: "clear:1", Debit: escrow, Credit: ledger.BidRefund(1), Amount: 2_000},
			{Key: "clear:2", Debit: escrow, Credit: ledger.BidRefund(2), Amount: 3_000},
		}
		// clear:7 was posted to bid 99's refund: the same key to bid 7's
		// refund (an account this batch would create) is other terms.
		err := postMany(append(fresh, ledger.Entry{Key: "clear:7", Debit: escrow, Credit: ledger.BidRefund(7), Amount: 1_000})...)
		if apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("repeated key with other terms: %v, want a conflict", err)
		}
		for _, name := range []string{ledger.BidRefund(1), ledger.BidRefund(2), ledger.BidRefund(7)} {
			if a, err := l.Account(ctx, name); err != nil || a.ID != 0 {
				t.Fatalf("%s after a failed batch: %+v, %v; want no account", name, a, err)
			}
		}
		// Overdrawing the escrow fails whole too.
		err = postMany(append(fresh, ledger.Entry{Key: "clear:3", Debit: escrow, Credit: ledger.BidRefund(3), Amount: 5_000})...)
		if !errors.Is(err, ledger.ErrInsufficientFunds) {
			t.Fatalf("overdraft: %v, want ErrInsufficientFunds", err)
		}
		checkInvariants(t, l)
		// The batch itself, twice: posted once, with the refunds' accounts
		// created holding their credits.
		for range 2 {
			if err := postMany(fresh...); err != nil {
				t.Fatal(err)
			}
		}
		for name, want := range map[string]money.Msat{escrow: 4_000, ledger.BidRefund(1): 2_000, ledger.BidRefund(2): 3_000, ledger.BidRefund(99): 1_000} {
			if got := balance(t, l, name); got != want {
				t.Fatalf("%s: %d, want %d", name, got, want)
			}
		}
		checkInvariants(t, l)
	})
}

// TestPostAllAccrualAndCredit posts what a runway credit posts (the
// runway's consumption, then the payment into it) as one batch: the
// runway is debited and credited by the same call, its debit may use
// the credit beside it but no more, and an overdraft moves nothing.
func TestPostAllAccrualAndCredit(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		l := ledger.New(d, nil)
		runway, earned := ledger.OfferingRunway(1), ledger.OfferingEarned(1)
		if _, err := l.Post(ctx, ledger.Entry{Key: "in:0", Debit: ledger.Lightning, Credit: runway, Amount: 1_000}); err != nil {
			t.Fatal(err)
		}
		batch := func(consumed, paid money.Msat, n int) ([]ledger.Transfer, error) {
			var out []ledger.Transfer
			err := d.Tx(ctx, func(tx db.Tx) error {
				var err error
				out, err = l.In(tx).PostAll(ctx, []ledger.Entry{
					{Key: fmt.Sprintf("accrual:%d", n), Debit: runway, Credit: earned, Amount: consumed},
					{Key: fmt.Sprintf("in:%d", n), Debit: ledger.Lightning, Credit: runway, Amount: paid},
				})
				return err
			})
			return out, err
		}
		for i, tc := range []struct {
			name           string
			consumed, paid money.Msat
			wantErr        error
			runway, earned money.Msat // balances after
		}{
			{"consumption within the balance", 400, 500, nil, 1_100, 400},
			{"consumption needing the credit beside it", 1_500, 500, nil, 100, 1_900},
			{"overdraft", 700, 500, ledger.ErrInsufficientFunds, 100, 1_900},
		} {
			t.Run(tc.name, func(t *testing.T) {
				trs, err := batch(tc.consumed, tc.paid, i+1)
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if err == nil && (len(trs) != 2 || trs[0].ID == 0 || trs[0].ID >= trs[1].ID || trs[1].Amount != tc.paid) {
					t.Fatalf("transfers %+v: want the accrual then the credit, with their ids", trs)
				}
				for name, want := range map[string]money.Msat{runway: tc.runway, earned: tc.earned} {
					if got, err := l.Balance(ctx, name); err != nil || got != want {
						t.Fatalf("%s = %d (%v), want %d", name, got, err, want)
					}
				}
				checkInvariants(t, l)
			})
		}
		// LockForKey reads the balances it locks and tells a posted key.
		err := d.Tx(ctx, func(tx db.Tx) error {
			accts, posted, err := l.In(tx).LockForKey(ctx, "in:0", ledger.Lightning, runway, earned)
			if err != nil {
				return err
			}
			if !posted || len(accts) != 2 || accts[runway].Balance() != 100 || accts[earned].Balance() != 1_900 {
				t.Errorf("LockForKey(in:0) = %+v, %v; want the runway and earned balances and the key posted", accts, posted)
			}
			if _, posted, err = l.In(tx).LockForKey(ctx, "in:never", runway); err != nil || posted {
				t.Errorf("LockForKey(in:never): posted %v, %v", posted, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// TestTransfersWithPrefix: a prefix is a prefix byte by byte, whatever
// the database's collation would make of punctuation, case or LIKE's
// wildcards.
func TestTransfersWithPrefix(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		l := ledger.New(d, nil)
		keys := []string{"rev/1/a", "rev/1/b", "rev/10/a", "rev/1", "rev/1.", "rev/10", "rev/1%", "rev/1_",
			"REV/1/a", "rev/0/a", "rev/2/a", "rev/1/%", "rev/1/_x", "rev/1/\u00e9", "rev/1\u00e9"}
		for _, k := range keys {
			if _, err := l.Post(ctx, ledger.Entry{Key: k, Debit: ledger.Lightning, Credit: ledger.OfferingRunway(1), Amount: 1000}); err != nil {
				t.Fatal(err)
			}
		}
		for prefix, want := range map[string][]string{
			"rev/1/": {"rev/1/a", "rev/1/b", "rev/1/%", "rev/1/_x", "rev/1/\u00e9"},
			"rev/1%": {"rev/1%"},
			"rev/1_": {"rev/1_"},
			"rev/1":  {"rev/1/a", "rev/1/b", "rev/10/a", "rev/1", "rev/1.", "rev/10", "rev/1%", "rev/1_", "rev/1/%", "rev/1/_x", "rev/1/\u00e9", "rev/1\u00e9"},
			"nope":   nil,
		} {
			got, err := l.TransfersWithPrefix(ctx, prefix)
			if err != nil {
				t.Fatal(err)
			}
			var gotKeys []string
			for _, tr := range got {
				gotKeys = append(gotKeys, tr.Key)
			}
			if !slices.Equal(gotKeys, want) {
				t.Errorf("TransfersWithPrefix(%q) = %q, want %q (by id)", prefix, gotKeys, want)
			}
		}
	})
}

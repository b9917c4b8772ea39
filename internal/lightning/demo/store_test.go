package demo

import (
	"context"
	"testing"
	"time"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/lightning"
)

// replayed counts what SettledInvoices hands over after index before it
// would wait.
func replayed(t *testing.T, n *Node, after uint64) []lightning.Invoice {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	var got []lightning.Invoice
	_ = n.SettledInvoices(ctx, after, func(inv lightning.Invoice) error { got = append(got, inv); return nil })
	return got
}

// An invoice made before a restart is paid after it, by hash or by its
// BOLT11 string, and reported settled once; the indexes continue.
func TestOpenKeepsInvoicesAcrossRestart(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		first, err := Open(ctx, d, seeded(1))
		if err != nil {
			t.Fatal(err)
		}
		paidBefore := mustCreate(t, first, lightning.CreateInvoiceRequest{AmountMsat: 1000, Memo: "a"})
		open := mustCreate(t, first, lightning.CreateInvoiceRequest{AmountMsat: 2000, Memo: "b"})
		if _, err := first.Pay(ctx, paidBefore.PaymentHash); err != nil {
			t.Fatal(err)
		}

		// Restart: a new node (new key) on the same database; the site
		// had credited settle index 1.
		second, err := Open(ctx, d, seeded(2), WithIndexBase(1))
		if err != nil {
			t.Fatal(err)
		}
		got, err := second.LookupInvoice(ctx, open.PaymentHash)
		if err != nil || got.State != lightning.InvoiceOpen || got.PaymentRequest != open.PaymentRequest || got.AmountMsat != 2000 {
			t.Fatalf("lookup after restart = %+v, %v", got, err)
		}
		if n := len(replayed(t, second, 1)); n != 0 {
			t.Fatalf("%d replayed after the credited index, want 0", n)
		}
		settled, err := second.PayRequest(ctx, open.PaymentRequest)
		if err != nil || settled.State != lightning.InvoiceSettled || settled.SettleIndex != 2 || settled.PaidMsat != 2000 {
			t.Fatalf("pay after restart = %+v, %v", settled, err)
		}
		again, err := second.Pay(ctx, open.PaymentHash)
		if err != nil || again.SettleIndex != 2 {
			t.Fatalf("second pay = %+v, %v", again, err)
		}
		if got := replayed(t, second, 1); len(got) != 1 || got[0].PaymentHash != open.PaymentHash {
			t.Fatalf("replayed %+v, want the one invoice paid after restart", got)
		}
		next := mustCreate(t, second, lightning.CreateInvoiceRequest{AmountMsat: 3000})
		if next.AddIndex != 3 {
			t.Fatalf("add index after restart %d, want 3", next.AddIndex)
		}

		// Another restart, with the site behind (it credited nothing after
		// 1): the settlement it missed is replayed, once.
		third, err := Open(ctx, d, seeded(3), WithIndexBase(1))
		if err != nil {
			t.Fatal(err)
		}
		if got := replayed(t, third, 1); len(got) != 1 || got[0].PaymentHash != open.PaymentHash {
			t.Fatalf("replayed %+v after a restart, want the uncredited settlement", got)
		}
		// A self payment of an invoice an earlier key signed settles it
		// with no fee.
		p, err := third.SendPayment(ctx, lightning.PayRequest{PaymentRequest: next.PaymentRequest})
		if err != nil || p.State != lightning.PaymentSucceeded || p.FeeMsat != 0 {
			t.Fatalf("self payment = %+v, %v", p, err)
		}
		if inv, _ := third.LookupInvoice(ctx, next.PaymentHash); inv.SettleIndex != 3 {
			t.Fatalf("settle index %d, want 3", inv.SettleIndex)
		}
	})
}

// WithIndexBase above every stored index still wins: an emptied table
// never makes the node reuse a settle index the site credited.
func TestOpenIndexBaseAboveStored(t *testing.T) {
	d := dbtest.SQLite(t)
	ctx := context.Background()
	n, err := Open(ctx, d, seeded(1), WithIndexBase(100))
	if err != nil {
		t.Fatal(err)
	}
	inv := mustCreate(t, n, lightning.CreateInvoiceRequest{AmountMsat: 1000})
	if inv.AddIndex != 101 {
		t.Fatalf("add index %d, want 101", inv.AddIndex)
	}
	if s, err := n.Pay(ctx, inv.PaymentHash); err != nil || s.SettleIndex != 101 {
		t.Fatalf("Pay = %+v, %v", s, err)
	}
}

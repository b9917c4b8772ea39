package ledger_test

import (
	"context"
	"testing"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/money"
)

// TestPostAbove32Bits: an amount above 2^31 msat (about 0.02 BTC) posts
// on its own statement too. PostgreSQL once typed the amount in the
// balance update's CASE as int4 and refused it.
func TestPostAbove32Bits(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		l := ledger.New(d, nil)
		amount := money.MustSats(5_000_000) // 5e9 msat
		if _, err := l.Post(context.Background(), ledger.Entry{Key: "big", Debit: ledger.Lightning, Credit: ledger.OfferingRunway(1), Amount: amount}); err != nil {
			t.Fatal(err)
		}
		if got := balance(t, l, ledger.OfferingRunway(1)); got != amount {
			t.Fatalf("balance %s", got)
		}
		checkInvariants(t, l)
	})
}

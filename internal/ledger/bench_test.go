package ledger_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/ledger"
)

// The two benchmarks below are read together (docs/benchmarks.md): ledger
// transfers per second against raw single-row INSERTs per second on the
// same pool, both with 8 concurrent clients per core. Run with
// DATABASE_URL set for PostgreSQL; SQLite otherwise.

func benchDB(b *testing.B) *db.DB {
	if testing.Short() {
		b.Skip("short")
	}
	return dbtest.Postgres(b)
}

// BenchmarkLedgerPost posts transfers from lightning into 64 offering
// runways as invoice settlements do: each in its own transaction, the
// ledger bound to it, the runway locked first (the one write path).
func BenchmarkLedgerPost(b *testing.B) {
	d := benchDB(b)
	l := ledger.New(d, nil)
	ctx := context.Background()
	var n atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			err := d.Tx(ctx, func(tx db.Tx) error {
				in := l.In(tx)
				e := ledger.Entry{Key: fmt.Sprintf("bench:%d", i), Debit: ledger.Lightning, Credit: ledger.OfferingRunway(i % 64), Amount: 1000}
				if err := in.Lock(ctx, e.Debit, e.Credit); err != nil {
					return err
				}
				_, err := in.Post(ctx, e)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.StopTimer()
	if err := l.CheckInvariants(ctx); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRawInsert is the yardstick: one single-row INSERT per
// operation into a table shaped like transfers, on the same pool.
func BenchmarkRawInsert(b *testing.B) {
	d := benchDB(b)
	ctx := context.Background()
	if err := d.Gorm(ctx).Exec(`CREATE TABLE raw_rows (id BIGSERIAL PRIMARY KEY, key TEXT NOT NULL UNIQUE, a BIGINT NOT NULL, b BIGINT NOT NULL, amount BIGINT NOT NULL, created_at TIMESTAMPTZ NOT NULL)`).Error; err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			err := d.Gorm(ctx).Exec("INSERT INTO raw_rows (key, a, b, amount, created_at) VALUES (?, ?, ?, ?, ?)",
				fmt.Sprintf("bench:%d", i), 1, i%64, 1000, time.Now()).Error
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

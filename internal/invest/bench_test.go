package invest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/invest"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/money"
)

const benchInvestments = 10_000

// seedInvestments makes n active investments in the fixture's offering
// with multi-row INSERTs (the benchmark measures the split, not this).
func seedInvestments(tb testing.TB, f *fixture, n int) {
	tb.Helper()
	ctx := context.Background()
	f.setTerms(tb, 5000, 1000000, 1, 1_000_000, 0)
	now := f.clock.Now()
	err := f.db.Tx(ctx, func(tx db.Tx) error {
		for start := 0; start < n; start += 1000 {
			var sb strings.Builder
			sb.WriteString(`INSERT INTO investments (offering_id, claim_key_hash, payment_hash, state, principal_msat, share_bps, cap_bps,
				cap_msat, returned_msat, expires_at, created_at, activated_at) VALUES `)
			var args []any
			for i := start; i < min(start+1000, n); i++ {
				if i > start {
					sb.WriteString(", ")
				}
				sb.WriteString("(?, ?, ?, 'active', ?, 5000, 1000000, ?, 0, ?, ?, ?)")
				p := money.Msat(1_000_000 + int64(i)*997%50_000_000)
				args = append(args, f.offering.ID, fmt.Sprintf("k%064d", i), fmt.Sprintf("h%064d", i), p, p*100, now, now, now)
			}
			if err := tx.Gorm(ctx).Exec(sb.String(), args...).Error; err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkDistribute10k is one revenue event split among 10,000 active
// investments, end to end: read them, split, write 10,000 transfers and
// balance changes and the investments' returns, commit. Run it with
// DATABASE_URL set, next to BenchmarkBulkInsert10k (docs/benchmarks.md).
func BenchmarkDistribute10k(b *testing.B) {
	d := benchDB(b)
	f := newFixture(b, d)
	seedInvestments(b, f, benchInvestments)
	ctx := context.Background()
	i := 0
	distribute := func() {
		i++
		err := d.Tx(ctx, func(tx db.Tx) error {
			dist, err := f.invest.Distribute(ctx, tx, invest.RevenueEvent{OfferingID: f.offering.ID, Amount: money.MustSats(1_000_000),
				Key: fmt.Sprintf("bench:%d", i), From: ledger.Lightning})
			if err == nil && len(dist.Parts) != benchInvestments {
				err = fmt.Errorf("%d parts", len(dist.Parts))
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	distribute() // the payable accounts exist from here on, as in a running round
	b.ResetTimer()
	for b.Loop() {
		distribute()
	}
	b.StopTimer()
	if err := f.ledger.CheckInvariants(ctx); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkBulkInsert10k is the yardstick: 10,000 rows shaped like
// transfers in multi-row INSERTs of 1,000, in one transaction.
func BenchmarkBulkInsert10k(b *testing.B) {
	d := benchDB(b)
	ctx := context.Background()
	// The same columns, indexes and checks as transfers (not its foreign
	// keys): what any table of transfers must pay for on insert.
	if err := d.Gorm(ctx).Exec(`CREATE TABLE bench_transfers (LIKE transfers INCLUDING ALL)`).Error; err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	round := 0
	b.ResetTimer()
	for b.Loop() {
		round++
		err := d.Tx(ctx, func(tx db.Tx) error {
			for start := 0; start < benchInvestments; start += 1000 {
				var sb strings.Builder
				sb.WriteString("INSERT INTO bench_transfers (key, debit_account_id, credit_account_id, amount_msat, kind, memo, created_at) VALUES ")
				args := make([]any, 0, 7000)
				for i := start; i < start+1000; i++ {
					if i > start {
						sb.WriteString(", ")
					}
					sb.WriteString("(?, ?, ?, ?, ?, ?, ?)")
					args = append(args, fmt.Sprintf("bench:%d/investment/%d", round, i), 1, i+2, 50_000, "posted", "revenue share", now)
				}
				if err := tx.Gorm(ctx).Exec(sb.String(), args...).Error; err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func benchDB(b *testing.B) *db.DB { return dbtest.Postgres(b) } // skipped without DATABASE_URL

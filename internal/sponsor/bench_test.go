package sponsor_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/money"
	"github.com/keepalive/keepalive/internal/sponsor"
)

// BenchmarkClearPeriod10k clears one period of 10,000 paid bids on
// PostgreSQL (DATABASE_URL), every transfer and bid update included, and
// in the same run inserts 10,000 rows shaped like transfers with raw
// multi-row INSERTs (1,000 rows a statement, one transaction): the
// yardstick of docs/benchmarks.md. It reports insert ÷ clearing (goal ≥ 0.3).
func BenchmarkClearPeriod10k(b *testing.B) {
	const n = 10_000
	d := dbtest.Postgres(b)
	ctx := context.Background()
	f := newFixture(b, d)
	benchSettings(b, f)
	if err := d.Gorm(ctx).Exec(`CREATE TABLE raw_rows (id BIGSERIAL PRIMARY KEY, key TEXT NOT NULL UNIQUE, a BIGINT NOT NULL,
		b BIGINT NOT NULL, amount BIGINT NOT NULL, kind TEXT NOT NULL, memo TEXT NOT NULL, created_at TIMESTAMPTZ NOT NULL)`).Error; err != nil {
		b.Fatal(err)
	}
	var clearing, inserting time.Duration
	for i := 0; b.Loop(); i++ {
		start := t0.Truncate(time.Hour).Add(time.Duration(i+1) * time.Hour)
		seedBids(b, f, start, n, i)
		f.clock.Advance(start.Add(time.Minute).Sub(f.clock.Now()))
		t := time.Now()
		if _, cleared, err := f.sponsor.ClearPeriod(ctx, f.offering.ID, start); err != nil || !cleared {
			b.Fatalf("clear: %v %v", cleared, err)
		}
		clearing += time.Since(t)
		t = time.Now()
		rawInsert(b, d, n, i)
		inserting += time.Since(t)
		f.clock.Advance(t0.Sub(f.clock.Now()))
	}
	b.ReportMetric(float64(clearing.Milliseconds())/float64(b.N), "clear-ms/op")
	b.ReportMetric(float64(inserting.Milliseconds())/float64(b.N), "insert-ms/op")
	b.ReportMetric(float64(inserting)/float64(clearing), "insert/clear")
	if err := f.ledger.CheckInvariants(ctx); err != nil {
		b.Fatal(err)
	}
}

// benchSettings opens hourly periods of three slots (weights
// 10000/6000/3000, reserve 1 sat) on the fixture's offering.
func benchSettings(b *testing.B, f *fixture) {
	hour, slots, reserve, open, on := sponsor.Hour, 3, sat(1), sponsor.MaxOpenPeriods, true
	if _, err := f.sponsor.UpdateSettings(context.Background(), f.offering.ID, sponsor.SettingsInput{Enabled: &on, Period: &hour, Slots: &slots,
		Reserve: &reserve, Weights: []int{10000, 6000, 3000}, OpenPeriods: &open}); err != nil {
		b.Fatal(err)
	}
}

// seedBids writes n paid bids for a period and their money in escrow,
// as settlements would have, in bulk.
func seedBids(b *testing.B, f *fixture, start time.Time, n, round int) {
	ctx := context.Background()
	bids := make([]sponsor.Bid, n)
	var total money.Msat
	for i := range bids {
		settled := start.Add(-time.Duration(n-i) * time.Second)
		amount := money.Msat(1_000_000 + (i*7919)%100_000_000)
		total += amount
		bids[i] = sponsor.Bid{PublicID: fmt.Sprintf("b%06d%08d", round, i), OfferingID: f.offering.ID, PeriodStart: start,
			PeriodEnd: start.Add(time.Hour), ClaimKeyHash: "h", Amount: amount, State: sponsor.BidActive, DisplayName: "x",
			DisplayURL: "https://x.example", SettledAt: &settled, CreatedAt: settled}
	}
	if err := f.db.Gorm(ctx).CreateInBatches(&bids, 1000).Error; err != nil {
		b.Fatal(err)
	}
	if _, err := f.ledger.Post(ctx, ledger.Entry{Key: fmt.Sprint("seed:", round), Debit: ledger.Lightning,
		Credit: ledger.OfferingEscrow(f.offering.ID), Amount: total}); err != nil {
		b.Fatal(err)
	}
}

func rawInsert(b *testing.B, d *db.DB, n, round int) {
	ctx := context.Background()
	err := d.Tx(ctx, func(tx db.Tx) error {
		for start := 0; start < n; start += 1000 {
			var sb strings.Builder
			sb.WriteString("INSERT INTO raw_rows (key, a, b, amount, kind, memo, created_at) VALUES ")
			args := make([]any, 0, 7000)
			for i := start; i < min(start+1000, n); i++ {
				if i > start {
					sb.WriteString(",")
				}
				sb.WriteString("(?, ?, ?, ?, ?, ?, ?)")
				args = append(args, fmt.Sprintf("raw:%d:%d", round, i), 1, i, 1000, "posted", "losing bid", time.Now())
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

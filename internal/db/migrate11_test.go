package db_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
)

// TestMigration11MovesWithdrawLinks: migration 00011 moves owners' and
// investors' one-time withdraw links into the one table keyed by source
// account, keeping spent links spent, and its Down moves them back.
func TestMigration11MovesWithdrawLinks(t *testing.T) {
	dialects := []db.Dialect{db.SQLite}
	if os.Getenv("DATABASE_URL") != "" {
		dialects = append(dialects, db.Postgres)
	}
	for _, dialect := range dialects {
		t.Run(string(dialect), func(t *testing.T) {
			ctx := context.Background()
			d, err := db.Open(ctx, dbtest.URL(t, dialect), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			fsys, gd, err := db.MigrationsFS(d.Dialect)
			if err != nil {
				t.Fatal(err)
			}
			sqlDB, err := d.SQL()
			if err != nil {
				t.Fatal(err)
			}
			p, err := goose.NewProvider(gd, sqlDB, fsys)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.UpTo(ctx, 10); err != nil {
				t.Fatal(err)
			}
			g := d.Gorm(ctx)
			now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
			used := now.Add(time.Minute)
			for _, q := range []struct {
				sql  string
				args []any
			}{
				{`INSERT INTO offerings (slug, name, url, burn_rate_msat_per_hour, manage_key_hash, accrued_at, created_at, updated_at)
				  VALUES ('site', 'My Site', 'https://example.org', 1000, 'h', ?, ?, ?)`, []any{now, now, now}},
				{`INSERT INTO investments (offering_id, claim_key_hash, payment_hash, state, principal_msat, share_bps, cap_bps, cap_msat, expires_at, created_at)
				  VALUES (1, 'c', 'p', 'active', 1000, 1000, 20000, 2000, ?, ?)`, []any{now, now}},
				{`INSERT INTO lnurl_withdrawals (k1_hash, offering_id, payment_hash, created_at, expires_at, used_at) VALUES ('o1', 1, 'ph', ?, ?, ?)`, []any{now, now, used}},
				{`INSERT INTO lnurl_withdrawals (k1_hash, offering_id, created_at, expires_at) VALUES ('o2', 1, ?, ?)`, []any{now, now}},
				{`INSERT INTO investment_withdraw_links (k1_hash, investment_id, created_at, expires_at) VALUES ('i1', 1, ?, ?)`, []any{now, now}},
			} {
				if err := g.Exec(q.sql, q.args...).Error; err != nil {
					t.Fatal(err)
				}
			}
			if _, err := p.UpTo(ctx, 11); err != nil {
				t.Fatal(err)
			}
			type row struct {
				K1Hash        string
				SourceAccount string
				OfferingID    *int64
				Description   string
				PaymentHash   *string
				UsedAt        *time.Time
			}
			var rows []row
			if err := g.Raw("SELECT k1_hash, source_account, offering_id, description, payment_hash, used_at FROM withdraw_links ORDER BY k1_hash").Scan(&rows).Error; err != nil {
				t.Fatal(err)
			}
			if len(rows) != 3 {
				t.Fatalf("%d rows: %+v", len(rows), rows)
			}
			i1, o1, o2 := rows[0], rows[1], rows[2]
			if i1.SourceAccount != "investment/1/payable" || i1.OfferingID != nil || i1.Description != "Keepalive: investment returns" || i1.UsedAt != nil {
				t.Fatalf("investment link: %+v", i1)
			}
			if o1.SourceAccount != "offering/1/earned" || o1.OfferingID == nil || *o1.OfferingID != 1 || o1.Description != "Keepalive: earnings of My Site" ||
				o1.PaymentHash == nil || *o1.PaymentHash != "ph" || o1.UsedAt == nil || !o1.UsedAt.Equal(used) {
				t.Fatalf("spent owner link: %+v", o1)
			}
			if o2.SourceAccount != "offering/1/earned" || o2.UsedAt != nil || o2.PaymentHash != nil {
				t.Fatalf("owner link: %+v", o2)
			}
			// A bid's refund link has no table to go back to; the others do.
			if err := g.Exec(`INSERT INTO withdraw_links (k1_hash, source_account, description, created_at, expires_at) VALUES ('b1', 'bid/9/refund', 'x', ?, ?)`, now, now).Error; err != nil {
				t.Fatal(err)
			}
			if _, err := p.DownTo(ctx, 10); err != nil {
				t.Fatal(err)
			}
			var owners, investors []string
			g.Raw("SELECT k1_hash FROM lnurl_withdrawals WHERE offering_id = 1 ORDER BY k1_hash").Scan(&owners)
			g.Raw("SELECT k1_hash FROM investment_withdraw_links WHERE investment_id = 1").Scan(&investors)
			if len(owners) != 2 || owners[0] != "o1" || len(investors) != 1 || investors[0] != "i1" {
				t.Fatalf("down: owners %v investors %v", owners, investors)
			}
			if _, err := p.Up(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

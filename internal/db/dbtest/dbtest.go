// Package dbtest gives tests a fresh, migrated database: SQLite always,
// and PostgreSQL too when DATABASE_URL is set. Each test gets its own
// SQLite file or PostgreSQL schema, dropped when the test ends.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/keepalive/keepalive/internal/db"
)

// Each runs fn once per available database, as subtests named "sqlite"
// and "postgres".
func Each(t *testing.T, fn func(t *testing.T, d *db.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	if os.Getenv("DATABASE_URL") != "" {
		t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
	}
}

// SQLite returns a migrated database in a new file under t.TempDir().
func SQLite(t testing.TB) *db.DB {
	t.Helper()
	return open(t, filepath.Join(t.TempDir(), "test.db"))
}

// Postgres returns a migrated database in a new schema of the database
// named by DATABASE_URL; the test is skipped when it is unset.
func Postgres(t testing.TB, opts ...db.Option) *db.DB {
	t.Helper()
	return open(t, postgresSchemaURL(t), opts...)
}

// URL returns a DATABASE_URL for a fresh, empty database of the given
// dialect: a new SQLite file, or a new PostgreSQL schema. It is for tests
// that start the whole site, which opens and migrates the database itself.
func URL(t testing.TB, dialect db.Dialect) string {
	t.Helper()
	if dialect == db.Postgres {
		return postgresSchemaURL(t)
	}
	return filepath.Join(t.TempDir(), "site.db")
}

// postgresSchemaURL creates a schema, drops it when the test ends, and
// returns DATABASE_URL with search_path set to it.
func postgresSchemaURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("DATABASE_URL")
	if base == "" {
		t.Skip("DATABASE_URL is not set: PostgreSQL tests skipped")
	}
	ctx := context.Background()
	admin, err := db.Open(ctx, base, nil)
	if err != nil {
		t.Fatalf("dbtest: open %s: %v", redact(base), err)
	}
	schema := "t_" + randomHex(8)
	if err := admin.Gorm(ctx).Exec("CREATE SCHEMA " + schema).Error; err != nil {
		t.Fatalf("dbtest: create schema: %v", err)
	}
	t.Cleanup(func() {
		admin.Gorm(context.Background()).Exec("DROP SCHEMA " + schema + " CASCADE")
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("dbtest: DATABASE_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func open(t testing.TB, databaseURL string, opts ...db.Option) *db.DB {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, databaseURL, nil, opts...)
	if err != nil {
		t.Fatalf("dbtest: open: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	if err := d.Migrate(ctx, nil); err != nil {
		t.Fatalf("dbtest: migrate: %v", err)
	}
	return d
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparseable URL)"
	}
	return p.Redacted()
}

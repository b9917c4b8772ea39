package db_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
)

func migrationNames(t *testing.T, d db.Dialect) []string {
	t.Helper()
	fsys, _, err := db.MigrationsFS(d)
	if err != nil {
		t.Fatal(err)
	}
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	return names
}

// TestMigrationSetsMatch: the SQLite and PostgreSQL sets have the same
// versions, so one schema version means the same thing on both.
func TestMigrationSetsMatch(t *testing.T) {
	lite, pg := migrationNames(t, db.SQLite), migrationNames(t, db.Postgres)
	if strings.Join(lite, ",") != strings.Join(pg, ",") {
		t.Fatalf("migration sets differ:\nsqlite:   %v\npostgres: %v", lite, pg)
	}
	if len(lite) == 0 {
		t.Fatal("no migrations")
	}
}

type column struct{ table, name string }

func sqliteColumns(t *testing.T, d *db.DB) map[column]bool {
	var tables []string
	d.Gorm(context.Background()).Raw("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'goose_db_version'").Scan(&tables)
	out := map[column]bool{}
	for _, tb := range tables {
		var cols []struct{ Name string }
		d.Gorm(context.Background()).Raw("SELECT name FROM pragma_table_info(?)", tb).Scan(&cols)
		for _, c := range cols {
			out[column{tb, c.Name}] = true
		}
	}
	return out
}

func postgresColumns(t *testing.T, d *db.DB) map[column]bool {
	var rows []struct{ TableName, ColumnName string }
	d.Gorm(context.Background()).Raw(`SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name <> 'goose_db_version'`).Scan(&rows)
	out := map[column]bool{}
	for _, r := range rows {
		out[column{r.TableName, r.ColumnName}] = true
	}
	return out
}

// TestMigratedSchemasAreEquivalent: both sets produce the same tables
// and columns.
func TestMigratedSchemasAreEquivalent(t *testing.T) {
	lite := sqliteColumns(t, dbtest.SQLite(t))
	if len(lite) == 0 {
		t.Fatal("no columns in the migrated SQLite schema")
	}
	pg := postgresColumns(t, dbtest.Postgres(t))
	for c := range lite {
		if !pg[c] {
			t.Errorf("%s.%s is in SQLite only", c.table, c.name)
		}
	}
	for c := range pg {
		if !lite[c] {
			t.Errorf("%s.%s is in PostgreSQL only", c.table, c.name)
		}
	}
}

func TestMigrateTwiceIsANoop(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		if err := d.Migrate(t.Context(), nil); err != nil {
			t.Fatalf("second migration run: %v", err)
		}
	})
}

// TestSQLitePathWithURICharacters: a '#' or '?' in the file's path must
// not cut the path short (it would silently share one database).
func TestSQLitePathWithURICharacters(t *testing.T) {
	dir := t.TempDir()
	a, err := db.Open(t.Context(), filepath.Join(dir, "a#1", "x.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := db.Open(t.Context(), filepath.Join(dir, "a#2", "x.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := a.Gorm(context.Background()).Exec("CREATE TABLE only_in_a (x INTEGER)").Error; err != nil {
		t.Fatal(err)
	}
	if err := b.Gorm(context.Background()).Exec("CREATE TABLE only_in_a (x INTEGER)").Error; err != nil {
		t.Fatalf("the two paths opened the same database: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a#1", "x.db")); err != nil {
		t.Fatalf("database file not where asked: %v", err)
	}
}

func TestAfterCommitRunsOnlyOnCommit(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ran := 0
		err := d.Tx(t.Context(), func(tx db.Tx) error {
			tx.AfterCommit(func() { ran++ })
			return nil
		})
		if err != nil || ran != 1 {
			t.Fatalf("after a commit: ran %d times (%v)", ran, err)
		}
		_ = d.Tx(t.Context(), func(tx db.Tx) error {
			tx.AfterCommit(func() { ran++ })
			return errors.New("roll back")
		})
		if ran != 1 {
			t.Fatalf("a rolled-back transaction ran its hook")
		}
		// A retried attempt's hooks go with it: only the committed
		// attempt's run.
		attempts := 0
		err = d.Tx(t.Context(), func(tx db.Tx) error {
			attempts++
			tx.AfterCommit(func() { ran++ })
			if attempts == 1 {
				return db.ErrRetry
			}
			return nil
		})
		if err != nil || attempts != 2 || ran != 2 {
			t.Fatalf("retried transaction: %d attempts, hooks ran %d times in all (%v)", attempts, ran, err)
		}
	})
}

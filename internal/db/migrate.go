package db

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/keepalive/keepalive/migrations"
)

// MigrationsFS returns the migration set for a dialect, rooted at its
// folder.
func MigrationsFS(d Dialect) (fs.FS, goose.Dialect, error) {
	switch d {
	case Postgres:
		sub, err := fs.Sub(migrations.Postgres, "postgres")
		return sub, goose.DialectPostgres, err
	default:
		sub, err := fs.Sub(migrations.SQLite, "sqlite")
		return sub, goose.DialectSQLite3, err
	}
}

// Migrate applies every pending migration. On PostgreSQL it holds a
// session advisory lock so that replicas starting together migrate once.
func (d *DB) Migrate(ctx context.Context, log *slog.Logger) error {
	fsys, dialect, err := MigrationsFS(d.Dialect)
	if err != nil {
		return fmt.Errorf("db: migrations: %w", err)
	}
	sqlDB, err := d.SQL()
	if err != nil {
		return fmt.Errorf("db: migrations: %w", err)
	}
	var opts []goose.ProviderOption
	if d.Dialect == Postgres {
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return fmt.Errorf("db: migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(dialect, sqlDB, fsys, opts...)
	if err != nil {
		return fmt.Errorf("db: migrations: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("db: migrate: %w", err)
	}
	for _, r := range results {
		if log != nil {
			log.Info("migration applied", "version", r.Source.Version, "file", r.Source.Path, "took", r.Duration)
		}
	}
	return nil
}

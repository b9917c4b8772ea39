// Package migrations holds the database schema as goose SQL migrations,
// one set per dialect with the same version numbers, embedded in the
// binary. A migration is never edited after it lands: append a new one.
package migrations

import "embed"

// SQLite holds the migrations for SQLite, under the folder "sqlite".
//
//go:embed sqlite/*.sql
var SQLite embed.FS

// Postgres holds the migrations for PostgreSQL, under the folder "postgres".
//
//go:embed postgres/*.sql
var Postgres embed.FS

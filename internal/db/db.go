// Package db owns database access: opening SQLite (the default) or
// PostgreSQL, running the embedded migrations, translating driver errors
// into domain errors, and the helpers that run work in a transaction with
// retries on both databases.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Dialect names the database in use.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is an open database and its dialect. Its GORM handle is reached
// only through Gorm, by the stores of the domain packages: each package
// owns its tables, and nothing else writes SQL against them.
type DB struct {
	gorm    *gorm.DB
	replay  *gorm.DB // connections whose commits do not wait for the disk (TxReplayable); nil for SQLite in memory
	Dialect Dialect
}

// Conn is where a package's store runs its statements: the pool (*DB) or
// a transaction in progress (Tx).
type Conn interface {
	Gorm(ctx context.Context) *gorm.DB
}

var (
	_ Conn = (*DB)(nil)
	_ Conn = Tx{}
)

// FirstRow runs a hand-written SELECT on c and returns its first row,
// and false when it returns none: the lookup by a unique key that stores
// writing their SQL by hand do again and again.
func FirstRow[T any](ctx context.Context, c Conn, query string, args ...any) (T, bool, error) {
	var rows []T
	if err := c.Gorm(ctx).Raw(query, args...).Scan(&rows).Error; err != nil || len(rows) == 0 {
		var zero T
		return zero, false, err
	}
	return rows[0], true, nil
}

// Gorm returns the pool bound to ctx, for a package's store.
func (d *DB) Gorm(ctx context.Context) *gorm.DB { return d.gorm.WithContext(ctx) }

// SQL returns the pool as database/sql, for the few paths that bypass
// GORM (migrations, leases, the invoice insert).
func (d *DB) SQL() (*sql.DB, error) { return d.gorm.DB() }

// Ping checks that the database answers.
func (d *DB) Ping(ctx context.Context) error {
	sqlDB, err := d.SQL()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

// DefaultSQLitePath is where the database lives when DATABASE_URL is unset.
const DefaultSQLitePath = "data/keepalive.db"

// DialectOf tells which database a DATABASE_URL names; empty means SQLite.
func DialectOf(databaseURL string) Dialect {
	if strings.HasPrefix(databaseURL, "postgres://") || strings.HasPrefix(databaseURL, "postgresql://") {
		return Postgres
	}
	return SQLite
}

// Option is an optional setting of Open.
type Option func(*options)

type options struct{ tracer pgx.QueryTracer }

// WithQueryTracer makes Open on PostgreSQL report every statement sent to
// the server (BEGIN and COMMIT included) to t: how benchmarks count the
// round trips of an operation. SQLite ignores it.
func WithQueryTracer(t pgx.QueryTracer) Option { return func(o *options) { o.tracer = t } }

// Open opens the database named by databaseURL: a postgres:// URL, or a
// SQLite file path ("" means DefaultSQLitePath, "sqlite://path" and
// "file:path" are accepted too).
func Open(ctx context.Context, databaseURL string, log *slog.Logger, opts ...Option) (*DB, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	gcfg := &gorm.Config{
		Logger:                 gormLogger(log),
		SkipDefaultTransaction: true,
		PrepareStmt:            true,
		NowFunc:                func() time.Time { return time.Now().UTC() },
	}
	if DialectOf(databaseURL) == Postgres {
		// pgx caches prepared statements per connection by itself; GORM's
		// own statement cache would prepare each one again inside every
		// transaction (a round trip per statement).
		gcfg.PrepareStmt = false
		cfg, err := pgx.ParseConfig(databaseURL)
		if err != nil {
			return nil, fmt.Errorf("db: postgres url: %w", err)
		}
		cfg.Tracer = o.tracer
		g, err := openPostgres(ctx, cfg, gcfg, 20)
		if err != nil {
			return nil, err
		}
		replayCfg := cfg.Copy()
		replayCfg.RuntimeParams["synchronous_commit"] = "off"
		replay, err := openPostgres(ctx, replayCfg, gcfg, 4)
		if err != nil {
			closePool(g)
			return nil, err
		}
		return &DB{gorm: g, replay: replay, Dialect: Postgres}, nil
	}

	path := sqlitePath(databaseURL)
	if path != ":memory:" {
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, fmt.Errorf("db: create folder for %s: %w", path, err)
		}
	}
	// WAL lets readers run beside the writer; immediate transactions take
	// the write lock up front so two writers wait (busy_timeout) instead
	// of failing on upgrade; foreign keys are off by default in SQLite.
	// synchronous=FULL makes a commit durable before it returns, as on
	// PostgreSQL (NORMAL, in WAL mode, may lose the last commits to a power
	// cut or an OS crash: an invoice row lost after its BOLT11 was shown
	// would be a payment the site cannot credit); TxReplayable's pool
	// keeps NORMAL. A file: URI, so that the query below reaches SQLite;
	// the path is escaped so that a '#' or '?' in it stays part of the
	// file name.
	escaped := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	dsn := "file:" + escaped + "?_txlock=immediate" +
		"&_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)" +
		"&_pragma=foreign_keys(1)&_pragma=synchronous"
	g, err := openSQLite(ctx, path, dsn+"(FULL)", gcfg, 8)
	if err != nil {
		return nil, err
	}
	d := &DB{gorm: g, Dialect: SQLite}
	if path != ":memory:" { // a second pool would open a second, empty database
		if d.replay, err = openSQLite(ctx, path, dsn+"(NORMAL)", gcfg, 2); err != nil {
			closePool(g)
			return nil, err
		}
	}
	return d, nil
}

// openSQLite opens a pool of at most size connections to the SQLite
// database at path, through dsn.
func openSQLite(ctx context.Context, path, dsn string, gcfg *gorm.Config, size int) (*gorm.DB, error) {
	g, err := gorm.Open(sqliteDialector{dsn: dsn}, gcfg)
	if err != nil {
		return nil, fmt.Errorf("db: open sqlite %s: %w", path, err)
	}
	sqlDB, err := g.DB()
	if err != nil {
		return nil, fmt.Errorf("db: sqlite pool: %w", err)
	}
	sqlDB.SetMaxOpenConns(size)
	sqlDB.SetMaxIdleConns(size)
	if err := sqlDB.PingContext(ctx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("db: open sqlite %s: %w", path, err)
	}
	return g, nil
}

// SQLiteFile returns the file of the SQLite database that databaseURL
// names (for files that belong beside it).
func SQLiteFile(databaseURL string) string { return sqlitePath(databaseURL) }

func sqlitePath(databaseURL string) string {
	switch {
	case databaseURL == "":
		return DefaultSQLitePath
	case strings.HasPrefix(databaseURL, "sqlite://"):
		return strings.TrimPrefix(databaseURL, "sqlite://")
	case strings.HasPrefix(databaseURL, "file:"):
		p := strings.TrimPrefix(databaseURL, "file:")
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
		if u, err := url.PathUnescape(p); err == nil {
			return u
		}
		return p
	}
	return databaseURL
}

// Close closes the pool.
func (d *DB) Close() error {
	if d.replay != nil {
		closePool(d.replay)
	}
	sqlDB, err := d.SQL()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// openPostgres opens a pool of at most size sessions configured by cfg.
func openPostgres(ctx context.Context, cfg *pgx.ConnConfig, gcfg *gorm.Config, size int) (*gorm.DB, error) {
	g, err := gorm.Open(postgres.New(postgres.Config{Conn: stdlib.OpenDB(*cfg)}), gcfg)
	if err != nil {
		return nil, fmt.Errorf("db: open postgres: %w", err)
	}
	sqlDB, err := g.DB()
	if err != nil {
		return nil, fmt.Errorf("db: postgres pool: %w", err)
	}
	sqlDB.SetMaxOpenConns(size)
	sqlDB.SetMaxIdleConns(size)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	if err := sqlDB.PingContext(ctx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("db: connect postgres: %w", err)
	}
	return g, nil
}

func closePool(g *gorm.DB) {
	if sqlDB, err := g.DB(); err == nil {
		sqlDB.Close()
	}
}

func gormLogger(log *slog.Logger) logger.Interface {
	if log == nil {
		return logger.Discard
	}
	return quietCancel{logger.NewSlogLogger(log, logger.Config{
		SlowThreshold:             500 * time.Millisecond,
		LogLevel:                  logger.Warn,
		IgnoreRecordNotFoundError: true,
		ParameterizedQueries:      true, // never log values: keys and hashes pass through here
	})}
}

// quietCancel drops the log line of a query that failed only because its
// request was abandoned by the client: that is not a database problem.
type quietCancel struct{ logger.Interface }

func (q quietCancel) LogMode(l logger.LogLevel) logger.Interface {
	return quietCancel{q.Interface.LogMode(l)}
}

func (q quietCancel) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	if err != nil && (errors.Is(err, context.Canceled) || ctx.Err() != nil) {
		return
	}
	q.Interface.Trace(ctx, begin, fc, err)
}

var (
	// ErrNotFound is returned by stores when a row does not exist.
	ErrNotFound = errors.New("db: not found")
	// ErrDuplicate is returned when a unique constraint refuses a row.
	ErrDuplicate = errors.New("db: duplicate")
	// ErrRetry marks an error after which the whole transaction should
	// simply run again (it lost a race it will see the result of).
	ErrRetry = errors.New("db: retry")
)

// TranslateError maps driver errors to ErrNotFound and ErrDuplicate so that
// nothing above the stores looks at driver errors.
func TranslateError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return fmt.Errorf("%w: %w", ErrDuplicate, err)
	}
	msg := err.Error()
	if strings.Contains(msg, "UNIQUE constraint failed") || strings.Contains(msg, "constraint failed: UNIQUE") {
		return fmt.Errorf("%w: %w", ErrDuplicate, err)
	}
	return err
}

// retryable reports whether a transaction failed only because it raced
// another one and may simply be run again.
func retryable(err error) bool {
	if errors.Is(err, ErrRetry) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "40001" || pgErr.Code == "40P01" // serialization failure, deadlock
	}
	msg := err.Error()
	return strings.Contains(msg, "SQLITE_BUSY") || strings.Contains(msg, "database is locked")
}

// Tx is a transaction in progress. It is made only by (*DB).Tx and is
// what one operation spanning several packages passes between them: each
// package's store runs its statements on it, and effects that must wait
// for the commit (cache invalidation, notifying subscribers) are queued
// on it with AfterCommit.
type Tx struct {
	g       *gorm.DB
	dialect Dialect
	hooks   *commitHooks
}

// Gorm returns the transaction bound to ctx, for a package's store.
func (t Tx) Gorm(ctx context.Context) *gorm.DB { return t.g.WithContext(ctx) }

// Dialect names the database the transaction runs on.
func (t Tx) Dialect() Dialect { return t.dialect }

// ForUpdate ends a hand-written SELECT so that it locks the rows it reads
// for the rest of the transaction, on PostgreSQL; SQLite's immediate
// transactions hold the whole file already.
func (t Tx) ForUpdate(query string) string {
	if t.dialect == Postgres {
		return query + " FOR UPDATE"
	}
	return query
}

// AfterCommit runs fn once the transaction has committed, and never if it
// rolls back (a retried attempt's functions are dropped with it). This is
// the one way to run an effect after a commit.
func (t Tx) AfterCommit(fn func()) {
	t.hooks.mu.Lock()
	t.hooks.fns = append(t.hooks.fns, fn)
	t.hooks.mu.Unlock()
}

// Tx runs fn in a transaction, retrying a few times when the database
// reports a serialization failure, a deadlock or a busy SQLite file, then
// runs the functions fn queued with AfterCommit.
func (d *DB) Tx(ctx context.Context, fn func(tx Tx) error) error {
	return d.tx(ctx, d.gorm, fn)
}

// TxReplayable is Tx for work that is told again when it is lost: its
// commit returns before the write-ahead log reaches the disk (on
// PostgreSQL synchronous_commit = off), saving the wait for the disk on
// the path to a payer's page. A crash of the database server within about
// half a second of such a commit may undo it, whole (never in part:
// the database stays consistent), and only together with every later
// transaction of its own kind: any commit that waits for the disk, by
// any session, makes all earlier commits durable first, so nothing
// durable ever rests on a lost one. Use it only where the work and the
// marker that says it was done are written in the same transaction and
// whoever did it would do it again when the marker is lost: a settlement
// and the settlement stream's cursor, which is read again from lnd.
// On SQLite it runs on connections with synchronous=NORMAL (the others
// have FULL): its commit is written to the WAL file but not synced, so
// it survives a crash of the site and may be lost to a power cut.
func (d *DB) TxReplayable(ctx context.Context, fn func(tx Tx) error) error {
	if d.replay == nil {
		return d.Tx(ctx, fn)
	}
	return d.tx(ctx, d.replay, fn)
}

func (d *DB) tx(ctx context.Context, pool *gorm.DB, fn func(tx Tx) error) error {
	var err error
	for attempt := 0; attempt < 8; attempt++ {
		hooks := &commitHooks{}
		err = pool.WithContext(ctx).Transaction(func(g *gorm.DB) error {
			return fn(Tx{g: g, dialect: d.Dialect, hooks: hooks})
		})
		if err == nil {
			hooks.run()
			return nil
		}
		if !retryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(1<<attempt) * time.Millisecond):
		}
	}
	return err
}

// Snapshot runs fn in a read-only transaction that sees one consistent
// state of the database (repeatable read on PostgreSQL; SQLite's
// transactions always do), for checks that read many tables while the
// site runs.
func (d *DB) Snapshot(ctx context.Context, fn func(tx Tx) error) error {
	var opts []*sql.TxOptions
	if d.Dialect == Postgres {
		opts = append(opts, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	}
	return d.gorm.WithContext(ctx).Transaction(func(g *gorm.DB) error {
		return fn(Tx{g: g, dialect: d.Dialect, hooks: &commitHooks{}})
	}, opts...)
}

// commitHooks are functions to run once a transaction has committed.
type commitHooks struct {
	mu  sync.Mutex
	fns []func()
}

func (h *commitHooks) run() {
	h.mu.Lock()
	fns := h.fns
	h.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

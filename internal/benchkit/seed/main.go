// Command seed fills a PostgreSQL schema, through the real migrations,
// with data shaped like a large production site, for the benchmarks of
// docs/benchmarks.md (issue 9: page cost flat as the data grows):
//
//	DATABASE_URL=postgres://… go run ./internal/benchkit/seed -schema big \
//	    -offerings 100000 -invoices 1000000 -transfers 10000000
//
// Offerings are alive (80 %), dead (10 %), in grace (5 %) or never funded
// (5 %); one in a hundred is busy (50 times the payments of the others).
// Each funded offering has settled donation invoices and their settlement
// transfers, one accrual a UTC day while it had runway (with its
// consumption_days row), and a payout of its earnings every ten days
// (reserved, then posted, with its routing fee). Accounts carry the totals
// of their transfers; the ledger's invariant check and the consumption
// check run at the end. -keep-upto/-keep seed only some offerings — the
// same rows for them as in the full run — for the empty baseline.
//
// The SQL is set-based (seed.sql, INSERT … SELECT generate_series), run on
// one connection with FK triggers off (session_replication_role = replica)
// and then checked by query; the secondary indexes of transfers are
// dropped for the load and recreated from their own definitions. Like the
// migrations, it writes every package's tables, which no site code may.
package main

import (
	"context"
	"database/sql"
	_ "embed"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/offering"
)

//go:embed seed.sql
var seedSQL string

type options struct {
	schema                         string
	offerings, invoices, transfers int64
	keepUpto                       int64
	keep                           []int64
	replace, check                 bool
}

func main() {
	var o options
	var keep string
	flag.StringVar(&o.schema, "schema", "big", "PostgreSQL schema to create and fill")
	flag.Int64Var(&o.offerings, "offerings", 100_000, "offerings")
	flag.Int64Var(&o.invoices, "invoices", 1_000_000, "settled invoices")
	flag.Int64Var(&o.transfers, "transfers", 10_000_000, "transfers, about (settlements, accruals, payouts)")
	flag.Int64Var(&o.keepUpto, "keep-upto", 0, "seed only offerings 1..n (and -keep) of the full plan; 0: all")
	flag.StringVar(&keep, "keep", "", "comma-separated offering numbers seeded besides -keep-upto")
	flag.BoolVar(&o.replace, "replace", false, "drop the schema first if it exists")
	flag.BoolVar(&o.check, "check", true, "run the ledger invariant and consumption checks at the end")
	flag.Parse()
	for _, f := range strings.FieldsFunc(keep, func(r rune) bool { return r == ',' }) {
		n, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "seed: -keep: %q is not an offering number\n", f)
			os.Exit(2)
		}
		o.keep = append(o.keep, n)
	}
	if err := run(context.Background(), os.Getenv("DATABASE_URL"), o); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
}

var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

func run(ctx context.Context, base string, o options) error {
	if db.DialectOf(base) != db.Postgres {
		return fmt.Errorf("DATABASE_URL must name a PostgreSQL database")
	}
	if !schemaName.MatchString(o.schema) || o.schema == "public" {
		return fmt.Errorf("-schema %q: want a new lower-case schema name, not public", o.schema)
	}
	if o.offerings <= 0 || o.invoices < 0 || o.transfers < o.invoices {
		return fmt.Errorf("want offerings > 0 and invoices <= transfers")
	}
	start := time.Now()
	admin, err := db.Open(ctx, base, nil)
	if err != nil {
		return err
	}
	defer admin.Close()
	if o.replace {
		if err := admin.Gorm(ctx).Exec("DROP SCHEMA IF EXISTS " + o.schema + " CASCADE").Error; err != nil {
			return fmt.Errorf("drop schema: %w", err)
		}
	}
	if err := admin.Gorm(ctx).Exec("CREATE SCHEMA " + o.schema).Error; err != nil {
		return fmt.Errorf("create schema (-replace to start over): %w", err)
	}
	u, err := url.Parse(base)
	if err != nil {
		return err
	}
	q := u.Query()
	q.Set("search_path", o.schema)
	u.RawQuery = q.Encode()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	d, err := db.Open(ctx, u.String(), log)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Migrate(ctx, log); err != nil {
		return err
	}
	if err := load(ctx, d, o); err != nil {
		return err
	}
	fmt.Printf("seeded schema %s in %s\n", o.schema, time.Since(start).Round(time.Second))
	if err := counts(ctx, d); err != nil {
		return err
	}
	if !o.check {
		return nil
	}
	t := time.Now()
	l := ledger.New(d, nil)
	if err := l.CheckInvariants(ctx); err != nil {
		return err
	}
	fmt.Printf("ledger invariants hold (%s)\n", time.Since(t).Round(time.Second))
	t = time.Now()
	if err := d.Snapshot(ctx, func(tx db.Tx) error { return offering.CheckConsumption(ctx, l, tx) }); err != nil {
		return err
	}
	fmt.Printf("consumption_days match the accruals (%s)\n", time.Since(t).Round(time.Second))
	return nil
}

// load runs seed.sql step by step on one connection (its temporary
// tables and settings are the session's), in one transaction.
func load(ctx context.Context, d *db.DB, o options) error {
	sqlDB, err := d.SQL()
	if err != nil {
		return err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	exec := func(name, stmt string, args ...any) error {
		t := time.Now()
		if _, err := conn.ExecContext(ctx, stmt, args...); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if el := time.Since(t); el > time.Second {
			fmt.Printf("  %-22s %s\n", name, el.Round(100*time.Millisecond))
		}
		return nil
	}
	now := time.Now().UTC()
	today := now.Truncate(24 * time.Hour)
	// Today's events of all offerings fall between midnight and a minute
	// ago, so the accrual job finds every alive offering's day posted.
	spanMs := now.Sub(today).Milliseconds() - 60_000
	if spanMs < 64*o.offerings {
		return fmt.Errorf("too close to midnight UTC (%s) to spread today's events; run it later", now.Format(time.TimeOnly))
	}
	// Rows per funded offering ≈ 1.34 × active days (an accrual a day, four
	// transfers per payout every ten days).
	funded := o.offerings - o.offerings/20
	aAvg := max(2, int64(math.Round(float64(o.transfers-o.invoices)/float64(funded)/1.34)))
	keep := "{" + strings.Trim(strings.Join(strings.Fields(fmt.Sprint(o.keep)), ","), "[]") + "}"
	steps := []struct{ name, sql string }{
		{"session", "SET work_mem = '256MB'"},
		{"session", "SET maintenance_work_mem = '1GB'"},
		{"session", "SET session_replication_role = replica"},
		{"session", "BEGIN"},
		{"params", `CREATE TEMP TABLE seed_params (n BIGINT, inv BIGINT, a_avg INT, today TIMESTAMPTZ, span_ms BIGINT,
			dmax INT, keep_upto BIGINT, keep BIGINT[]) ON COMMIT DROP`},
	}
	for _, s := range steps {
		if err := exec(s.name, s.sql); err != nil {
			return err
		}
	}
	defer conn.ExecContext(context.Background(), "ROLLBACK")
	if err := exec("params", "INSERT INTO seed_params VALUES ($1, $2, $3, $4, $5, 0, $6, $7::bigint[])",
		o.offerings, o.invoices, aAvg, today, spanMs, o.keepUpto, keep); err != nil {
		return err
	}
	var recreate []string
	for _, st := range splitSteps(seedSQL) {
		if st.name == "transfers" {
			if recreate, err = dropSecondaryIndexes(ctx, exec, conn); err != nil {
				return err
			}
		}
		stmt := st.sql
		if strings.Contains(stmt, "{{") {
			var today time.Time
			var n, spanMs, dmax int64
			err := conn.QueryRowContext(ctx, "SELECT today, n, span_ms, dmax FROM seed_params").Scan(&today, &n, &spanMs, &dmax)
			if err != nil {
				return fmt.Errorf("params: %w", err)
			}
			stmt = strings.NewReplacer("{{today}}", today.UTC().Format(time.RFC3339Nano), "{{n}}", strconv.FormatInt(n, 10),
				"{{span_ms}}", strconv.FormatInt(spanMs, 10), "{{dmax}}", strconv.FormatInt(dmax, 10)).Replace(stmt)
		}
		if err := exec(st.name, stmt); err != nil {
			return err
		}
		if st.name == "transfers" {
			for _, def := range recreate {
				if err := exec("index", def); err != nil {
					return err
				}
			}
		}
	}
	if err := exec("commit", "COMMIT"); err != nil {
		return err
	}
	for _, t := range []string{"transfers", "accounts", "offerings", "invoices", "payouts", "consumption_days"} {
		// What autovacuum would have done on a site that grew this way:
		// statistics for the planner, a visibility map for index-only scans.
		if err := exec("vacuum "+t, "VACUUM ANALYZE "+t); err != nil {
			return err
		}
	}
	return nil
}

type step struct{ name, sql string }

// splitSteps cuts seed.sql at its "-- step: name" lines.
func splitSteps(src string) []step {
	var out []step
	for _, part := range strings.Split(src, "-- step: ")[1:] {
		name, body, _ := strings.Cut(part, "\n")
		out = append(out, step{name: strings.TrimSpace(name), sql: strings.TrimSpace(body)})
	}
	return out
}

// dropSecondaryIndexes drops the indexes and unique constraints of
// transfers other than its primary key, for the bulk load, and returns the
// statements that recreate them exactly as the migrations made them.
func dropSecondaryIndexes(ctx context.Context, exec func(name, stmt string, args ...any) error, conn *sql.Conn) ([]string, error) {
	rows, err := conn.QueryContext(ctx, `
		SELECT 'ALTER TABLE transfers ADD CONSTRAINT ' || quote_ident(c.conname) || ' ' || pg_get_constraintdef(c.oid),
			'ALTER TABLE transfers DROP CONSTRAINT ' || quote_ident(c.conname)
		FROM pg_constraint c WHERE c.conrelid = 'transfers'::regclass AND c.contype = 'u'
		UNION ALL
		SELECT pg_get_indexdef(i.indexrelid), 'DROP INDEX ' || quote_ident(ic.relname)
		FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
		WHERE i.indrelid = 'transfers'::regclass
			AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid)`)
	if err != nil {
		return nil, fmt.Errorf("indexes of transfers: %w", err)
	}
	defer rows.Close()
	var create, drop []string
	for rows.Next() {
		var c, d string
		if err := rows.Scan(&c, &d); err != nil {
			return nil, err
		}
		create, drop = append(create, c), append(drop, d)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	for _, d := range drop {
		if err := exec("drop index", d); err != nil {
			return nil, err
		}
	}
	return create, nil
}

// counts prints how many rows the main tables hold.
func counts(ctx context.Context, d *db.DB) error {
	sqlDB, err := d.SQL()
	if err != nil {
		return err
	}
	for _, t := range []string{"offerings", "accounts", "invoices", "transfers", "consumption_days", "payouts"} {
		var n int64
		if err := sqlDB.QueryRowContext(ctx, "SELECT count(*) FROM "+t).Scan(&n); err != nil {
			return fmt.Errorf("count %s: %w", t, err)
		}
		fmt.Printf("  %-17s %11d rows\n", t, n)
	}
	var states []struct {
		state string
		n     int64
	}
	rows, err := sqlDB.QueryContext(ctx, `SELECT CASE WHEN funded_until IS NULL THEN 'never funded'
		WHEN funded_until > now() THEN 'alive' WHEN funded_until + grace_seconds * interval '1 second' > now() THEN 'in grace'
		ELSE 'dead' END, count(*) FROM offerings GROUP BY 1 ORDER BY 1`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var s struct {
			state string
			n     int64
		}
		if err := rows.Scan(&s.state, &s.n); err != nil {
			return err
		}
		states = append(states, s)
	}
	for _, s := range states {
		fmt.Printf("  offerings %-12s %7d\n", s.state, s.n)
	}
	return rows.Err()
}

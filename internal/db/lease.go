package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"time"
)

// localLeases serialises jobs within one process on SQLite, where a
// single process owns the database file.
var localLeases sync.Map // name → *sync.Mutex

// ErrLeaseLost is the cause of the context handed to a leased job when
// the database session that held its lease went away: another replica
// may already be running the job.
var ErrLeaseLost = errors.New("db: lease lost")

// LeaseRetry is how often a replica that does not hold a job's lease asks
// for it again: a job whose holder died resumes elsewhere within it.
const LeaseRetry = 2 * time.Second

// leaseCheck is how often a held lease checks that its session is alive,
// and leaseCheckTimeout how long one check may take before the lease is
// given up. A replica SIGKILLed loses its session (and so its leases) at
// once; one cut off from the database stops its work within
// leaseCheck+leaseCheckTimeout.
var (
	leaseCheck        = time.Second
	leaseCheckTimeout = 2 * time.Second
)

// WithLease runs fn only if no other process (replica) is running the job
// called name, and reports whether it ran. On PostgreSQL the lease is a
// session advisory lock held on a dedicated connection while fn runs: the
// lock dies with the session, so a replica that is killed hands its jobs
// over as soon as another one asks. The session is checked every second,
// and fn's context is cancelled (cause ErrLeaseLost) when it is gone. On
// SQLite, where one process owns the file, an in-process lock.
//
// Every job that must run on exactly one replica goes through here.
func (d *DB) WithLease(ctx context.Context, name string, fn func(ctx context.Context) error) (bool, error) {
	if d.Dialect != Postgres {
		m, _ := localLeases.LoadOrStore(d.leaseKey(name), &sync.Mutex{})
		mu := m.(*sync.Mutex)
		if !mu.TryLock() {
			return false, nil
		}
		defer mu.Unlock()
		return true, fn(ctx)
	}
	sqlDB, err := d.SQL()
	if err != nil {
		return false, err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return false, fmt.Errorf("db: lease %s: %w", name, err)
	}
	defer conn.Close()
	// Advisory locks are per database; the schema is in the key so that
	// sites sharing a database in separate schemas (tests) do not meet.
	const key = "hashtextextended('keepalive:' || current_schema() || ':' || $1, 0)"
	var got bool
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock("+key+")", name).Scan(&got); err != nil {
		return false, fmt.Errorf("db: lease %s: %w", name, err)
	}
	if !got {
		return false, nil
	}

	jobCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		watchSession(jobCtx, conn, cancel)
	}()
	err = fn(jobCtx)
	cancel(nil)
	<-watched
	if cause := context.Cause(jobCtx); errors.Is(cause, ErrLeaseLost) {
		// The session is gone, and its lock with it; the connection is
		// thrown away rather than returned to the pool.
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		return true, errors.Join(fmt.Errorf("db: lease %s: %w", name, cause), err)
	}
	unlockCtx, cancelUnlock := context.WithTimeout(context.WithoutCancel(ctx), leaseCheckTimeout)
	defer cancelUnlock()
	if _, uerr := conn.ExecContext(unlockCtx, "SELECT pg_advisory_unlock("+key+")", name); uerr != nil {
		// The lock may still be held by this session: never hand the
		// connection back to the pool with it.
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	}
	return true, err
}

// watchSession pings the lease's connection until ctx is done, and
// cancels with ErrLeaseLost the first time it does not answer in time.
func watchSession(ctx context.Context, conn *sql.Conn, cancel context.CancelCauseFunc) {
	t := time.NewTicker(leaseCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pingCtx, cancelPing := context.WithTimeout(ctx, leaseCheckTimeout)
		err := conn.PingContext(pingCtx)
		cancelPing()
		if err != nil && ctx.Err() == nil {
			cancel(fmt.Errorf("%w: %w", ErrLeaseLost, err))
			return
		}
	}
}

func (d *DB) leaseKey(name string) string { return fmt.Sprintf("%p/%s", d.gorm, name) }

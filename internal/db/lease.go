package db

import (
	"context"
	"fmt"
	"hash/fnv"
	"sync"
)

// localLeases serialises jobs within one process on SQLite, where a
// single process owns the database file.
var localLeases sync.Map // name → *sync.Mutex

// WithLease runs fn only if no other process (replica) is running the job
// called name, and reports whether it ran. On PostgreSQL it holds a
// session advisory lock on a dedicated connection while fn runs; on
// SQLite, where one process owns the file, an in-process lock.
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
	h := fnv.New64a()
	h.Write([]byte("keepalive:" + name))
	key := int64(h.Sum64())
	var got bool
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&got); err != nil {
		return false, fmt.Errorf("db: lease %s: %w", name, err)
	}
	if !got {
		return false, nil
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", key)
	return true, fn(ctx)
}

func (d *DB) leaseKey(name string) string { return fmt.Sprintf("%p/%s", d.gorm, name) }

package db_test

import (
	"context"
	"errors"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
)

// TestLeaseIsExclusive: while one holder runs a job, nobody else does;
// once it returns, the next one may.
func TestLeaseIsExclusive(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		other := d
		if d.Dialect == db.Postgres {
			other = reopen(t, d) // another replica: its own pool, the same schema
		}
		inside := make(chan struct{})
		release := make(chan struct{})
		done := make(chan error, 1)
		go func() {
			_, err := d.WithLease(ctx, "job", func(ctx context.Context) error {
				close(inside)
				<-release
				return nil
			})
			done <- err
		}()
		<-inside
		ran, err := other.WithLease(ctx, "job", func(context.Context) error { return nil })
		if err != nil || ran {
			t.Fatalf("second holder: ran=%v err=%v, want not run", ran, err)
		}
		ran, err = other.WithLease(ctx, "another job", func(context.Context) error { return nil })
		if err != nil || !ran {
			t.Fatalf("another job: ran=%v err=%v, want run", ran, err)
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		ran, err = other.WithLease(ctx, "job", func(context.Context) error { return nil })
		if err != nil || !ran {
			t.Fatalf("after release: ran=%v err=%v, want run", ran, err)
		}
	})
}

// TestLeaseLostWithItsSession: when the session holding a lease dies (its
// replica was killed, or cut off), the job it guarded is cancelled within
// seconds and another replica takes the lease over.
func TestLeaseLostWithItsSession(t *testing.T) {
	d := dbtest.Postgres(t)
	other := reopen(t, d)
	ctx := context.Background()

	inside := make(chan struct{})
	var jobCause error
	done := make(chan error, 1)
	go func() {
		_, err := d.WithLease(ctx, "job", func(ctx context.Context) error {
			close(inside)
			<-ctx.Done()
			jobCause = context.Cause(ctx)
			return ctx.Err()
		})
		done <- err
	}()
	<-inside
	// Kill the holder's session from the other replica, as the server
	// does when the holder's process dies.
	var pid int
	err := other.Gorm(ctx).Raw(`WITH k AS (SELECT hashtextextended('keepalive:' || current_schema() || ':job', 0) AS v)
		SELECT l.pid FROM pg_locks l, k WHERE l.locktype = 'advisory' AND l.granted
		AND l.classid::bigint = (k.v >> 32) & 4294967295 AND l.objid::bigint = k.v & 4294967295`).Scan(&pid).Error
	if err != nil || pid == 0 {
		t.Fatalf("holder's pid: %d, %v", pid, err)
	}
	killed := time.Now()
	if err := other.Gorm(ctx).Exec("SELECT pg_terminate_backend(?)", pid).Error; err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, db.ErrLeaseLost) || !errors.Is(jobCause, db.ErrLeaseLost) {
			t.Fatalf("job ended with %v (cause %v), want ErrLeaseLost", err, jobCause)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the job still runs 10 s after its lease's session died")
	}
	ran, err := other.WithLease(ctx, "job", func(context.Context) error { return nil })
	if err != nil || !ran {
		t.Fatalf("takeover: ran=%v err=%v", ran, err)
	}
	t.Logf("job cancelled and lease taken over %v after the session died", time.Since(killed).Round(time.Millisecond))
	// The pool of the replica that lost the lease still works.
	if err := d.Gorm(ctx).Exec("SELECT 1").Error; err != nil {
		t.Fatal(err)
	}
}

func reopen(t *testing.T, d *db.DB) *db.DB {
	t.Helper()
	var schema string
	if err := d.Gorm(context.Background()).Raw("SELECT current_schema()").Scan(&schema).Error; err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(os.Getenv("DATABASE_URL"))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	o, err := db.Open(context.Background(), u.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

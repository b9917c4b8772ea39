package db_test

import (
	"context"
	"testing"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
)

// TestTxReplayableSkipsOnlyItsOwnDiskWait: on PostgreSQL a replayable
// transaction's commit does not wait for the disk and every other
// transaction's does; both commit and run their AfterCommit functions
// alike, on both databases.
func TestTxReplayableSkipsOnlyItsOwnDiskWait(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		setting := func(run func(context.Context, func(db.Tx) error) error) (string, bool) {
			var got string
			committed := false
			err := run(ctx, func(tx db.Tx) error {
				if d.Dialect == db.Postgres {
					if err := tx.Gorm(ctx).Raw("SHOW synchronous_commit").Scan(&got).Error; err != nil {
						return err
					}
				}
				tx.AfterCommit(func() { committed = true })
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			return got, committed
		}
		replay, replayDone := setting(d.TxReplayable)
		plain, plainDone := setting(d.Tx)
		if !replayDone || !plainDone {
			t.Fatalf("after-commit functions ran: replayable %v, plain %v", replayDone, plainDone)
		}
		if d.Dialect == db.Postgres && (replay != "off" || plain != "on") {
			t.Fatalf("synchronous_commit: replayable %q (want off), plain %q (want on)", replay, plain)
		}
	})
}

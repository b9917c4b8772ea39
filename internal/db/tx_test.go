package db_test

import (
	"context"
	"testing"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
)

// TestTxReplayableSkipsOnlyItsOwnDiskWait: a replayable transaction's
// commit does not wait for the disk and every other transaction's does
// (PostgreSQL's synchronous_commit, SQLite's synchronous pragma); both
// commit and run their AfterCommit functions alike.
func TestTxReplayableSkipsOnlyItsOwnDiskWait(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		setting := func(run func(context.Context, func(db.Tx) error) error) (string, bool) {
			var got string
			committed := false
			err := run(ctx, func(tx db.Tx) error {
				query := "SHOW synchronous_commit"
				if d.Dialect == db.SQLite {
					query = "SELECT CASE synchronous WHEN 1 THEN 'off' WHEN 2 THEN 'on' ELSE synchronous END FROM pragma_synchronous"
				}
				if err := tx.Gorm(ctx).Raw(query).Scan(&got).Error; err != nil {
					return err
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
		// SQLite: NORMAL (1) for the replayable, FULL (2) for the others.
		if replay != "off" || plain != "on" {
			t.Fatalf("commit waits for the disk: replayable %q (want off), plain %q (want on)", replay, plain)
		}
	})
}

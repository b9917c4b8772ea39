package funding_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
)

// statementCounter counts the statements sent to PostgreSQL (BEGIN and
// COMMIT included): each is one round trip to the server.
type statementCounter struct{ n atomic.Int64 }

func (c *statementCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}

func (c *statementCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// BenchmarkSettleDonation settles one donation per iteration on
// PostgreSQL, a minute after the runway's last accrual (so each
// settlement posts an accrual and a credit, the common case), and reports
// the round trips of the settlement itself: from the stream's event to
// the commit (the NOTIFY sent after the commit is not counted; the
// invoice is settled for every reader by then).
func BenchmarkSettleDonation(b *testing.B) {
	var count statementCounter
	d := dbtest.Postgres(b, db.WithQueryTracer(&count))
	f := newFixture(b, d)
	ctx := context.Background()
	f.fund(b, 10_000_000, time.Minute)
	var statements int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		inv := f.donate(b, 1_000_000)
		ni := f.node.settle(hashOf(b, inv), uint64(inv.ID))
		f.clock.Advance(time.Minute)
		before := count.n.Load()
		b.StartTimer()
		if err := f.funding.Settle(ctx, ni); err != nil {
			b.Fatal(err)
		}
		statements += count.n.Load() - before
	}
	b.StopTimer()
	b.ReportMetric(float64(statements)/float64(b.N), "roundtrips/op")
	f.check(b)
}

package offering_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/money"
	"github.com/keepalive/keepalive/internal/offering"
)

func sats(n int64) money.Msat { return money.MustSats(n) }

// TestHistoryReconstructsRunway: listed at T0, 24,000 sats at T0+1h (a
// day at 1,000 sat/h), an accrual at T0+7h, 12,000 sats at T0+10h, then
// time runs past the end (T0+37h) and the accrual job empties the runway.
func TestHistoryReconstructsRunway(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d)
		t0 := f.clock.Now()
		o, _, err := f.svc.Create(ctx, validInput("history"))
		if err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(time.Hour)
		f.donate(t, o, "invoice:aaaa", sats(24_000))
		f.clock.Advance(6 * time.Hour)
		if _, err := f.svc.Accrue(ctx, o.ID); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(3 * time.Hour)
		o = f.donate(t, o, "invoice:bbbb", sats(12_000))
		wantEnd := t0.Add(37 * time.Hour)
		if !o.FundedUntil.Equal(wantEnd) {
			t.Fatalf("funded until %s, want %s", o.FundedUntil, wantEnd)
		}

		type pt struct {
			at            time.Duration // after t0
			runway, payed int64         // sats
		}
		check := func(t *testing.T, since time.Time, want []pt) {
			t.Helper()
			got, err := f.svc.History(ctx, o.ID, since)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d points, want %d: %+v", len(got), len(want), got)
			}
			for i, w := range want {
				g := got[i]
				if !g.At.Equal(t0.Add(w.at)) || g.Runway != sats(w.runway) || g.Payment != sats(w.payed) {
					t.Errorf("point %d: %s %s (+%s), want +%s %d sats (+%d)", i, g.At.Sub(t0), g.Runway, g.Payment, w.at, w.runway, w.payed)
				}
			}
		}

		t.Run("while alive", func(t *testing.T) {
			f.clock.Advance(2 * time.Hour) // T0+12h
			check(t, t0.Add(-24*time.Hour), []pt{
				{0, 0, 0},
				{time.Hour, 0, 0}, {time.Hour, 24_000, 24_000},
				{10 * time.Hour, 15_000, 0}, {10 * time.Hour, 27_000, 12_000},
				{12 * time.Hour, 25_000, 0},
			})
			st, err := f.svc.Status(ctx, o.Slug)
			if err != nil || st.RunwayMsat != sats(25_000) {
				t.Fatalf("status runway %s (%v): the history should end where the status is", st.RunwayMsat, err)
			}
		})
		t.Run("window starts between payments", func(t *testing.T) {
			check(t, t0.Add(5*time.Hour), []pt{
				{5 * time.Hour, 20_000, 0},
				{10 * time.Hour, 15_000, 0}, {10 * time.Hour, 27_000, 12_000},
				{12 * time.Hour, 25_000, 0},
			})
		})
		t.Run("after expiry", func(t *testing.T) {
			f.clock.Advance(38 * time.Hour) // T0+50h
			if _, err := f.svc.Accrue(ctx, o.ID); err != nil {
				t.Fatal(err)
			}
			check(t, t0, []pt{
				{0, 0, 0},
				{time.Hour, 0, 0}, {time.Hour, 24_000, 24_000},
				{10 * time.Hour, 15_000, 0}, {10 * time.Hour, 27_000, 12_000},
				{37 * time.Hour, 0, 0}, // runs out at funded_until
				{50 * time.Hour, 0, 0},
			})
			check(t, t0.Add(40*time.Hour), []pt{{40 * time.Hour, 0, 0}, {50 * time.Hour, 0, 0}})
		})
		t.Run("revived", func(t *testing.T) {
			f.donate(t, o, "invoice:cccc", sats(1_000))
			f.clock.Advance(30 * time.Minute)
			check(t, t0.Add(40*time.Hour), []pt{
				{40 * time.Hour, 0, 0},
				{50 * time.Hour, 0, 0}, {50 * time.Hour, 1_000, 1_000},
				{50*time.Hour + 30*time.Minute, 500, 0},
			})
		})
		f.check(t)
	})
}

func TestPublicLedgerPlainWordsNoKeys(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d)
		o, _, err := f.svc.Create(ctx, validInput("ledgered"))
		if err != nil {
			t.Fatal(err)
		}
		other, _, err := f.svc.Create(ctx, validInput("other-one"))
		if err != nil {
			t.Fatal(err)
		}
		hash := strings.Repeat("ab", 32)
		f.donate(t, o, "invoice:"+hash, sats(24_000))
		f.donate(t, other, "invoice:"+strings.Repeat("cd", 32), sats(5_000))
		f.clock.Advance(2 * time.Hour)
		if _, err := f.svc.Accrue(ctx, o.ID); err != nil {
			t.Fatal(err)
		}
		for _, e := range []ledger.Entry{
			{Key: "payout:" + hash, Debit: ledger.OfferingEarned(o.ID), Credit: ledger.Lightning, Amount: sats(1_500), Memo: "payout to Alice"},
			{Key: "payout-fee:" + hash, Debit: ledger.OfferingEarned(o.ID), Credit: ledger.RoutingFees, Amount: sats(3)},
		} {
			f.clock.Advance(time.Minute)
			if _, err := f.ledger.Post(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		want := []struct {
			movement string
			amount   money.Msat
			dir      offering.Direction
		}{
			{"routing fee", sats(3), offering.Out},
			{"withdrawn by the owner", sats(1_500), offering.Out},
			{"runway consumed", sats(2_000), offering.Within},
			{"payment in", sats(24_000), offering.In},
		}
		got, pages := f.ledgerPages(t, o.ID, 2)
		if pages != 2 || len(got) != len(want) {
			t.Fatalf("%d entries in %d pages, want %d in 2: %+v", len(got), pages, len(want), got)
		}
		for i, w := range want {
			if got[i].Movement != w.movement || got[i].Amount != w.amount || got[i].Direction != w.dir {
				t.Errorf("entry %d: %+v, want %+v", i, got[i], w)
			}
			if i > 0 && got[i].At.After(got[i-1].At) {
				t.Errorf("entry %d is newer than the one before it", i)
			}
		}
		if s := fmt.Sprintf("%+v", got); strings.Contains(s, hash) || strings.Contains(s, "Alice") || strings.Contains(s, "payout:") {
			t.Fatalf("the public ledger leaks a key or memo: %s", s)
		}
		f.check(t)
	})
}

// ledgerPages reads the whole public ledger, limit movements a page.
func (f fixture) ledgerPages(t *testing.T, offeringID int64, limit int) (entries []offering.LedgerEntry, pages int) {
	t.Helper()
	before := int64(0)
	for {
		page, err := f.svc.PublicLedger(context.Background(), offeringID, limit, before)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		entries = append(entries, page.Entries...)
		if page.Older == 0 {
			return entries, pages
		}
		before = page.Older
	}
}

// The runway consumed minute by minute is listed as one line a UTC day,
// and paging through the ledger counts every accrual exactly once: the
// lines of all pages sum to the owner's earned balance.
func TestPublicLedgerSumsConsumptionPerDay(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d) // the clock starts at 1 Nov 2026 12:00 UTC
		o, _, err := f.svc.Create(ctx, validInput("daily"))
		if err != nil {
			t.Fatal(err)
		}
		// A payment, then accruals every 10 minutes across midnight, with
		// a second and third payment on the second day.
		f.donate(t, o, "invoice:one", sats(100_000))
		f.clock.Advance(10 * time.Hour) // 22:00
		for i := range 30 {             // 22:10 … 03:00
			f.clock.Advance(10 * time.Minute)
			if _, err := f.svc.Accrue(ctx, o.ID); err != nil {
				t.Fatal(err)
			}
			if i == 20 || i == 25 { // 01:40 and 02:30, 2 Nov
				f.donate(t, o, fmt.Sprintf("invoice:more-%d", i), sats(1_000))
			}
		}
		all, pages := f.ledgerPages(t, o.ID, 2)
		var consumed money.Msat
		var lines []string
		for i, e := range all {
			if i > 0 && e.At.After(all[i-1].At) {
				t.Errorf("entry %d (%+v) is newer than the one before it", i, e)
			}
			lines = append(lines, fmt.Sprintf("%s %s %s", e.At.Format("02 15:04"), e.Movement, e.Amount))
			if e.Movement != "runway consumed" {
				continue
			}
			consumed += e.Amount
			if e.Since.IsZero() || e.Since.After(e.At) || e.Since.YearDay() != e.At.YearDay() || e.Postings < 1 {
				t.Errorf("a day line spans %s to %s (%d postings)", e.Since, e.At, e.Postings)
			}
		}
		earned, err := f.ledger.Balance(ctx, ledger.OfferingEarned(o.ID))
		if err != nil {
			t.Fatal(err)
		}
		// 15 hours at 1,000 sat an hour, give or take the msat that
		// accruals carry over.
		if consumed != earned || earned < sats(15_000) || earned > sats(15_001) {
			t.Fatalf("the ledger's lines consume %s, the owner earned %s, want 15,000 sats (15 h):\n%s",
				consumed, earned, strings.Join(lines, "\n"))
		}
		// Pages of two entries, days and movements alike: a day is one
		// line, never split, placed by its last accrual.
		var movements []string
		for _, e := range all {
			movements = append(movements, e.At.Format("2")+" "+e.Movement)
		}
		want := "[2 runway consumed 2 payment in 2 payment in 1 runway consumed 1 payment in]"
		if pages != 3 || fmt.Sprint(movements) != want {
			t.Fatalf("%d pages: %v, want 3: %s\n%s", pages, movements, want, strings.Join(lines, "\n"))
		}
		f.check(t)
	})
}

// Migration 00004 fills consumption_days from the accruals already posted:
// rolled back and applied again, it rebuilds the same days.
func TestConsumptionDaysBackfill(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d)
		o, _, err := f.svc.Create(ctx, validInput("backfilled"))
		if err != nil {
			t.Fatal(err)
		}
		f.donate(t, o, "invoice:one", sats(50_000))
		for range 30 { // 12:00 + 30 × 1 h: two UTC days
			f.clock.Advance(time.Hour)
			if _, err := f.svc.Accrue(ctx, o.ID); err != nil {
				t.Fatal(err)
			}
		}
		fsys, dialect, err := db.MigrationsFS(d.Dialect)
		if err != nil {
			t.Fatal(err)
		}
		sqlDB, err := d.SQL()
		if err != nil {
			t.Fatal(err)
		}
		p, err := goose.NewProvider(dialect, sqlDB, fsys)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.DownTo(ctx, 3); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Up(ctx); err != nil {
			t.Fatal(err)
		}
		var days int64
		d.Gorm(context.Background()).Table("consumption_days").Count(&days)
		if days != 2 {
			t.Fatalf("%d days rebuilt, want 2", days)
		}
		f.check(t) // the rebuilt days match the accruals exactly
	})
}

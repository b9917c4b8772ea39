package offering_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/money"
	"github.com/keepalive/keepalive/internal/offering"
)

// perMinute replays the accrual as it used to run, one posting a minute,
// in memory: the yardstick the lazy accrual is checked against.
type perMinute struct {
	o           offering.Offering
	rate        money.Msat
	runway      money.Msat // posted runway
	earned      money.Msat // posted earned
	accruedAt   time.Time
	fundedUntil time.Time
}

// accrue is the old job's accrueLocked at now.
func (m *perMinute) accrue(now time.Time) {
	if m.runway <= 0 {
		m.accruedAt = now
		return
	}
	consumed, paid := offering.Consumption(m.runway, m.rate, now.Sub(m.accruedAt))
	if consumed == m.runway {
		m.accruedAt = now
	} else {
		m.accruedAt = m.accruedAt.Add(paid)
	}
	m.runway -= consumed
	m.earned += consumed
}

// at is what the owner sees at now: the posted balances and what was
// consumed since the last posting.
func (m *perMinute) at(now time.Time) (earned, runway money.Msat) {
	pending, _ := offering.Consumption(m.runway, m.rate, now.Sub(m.accruedAt))
	return m.earned + pending, m.runway - pending
}

// TestLazyAccrualDay runs a day of simulated time on 1,000 alive
// offerings, the accrual job called every minute as it runs in the site,
// and counts the rows it writes: at most one accrual per offering per UTC
// day (the public ledger's daily line), where the old job wrote 1,440.
// Throughout, every offering's earned balance, runway and funded_until
// read exactly what the old per-minute postings made of them, to the
// msat. Burn rates are multiples of 60 msat/h, for which the per-minute
// arithmetic itself is exact (TestPerMinuteOvercharged shows the others).
func TestLazyAccrualDay(t *testing.T) {
	if testing.Short() {
		t.Skip("a simulated day on 1,000 offerings")
	}
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		const n = 1000
		models := make([]*perMinute, n)
		for i := range n {
			rate := money.Msat(60 * (1 + (i*7919)%200_000)) // 60 msat/h to 12,000 sat/h
			in := validInput(fmt.Sprintf("day-%04d", i))
			in.BurnRateMsatPerHour = &rate
			o, _, err := f.svc.Create(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			// Most have days of runway; every tenth runs out during the
			// day; each has some dust on top of whole hours.
			hours := money.Msat(72)
			if i%10 == 0 {
				hours = money.Msat(1 + i%20)
			}
			amount := rate*hours + money.Msat(i%997)
			o = f.donate(t, o, fmt.Sprintf("invoice:day:%d", i), amount)
			models[i] = &perMinute{o: o, rate: rate, runway: amount, accruedAt: o.AccruedAt, fundedUntil: *o.FundedUntil}
		}
		countTransfers := func() int64 {
			var c int64
			if err := f.db.Gorm(ctx).Table("transfers").Count(&c).Error; err != nil {
				t.Fatal(err)
			}
			return c
		}
		compare := func(when string) {
			t.Helper()
			now := f.clock.Now()
			for _, m := range models {
				fin, err := f.svc.Finances(ctx, m.o)
				if err != nil {
					t.Fatal(err)
				}
				earned, runway := m.at(now)
				if fin.Earned != earned || fin.Status.RunwayMsat != runway || !fin.Status.FundedUntil.Equal(m.fundedUntil) {
					t.Fatalf("%s, %s at %s/h: earned %d, runway %d, funded until %s; per minute: %d, %d, %s", when, m.o.Slug, m.rate,
						fin.Earned, fin.Status.RunwayMsat, fin.Status.FundedUntil, earned, runway, m.fundedUntil)
				}
			}
		}
		before := countTransfers()
		start := f.clock.Now()
		for minute := 1; minute <= 24*60; minute++ {
			f.clock.Advance(time.Minute)
			now := f.clock.Now()
			for _, m := range models {
				m.accrue(now)
			}
			if _, err := f.svc.AccrueAll(ctx); err != nil {
				t.Fatal(err)
			}
			if minute%(6*60) == 0 {
				compare(fmt.Sprintf("after %s", now.Sub(start)))
			}
		}
		written := countTransfers() - before
		days := map[string]bool{}
		for t := start; !t.After(f.clock.Now()); t = t.Add(time.Hour) {
			days[t.Format(time.DateOnly)] = true
		}
		if limit := int64(n * len(days)); written > limit {
			t.Errorf("the day wrote %d transfers for %d offerings over %d UTC days, more than one per offering a day", written, n, len(days))
		}
		var most int64
		if err := f.db.Gorm(ctx).Table("consumption_days").Select("COALESCE(MAX(postings), 0)").Scan(&most).Error; err != nil {
			t.Fatal(err)
		}
		if most > 1 {
			t.Errorf("an offering has %d accruals in one UTC day", most)
		}
		t.Logf("%d offerings, one simulated day (%d UTC days): %d transfers written; the per-minute job wrote %d", n, len(days), written, n*24*60)
		// An expired offering's runway is posted to its owner in full.
		for _, m := range models[:1] {
			if fin, _ := f.svc.Finances(ctx, m.o); fin.Status.RunwayMsat != 0 {
				t.Errorf("%s should have run out: %+v", m.o.Slug, fin.Status)
			}
		}
		f.check(t)
	})
}

// TestPerMinuteOvercharged pins down why the lazy accrual is compared
// with the per-minute one only at rates that are multiples of 60 msat/h:
// posting a minute at a time rounded the time each posting paid for down
// to the millisecond and charged the rest again the next minute: up to a
// millisecond's worth of burn a minute too much (1 msat at rates up to
// 3,600 sat/h; 120 msat a day at 1,000 sat/h). Posted lazily, the consumption over a span is
// the burn rate times the span, rounded down once.
func TestPerMinuteOvercharged(t *testing.T) {
	const day = 24 * time.Hour
	for _, rate := range []money.Msat{60, 1_000, 1_200_000, 1_000_000, 7_000_000, 41_666_667} {
		m := &perMinute{rate: rate, runway: 1 << 50}
		at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		m.accruedAt = at
		for range 24 * 60 {
			at = at.Add(time.Minute)
			m.accrue(at)
		}
		old, _ := m.at(at)
		lazy, _ := offering.Consumption(1<<50, rate, day)
		exact := money.Msat(int64(rate) * 24) // whole hours: no rounding at all
		if lazy != exact {
			t.Errorf("%d msat/h: lazy accrual consumed %d in a day, want %d", rate, lazy, exact)
		}
		// At most a millisecond's worth a minute, and at least 1 msat.
		perMinute := max(1, rate/3_600_000+1)
		if over := old - lazy; over < 0 || over > 24*60*perMinute {
			t.Errorf("%d msat/h: per-minute consumed %d, %d more than exact", rate, old, over)
		}
		if rate%60 == 0 && old != lazy {
			t.Errorf("%d msat/h is a multiple of 60 msat/h, yet per-minute made %d, not %d", rate, old, lazy)
		}
	}
}

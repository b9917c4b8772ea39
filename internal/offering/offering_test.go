package offering_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/keepalive/keepalive/internal/clocktest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/money"
	"github.com/keepalive/keepalive/internal/offering"
)

type fixture struct {
	svc    *offering.Service
	ledger *ledger.Ledger
	db     *db.DB
	clock  *clocktest.Clock
}

func newFixture(t *testing.T, d *db.DB) fixture {
	c := clocktest.New(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	l := ledger.New(d, c.Now)
	return fixture{svc: offering.New(d, l, nil, offering.WithClock(c.Now), offering.WithStatusTTL(0)), ledger: l, db: d, clock: c}
}

func ptr[T any](v T) *T { return &v }

func validInput(slug string) offering.Input {
	return offering.Input{
		Name: ptr("My site"), Slug: ptr(slug), URL: ptr("https://example.org"),
		Description: ptr("A small site."), BurnRateMsatPerHour: ptr(money.Msat(1_000_000)), // 1000 sat/h
		GraceSeconds: ptr(int64(3600)),
	}
}

func (f fixture) donate(t *testing.T, o offering.Offering, key string, amount money.Msat) offering.Offering {
	t.Helper()
	var out offering.Offering
	err := f.db.Tx(context.Background(), func(tx db.Tx) error {
		var err error
		out, err = f.svc.CreditRunway(context.Background(), tx, o.ID, offering.Credit{Key: key, Debit: ledger.Lightning, Amount: amount})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	f.svc.Invalidate(o.Slug)
	return out
}

func (f fixture) check(t *testing.T) {
	t.Helper()
	if err := f.ledger.CheckInvariants(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := f.db.Snapshot(context.Background(), func(tx db.Tx) error { return offering.CheckConsumption(context.Background(), f.ledger, tx) }); err != nil {
		t.Fatal(err)
	}
}

func TestCreateValidatesAndWritesNothingOnBadInput(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		o, key, err := f.svc.Create(ctx, validInput("my-site"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(key, offering.ManageKeyPrefix) || len(key) < 40 {
			t.Fatalf("manage key %q does not look like a long random secret", key)
		}
		if strings.Contains(o.ManageKeyHash, key) || o.ManageKeyHash == key {
			t.Fatal("the manage key is stored in clear")
		}
		if _, _, err := f.svc.Create(ctx, validInput("my-site")); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("taken slug: err = %v, want conflict", err)
		}
		bad := map[string]func(*offering.Input){
			"empty name":       func(in *offering.Input) { in.Name = ptr("  ") },
			"long name":        func(in *offering.Input) { in.Name = ptr(strings.Repeat("x", 81)) },
			"control in name":  func(in *offering.Input) { in.Name = ptr("a\x00b") },
			"slug caps":        func(in *offering.Input) { in.Slug = ptr("My-Site2") },
			"slug short":       func(in *offering.Input) { in.Slug = ptr("ab") },
			"slug dash end":    func(in *offering.Input) { in.Slug = ptr("abc-") },
			"slug reserved":    func(in *offering.Input) { in.Slug = ptr("api") },
			"slug missing":     func(in *offering.Input) { in.Slug = nil },
			"url scheme":       func(in *offering.Input) { in.URL = ptr("javascript:alert(1)") },
			"url relative":     func(in *offering.Input) { in.URL = ptr("/foo") },
			"url credentials":  func(in *offering.Input) { in.URL = ptr("https://u:p@example.org") },
			"zero burn":        func(in *offering.Input) { in.BurnRateMsatPerHour = ptr(money.Msat(0)) },
			"negative burn":    func(in *offering.Input) { in.BurnRateMsatPerHour = ptr(money.Msat(-5)) },
			"huge burn":        func(in *offering.Input) { in.BurnRateMsatPerHour = ptr(offering.MaxBurnRate + 1) },
			"negative grace":   func(in *offering.Input) { in.GraceSeconds = ptr(int64(-1)) },
			"long description": func(in *offering.Input) { in.Description = ptr(strings.Repeat("x", 2001)) },
		}
		for name, mutate := range bad {
			t.Run(name, func(t *testing.T) {
				in := validInput("other-site")
				mutate(&in)
				_, _, err := f.svc.Create(ctx, in)
				if apperr.CodeOf(err) != apperr.Unprocessable || len(apperr.FieldsOf(err)) == 0 {
					t.Fatalf("err = %v, want unprocessable with field errors", err)
				}
			})
		}
		_, total, err := f.svc.List(ctx, offering.ListQuery{})
		if err != nil || total != 1 {
			t.Fatalf("after bad input: %d offerings (err %v), want 1", total, err)
		}
		f.check(t)
	})
}

func TestRunwayLifecycle(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		o, _, err := f.svc.Create(ctx, validInput("lifecycle"))
		if err != nil {
			t.Fatal(err)
		}
		st, _ := f.svc.Status(ctx, "lifecycle")
		if st.State != offering.Expired || !st.FundedUntil.IsZero() {
			t.Fatalf("new offering: %+v, want expired and never funded", st)
		}
		start := f.clock.Now()
		// 24,000 sat at 1,000 sat/h buys 24 hours.
		f.donate(t, o, "invoice:1", 24_000_000)
		st, _ = f.svc.Status(ctx, "lifecycle")
		if st.State != offering.Alive || !st.FundedUntil.Equal(start.Add(24*time.Hour)) || st.RunwaySeconds != 24*3600 || st.RunwayMsat != 24_000_000 {
			t.Fatalf("after donation: %+v", st)
		}
		// The same settlement again changes nothing.
		f.donate(t, o, "invoice:1", 24_000_000)
		if st2, _ := f.svc.Status(ctx, "lifecycle"); !st2.FundedUntil.Equal(st.FundedUntil) {
			t.Fatalf("repeated credit moved funded_until to %v", st2.FundedUntil)
		}
		// Ten hours later: 10,000 sat consumed, computed without an accrual.
		f.clock.Advance(10 * time.Hour)
		st, _ = f.svc.Status(ctx, "lifecycle")
		if st.RunwayMsat != 14_000_000 || st.RunwaySeconds != 14*3600 {
			t.Fatalf("after 10h: %+v", st)
		}
		if n, err := f.svc.AccrueAll(ctx); err != nil || n != 1 {
			t.Fatalf("AccrueAll = %d, %v", n, err)
		}
		fin, _ := f.svc.Finances(ctx, o)
		if fin.Earned != 10_000_000 {
			t.Fatalf("earned after accrual = %d, want 10,000,000", fin.Earned)
		}
		// Another donation extends from the current funded_until.
		f.donate(t, o, "invoice:2", 6_000_000)
		st, _ = f.svc.Status(ctx, "lifecycle")
		if !st.FundedUntil.Equal(start.Add(30 * time.Hour)) {
			t.Fatalf("after second donation funded until %v, want %v", st.FundedUntil, start.Add(30*time.Hour))
		}
		// Past funded_until: grace, then expired.
		f.clock.Advance(20*time.Hour + 30*time.Minute)
		st, _ = f.svc.Status(ctx, "lifecycle")
		if st.State != offering.Grace || st.RunwayMsat != 0 || st.RunwaySeconds != 0 {
			t.Fatalf("in grace: %+v", st)
		}
		f.clock.Advance(time.Hour)
		st, _ = f.svc.Status(ctx, "lifecycle")
		if st.State != offering.Expired {
			t.Fatalf("after grace: %+v", st)
		}
		fin, _ = f.svc.Finances(ctx, o)
		if fin.Earned != 30_000_000 {
			t.Fatalf("earned at expiry = %d, want all 30,000,000", fin.Earned)
		}
		// Paying again revives it from now, not from the past.
		now := f.clock.Now()
		f.donate(t, o, "invoice:3", 1_000_000)
		st, _ = f.svc.Status(ctx, "lifecycle")
		if st.State != offering.Alive || !st.FundedUntil.Equal(now.Add(time.Hour)) {
			t.Fatalf("revived: %+v, want alive until %v", st, now.Add(time.Hour))
		}
		f.check(t)
	})
}

func TestBurnRateChangeTakesEffectFromNow(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		o, _, _ := f.svc.Create(ctx, validInput("rates"))
		f.donate(t, o, "invoice:1", 10_000_000) // 10 h at 1000 sat/h
		f.clock.Advance(4 * time.Hour)
		if _, err := f.svc.Update(ctx, "rates", offering.Input{BurnRateMsatPerHour: ptr(money.Msat(2_000_000))}); err != nil {
			t.Fatal(err)
		}
		st, _ := f.svc.Status(ctx, "rates")
		// 6,000 sat left at 2,000 sat/h: 3 more hours.
		if !st.FundedUntil.Equal(f.clock.Now().Add(3*time.Hour)) || st.RunwayMsat != 6_000_000 {
			t.Fatalf("after rate change: %+v", st)
		}
		if _, err := f.svc.Update(ctx, "rates", offering.Input{Slug: ptr("other")}); apperr.CodeOf(err) != apperr.Unprocessable {
			t.Fatalf("changing the slug: err = %v", err)
		}
		if _, err := f.svc.Update(ctx, "nope", offering.Input{Name: ptr("x")}); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("update of a missing offering: err = %v", err)
		}
		f.check(t)
	})
}

func TestAccrualNeverLosesTimeToRounding(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		in := validInput("tiny")
		in.BurnRateMsatPerHour = ptr(money.Msat(7)) // 7 msat an hour: every minute is a fraction of a msat
		o, _, _ := f.svc.Create(ctx, in)
		f.donate(t, o, "invoice:1", 700)
		for i := 0; i < 600; i++ { // accrue every minute for 10 hours
			f.clock.Advance(time.Minute)
			if _, err := f.svc.Accrue(ctx, o.ID); err != nil {
				t.Fatal(err)
			}
		}
		fin, _ := f.svc.Finances(ctx, o)
		if fin.Earned != 70 {
			t.Fatalf("earned after 10 h at 7 msat/h = %d, want 70", fin.Earned)
		}
		f.check(t)
	})
}

func TestAuthenticate(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		a, keyA, _ := f.svc.Create(ctx, validInput("site-a"))
		_, keyB, _ := f.svc.Create(ctx, validInput("site-b"))
		if got, err := f.svc.Authenticate(ctx, "site-a", keyA); err != nil || got.ID != a.ID {
			t.Fatalf("own key: %v", err)
		}
		for _, c := range []struct{ slug, key string }{{"site-a", keyB}, {"site-a", ""}, {"site-a", keyA + "x"}, {"missing", keyA}} {
			if _, err := f.svc.Authenticate(ctx, c.slug, c.key); apperr.CodeOf(err) != apperr.Unauthorized {
				t.Errorf("Authenticate(%s, %q): err = %v, want unauthorized", c.slug, c.key, err)
			}
		}
		if got, err := f.svc.ByManageKey(ctx, " "+keyA+" "); err != nil || got.ID != a.ID {
			t.Fatalf("ByManageKey: %v", err)
		}
		newKey, err := f.svc.RotateKey(ctx, "site-a")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Authenticate(ctx, "site-a", keyA); apperr.CodeOf(err) != apperr.Unauthorized {
			t.Fatal("the old key still works after rotation")
		}
		if _, err := f.svc.Authenticate(ctx, "site-a", newKey); err != nil {
			t.Fatalf("new key: %v", err)
		}
	})
}

func TestListOrdersAliveFirstAndSearches(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		mk := func(slug, name string) offering.Offering {
			in := validInput(slug)
			in.Name = ptr(name)
			o, _, err := f.svc.Create(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			return o
		}
		never := mk("never", "Never funded")
		short := mk("short", "Short runway")
		long := mk("long", "Long runway 100%")
		expired := mk("gone", "Gone site")
		_ = never
		f.donate(t, expired, "e", 1_000_000)
		f.clock.Advance(3 * time.Hour)
		f.donate(t, short, "s", 2_000_000)
		f.donate(t, long, "l", 50_000_000)
		got, total, err := f.svc.List(ctx, offering.ListQuery{})
		if err != nil || total != 4 {
			t.Fatalf("List: %d, %v", total, err)
		}
		var order []string
		for _, g := range got {
			order = append(order, g.Slug+":"+string(g.Status.State))
		}
		want := "long:alive short:alive gone:expired never:expired"
		if strings.Join(order, " ") != want {
			t.Fatalf("order = %v, want %s", order, want)
		}
		got, total, _ = f.svc.List(ctx, offering.ListQuery{Search: "RUNWAY"})
		if total != 2 || len(got) != 2 {
			t.Fatalf("search 'RUNWAY': %d results", total)
		}
		got, total, _ = f.svc.List(ctx, offering.ListQuery{Search: "100%"})
		if total != 1 || got[0].Slug != "long" {
			t.Fatalf("search '100%%' must match the literal percent sign: %d", total)
		}
		if got, _, _ := f.svc.List(ctx, offering.ListQuery{Search: "%"}); len(got) != 1 {
			t.Fatalf("search '%%' matched %d, want only the name with a percent sign", len(got))
		}
		if d.Dialect == db.Postgres {
			// Searches on PostgreSQL have a trigram index (migration 00016),
			// and the answers above came through the same LIKE it serves.
			var n int64
			if err := d.Gorm(ctx).Raw("SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'offerings_name_trgm'").Scan(&n).Error; err != nil || n != 1 {
				t.Fatalf("the name search index: %d, %v", n, err)
			}
		}
		page2, _, _ := f.svc.List(ctx, offering.ListQuery{Limit: 3, Offset: 3})
		if len(page2) != 1 || page2[0].Slug != "never" {
			t.Fatalf("page 2 = %v", page2)
		}
		// Page: the same order, and whether more follow, without a count.
		for _, c := range []struct {
			limit, offset int
			want          string
			more          bool
		}{{3, 0, "long short gone", true}, {3, 3, "never", false}, {4, 0, "long short gone never", false}, {2, 4, "", false}} {
			got, err := f.svc.Page(ctx, offering.ListQuery{Limit: c.limit, Offset: c.offset})
			var slugs []string
			for _, g := range got.Offerings {
				slugs = append(slugs, g.Slug)
			}
			if err != nil || strings.Join(slugs, " ") != c.want || got.Next != c.more || got.Prev != (c.offset > 0) {
				t.Fatalf("Page(%d, %d) = %v, next %v, prev %v, %v; want %q, next %v", c.limit, c.offset, slugs, got.Next, got.Prev, err, c.want, c.more)
			}
		}
		f.check(t)
	})
}

// TestPageCursors: walking the list page by page from a cursor (the
// next page after the last offering shown, the previous one before the
// first) meets every offering once, in the order one long page shows,
// forwards and backwards, with ties in funded_until, never-funded
// offerings and a search; a cursor naming no offering reads the first
// page.
func TestPageCursors(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		base := f.clock.Now().UTC().Truncate(time.Second)
		// funded_until: distinct times, ties, and never funded (-1).
		for i, hours := range []int{5, -1, 3, 3, 7, -1, 3, 1, 9, -1, 5, 2, 3} {
			slug := fmt.Sprintf("o%02d", i)
			in := validInput(slug)
			if i%3 == 0 {
				in.Name = ptr("Cursor " + slug)
			}
			if _, _, err := f.svc.Create(ctx, in); err != nil {
				t.Fatal(err)
			}
			if hours >= 0 {
				if err := d.Gorm(ctx).Exec("UPDATE offerings SET funded_until = ? WHERE slug = ?", base.Add(time.Duration(hours)*time.Hour), slug).Error; err != nil {
					t.Fatal(err)
				}
			}
		}
		slugs := func(p offering.ListPage) (out []string) {
			for _, o := range p.Offerings {
				out = append(out, o.Slug)
			}
			return out
		}
		for _, search := range []string{"", "cursor"} {
			all, err := f.svc.Page(ctx, offering.ListQuery{Search: search, Limit: 100})
			if err != nil || all.Next || all.Prev {
				t.Fatalf("one long page: next %v prev %v, %v", all.Next, all.Prev, err)
			}
			want := strings.Join(slugs(all), " ")
			for limit := 1; limit <= 5; limit++ {
				// Forwards, from the first page.
				p, err := f.svc.Page(ctx, offering.ListQuery{Search: search, Limit: limit})
				if err != nil {
					t.Fatal(err)
				}
				got, pages := slugs(p), []offering.ListPage{p}
				for p.Next {
					if len(pages) > 20 {
						t.Fatalf("search %q, limit %d: more pages than offerings: %v", search, limit, got)
					}
					if p, err = f.svc.Page(ctx, offering.ListQuery{Search: search, Limit: limit, After: p.Offerings[len(p.Offerings)-1].ID}); err != nil {
						t.Fatal(err)
					}
					if !p.Prev {
						t.Fatalf("search %q, limit %d: a page after a cursor says nothing comes before it", search, limit)
					}
					got, pages = append(got, slugs(p)...), append(pages, p)
				}
				if strings.Join(got, " ") != want {
					t.Fatalf("search %q, limit %d forwards:\n got %v\nwant %s", search, limit, got, want)
				}
				// Backwards, from the last page.
				var back []string
				for i := len(pages) - 1; i > 0; i-- {
					prev, err := f.svc.Page(ctx, offering.ListQuery{Search: search, Limit: limit, Before: pages[i].Offerings[0].ID})
					if err != nil {
						t.Fatal(err)
					}
					if !prev.Next || prev.Prev != (i > 1) || strings.Join(slugs(prev), " ") != strings.Join(slugs(pages[i-1]), " ") {
						t.Fatalf("search %q, limit %d: the page before page %d = %v (prev %v next %v), want %v",
							search, limit, i+1, slugs(prev), prev.Prev, prev.Next, slugs(pages[i-1]))
					}
					back = append(slugs(prev), back...)
				}
				if len(pages) > 1 && strings.Join(append(back, slugs(pages[len(pages)-1])...), " ") != want {
					t.Fatalf("search %q, limit %d backwards: %v", search, limit, back)
				}
			}
		}
		for _, q := range []offering.ListQuery{{Limit: 3, After: 999_999}, {Limit: 3, Before: 999_999}} {
			p, err := f.svc.Page(ctx, q)
			first, _ := f.svc.Page(ctx, offering.ListQuery{Limit: 3})
			if err != nil || strings.Join(slugs(p), " ") != strings.Join(slugs(first), " ") || p.Prev || !p.Next {
				t.Fatalf("%+v: %v (prev %v next %v) %v, want the first page", q, slugs(p), p.Prev, p.Next, err)
			}
		}
	})
}

// TestCreditHoldsStatusUntilCommit: a credit's transaction keeps the
// offering's cached status out of use from the credit to its commit, so
// that no one who saw the commit is answered from an older snapshot.
func TestCreditHoldsStatusUntilCommit(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		o, _, err := f.svc.Create(ctx, validInput("held"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Status(ctx, "held"); err != nil { // cached
			t.Fatal(err)
		}
		err = f.db.Tx(ctx, func(tx db.Tx) error {
			if _, err := f.svc.CreditRunway(ctx, tx, o.ID, offering.Credit{Key: "invoice:held", Debit: ledger.Lightning, Amount: 3_600_000}); err != nil {
				return err
			}
			if !f.svc.StatusHeld("held") {
				t.Error("a credit in flight does not hold the cached status")
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if f.svc.StatusHeld("held") {
			t.Error("the hold outlives the commit")
		}
		st, err := f.svc.Status(ctx, "held")
		if err != nil || !st.Alive() {
			t.Fatalf("status after the credit: %+v, %v", st, err)
		}
		f.check(t)
	})
}

func TestConcurrentCreditsAndAccruals(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		o, _, _ := f.svc.Create(ctx, validInput("busy"))
		var wg sync.WaitGroup
		errs := make(chan error, 100)
		for i := 0; i < 20; i++ {
			wg.Add(2)
			go func(i int) {
				defer wg.Done()
				err := f.db.Tx(ctx, func(tx db.Tx) error {
					_, err := f.svc.CreditRunway(ctx, tx, o.ID, offering.Credit{Key: "invoice:" + string(rune('a'+i%10)), Debit: ledger.Lightning, Amount: 1_000_000})
					return err
				})
				errs <- err
			}(i)
			go func() {
				defer wg.Done()
				f.clock.Advance(time.Minute)
				_, err := f.svc.Accrue(ctx, o.ID)
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Fatal(err)
			}
		}
		runway, _ := f.ledger.Balance(ctx, ledger.OfferingRunway(o.ID))
		earned, _ := f.ledger.Balance(ctx, ledger.OfferingEarned(o.ID))
		if runway+earned != 10_000_000 {
			t.Fatalf("runway %d + earned %d = %d, want the 10 distinct credits (10,000,000)", runway, earned, runway+earned)
		}
		f.check(t)
	})
}

// TestSlugOf: an offering's slug by its id, read once and then kept (the
// second answer comes with the database closed); a missing id is
// NotFound.
func TestSlugOf(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		o, _, err := f.svc.Create(ctx, validInput("site-a"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.SlugOf(ctx, o.ID+1000); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("a missing offering: %v, want not found", err)
		}
		if slug, err := f.svc.SlugOf(ctx, o.ID); err != nil || slug != "site-a" {
			t.Fatalf("SlugOf: %q %v", slug, err)
		}
		d.Close()
		if slug, err := f.svc.SlugOf(ctx, o.ID); err != nil || slug != "site-a" {
			t.Fatalf("SlugOf, kept: %q %v", slug, err)
		}
	})
}

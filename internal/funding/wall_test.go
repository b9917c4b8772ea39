package funding_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/funding"
	"github.com/keepalive/keepalive/internal/money"
)

func TestWallShowsOnlyWhatDonorsMadePublic(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		gifts := []struct {
			name, message string
			public, pay   bool
			amount        money.Msat
		}{
			{"Ann", "keep going", true, true, 21_000_000},
			{"Secret Sam", "private note", false, true, 5_000_000},
			{"", "no name, public", true, true, 3_000_000},
			{"Unpaid Una", "never paid", true, false, 9_000_000},
			{"Bea", "", true, true, 1_000_000},
		}
		for i, g := range gifts {
			inv, err := f.funding.Donate(ctx, funding.DonationRequest{Slug: "site", Amount: g.amount, Name: g.name, Message: g.message, Public: g.public})
			if err != nil {
				t.Fatal(err)
			}
			if g.pay {
				f.clock.Advance(time.Minute)
				if err := f.funding.Settle(ctx, f.node.settle(hashOf(t, inv), uint64(i+1))); err != nil {
					t.Fatal(err)
				}
			}
		}
		wall, err := f.funding.Wall(ctx, f.offering.ID, 10)
		if err != nil {
			t.Fatal(err)
		}
		want := []funding.WallEntry{ // newest first
			{Name: "Bea", Amount: 1_000_000},
			{Name: funding.AnonymousName, Message: "no name, public", Anonymous: true, Amount: 3_000_000},
			{Name: funding.AnonymousName, Anonymous: true, Amount: 5_000_000},
			{Name: "Ann", Message: "keep going", Amount: 21_000_000},
		}
		if len(wall) != len(want) {
			t.Fatalf("%d wall entries, want %d: %+v", len(wall), len(want), wall)
		}
		for i, w := range want {
			g := wall[i]
			if g.Name != w.Name || g.Message != w.Message || g.Anonymous != w.Anonymous || g.Amount != w.Amount || g.SettledAt.IsZero() {
				t.Errorf("entry %d: %+v, want %+v", i, g, w)
			}
		}
		if s := fmt.Sprintf("%+v", wall); strings.Contains(s, "Secret Sam") || strings.Contains(s, "private note") || strings.Contains(s, "Una") {
			t.Fatalf("the wall shows what a donor kept private or never paid: %s", s)
		}
		if short, _ := f.funding.Wall(ctx, f.offering.ID, 2); len(short) != 2 || short[0].Name != "Bea" {
			t.Fatalf("limit 2: %+v", short)
		}
	})
}

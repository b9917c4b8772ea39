package regtest

import (
	"context"
	"testing"
	"time"
)

func TestMain(m *testing.M) { Main(m) }

// TestPaymentsBothWays checks what every integration test relies on: each
// node can pay the other as soon as Start returns.
func TestPaymentsBothWays(t *testing.T) {
	n := Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, tc := range []struct {
		name       string
		from, to   *Node
		amountMsat int64
	}{
		{"payer to site", n.Payer, n.Site, 1_000_000},
		{"site to payer", n.Site, n.Payer, 2_000_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bolt11, err := tc.to.AddInvoice(ctx, tc.amountMsat)
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.from.PayInvoice(ctx, bolt11); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("lncli", func(t *testing.T) {
		out, err := n.Site.Lncli(ctx, "getinfo")
		if err != nil {
			t.Fatal(err)
		}
		if len(out) == 0 {
			t.Fatal("lncli getinfo printed nothing")
		}
	})
}

func TestMine(t *testing.T) {
	n := Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	before, err := n.Site.getInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Mine(ctx, 3); err != nil {
		t.Fatal(err)
	}
	for _, nd := range []*Node{n.Site, n.Payer} {
		info, err := nd.getInfo(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.BlockHeight < before.BlockHeight+3 {
			t.Errorf("%s at height %d after mining 3 on %d", nd.Name, info.BlockHeight, before.BlockHeight)
		}
	}
}

func TestSkipsWithoutEnv(t *testing.T) {
	t.Setenv(EnvEnable, "")
	ran := false
	t.Run("inner", func(t *testing.T) {
		Shared(t)
		ran = true
	})
	if ran {
		t.Error("Shared did not skip with the integration tests off")
	}
}

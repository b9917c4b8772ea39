package offering_test

import (
	"context"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/lnurl"
	"github.com/keepalive/keepalive/internal/offering"
)

func sign(t *testing.T, priv *btcec.PrivateKey, k1 string) (string, string) {
	t.Helper()
	sig, key, err := lnurl.SignAuth(priv, k1)
	if err != nil {
		t.Fatal(err)
	}
	return sig, key
}

func TestWalletLinkThenSignIn(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		o, _, _ := f.svc.Create(ctx, validInput("walleted"))
		wallet, _ := btcec.NewPrivateKey()
		stranger, _ := btcec.NewPrivateKey()

		// A wallet nobody linked cannot sign in.
		ch, err := f.svc.NewChallenge(ctx, offering.AuthLogin, nil)
		if err != nil {
			t.Fatal(err)
		}
		sig, key := sign(t, wallet, ch.K1)
		if err := f.svc.WalletSigned(ctx, ch.K1, sig, key); apperr.CodeOf(err) != apperr.Unauthorized {
			t.Fatalf("unlinked wallet: err = %v, want unauthorized", err)
		}

		// Link it.
		link, _ := f.svc.NewChallenge(ctx, offering.AuthLink, &o.ID)
		sig, key = sign(t, wallet, link.K1)
		if err := f.svc.WalletSigned(ctx, link.K1, sig, key); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.WalletSigned(ctx, link.K1, sig, key); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("replayed link callback: err = %v, want conflict", err)
		}
		if keys, _ := f.svc.LinkedKeys(ctx, o.ID); len(keys) != 1 || keys[0] != key {
			t.Fatalf("linked keys: %v", keys)
		}

		// Sign in: the browser cannot finish before the wallet signs.
		ch, _ = f.svc.NewChallenge(ctx, offering.AuthLogin, nil)
		k1 := ch.K1
		if _, err := f.svc.CompleteLogin(ctx, ch.Binding); apperr.CodeOf(err) != apperr.Unauthorized {
			t.Fatalf("complete before signing: %v", err)
		}
		// A signature by another key, or over another k1, is refused.
		badSig, _ := sign(t, stranger, k1)
		if err := f.svc.WalletSigned(ctx, k1, badSig, key); apperr.CodeOf(err) != apperr.Unauthorized {
			t.Fatalf("forged signature: err = %v", err)
		}
		other, _ := f.svc.NewChallenge(ctx, offering.AuthLogin, nil)
		sigOther, _ := sign(t, wallet, other.K1)
		if err := f.svc.WalletSigned(ctx, k1, sigOther, key); apperr.CodeOf(err) != apperr.Unauthorized {
			t.Fatalf("signature over another k1: err = %v", err)
		}
		sig, key = sign(t, wallet, k1)
		if err := f.svc.WalletSigned(ctx, k1, sig, key); err != nil {
			t.Fatal(err)
		}
		if ok, _ := f.svc.ChallengeSigned(ctx, ch.Binding); !ok {
			t.Fatal("challenge not reported signed")
		}
		// The k1 everyone saw in the QR code does not finish the sign-in.
		if ok, _ := f.svc.ChallengeSigned(ctx, k1); ok {
			t.Fatal("the public k1 reports the challenge signed")
		}
		if _, err := f.svc.CompleteLogin(ctx, k1); err == nil {
			t.Fatal("the public k1 finished the sign-in")
		}
		owned, err := f.svc.CompleteLogin(ctx, ch.Binding)
		if err != nil || len(owned) != 1 || owned[0].ID != o.ID {
			t.Fatalf("CompleteLogin = %v, %v", owned, err)
		}
		if _, err := f.svc.CompleteLogin(ctx, ch.Binding); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("a sign-in used twice: %v", err)
		}

		// Challenges expire.
		late, _ := f.svc.NewChallenge(ctx, offering.AuthLogin, nil)
		f.clock.Advance(offering.ChallengeTTL + time.Second)
		sig, key = sign(t, wallet, late.K1)
		if err := f.svc.WalletSigned(ctx, late.K1, sig, key); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("expired challenge: %v", err)
		}
		if err := f.svc.WalletSigned(ctx, "zz", sig, key); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("malformed k1: %v", err)
		}
	})
}

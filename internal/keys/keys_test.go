package keys_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/keys"
)

func sealer(t *testing.T, seed byte) *keys.Sealer {
	t.Helper()
	s, err := keys.NewSealer(bytes.Repeat([]byte{seed}, keys.KeySize), nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func stored(t *testing.T, d *db.DB, name string) []byte {
	t.Helper()
	var v []byte
	if err := d.Gorm(context.Background()).Raw("SELECT value FROM site_secrets WHERE name = ?", name).Row().Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// A read of the database does not give the secrets away: they are stored
// sealed, a clear one left by an earlier version is sealed on start, and
// another key does not open them.
func TestSecretsAreSealed(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := sealer(t, 1)
		v, err := keys.Secret(ctx, d, s, "cookie-hmac", 32, nil)
		if err != nil || len(v) != 32 {
			t.Fatalf("%x %v", v, err)
		}
		if raw := stored(t, d, "cookie-hmac"); bytes.Contains(raw, v) {
			t.Fatal("the database holds the secret in clear")
		}
		again, err := keys.Secret(ctx, d, s, "cookie-hmac", 32, nil)
		if err != nil || !bytes.Equal(again, v) {
			t.Fatalf("second read: %x %v, want the same secret", again, err)
		}

		// A clear secret from before sealing: the same value, now sealed.
		legacy := bytes.Repeat([]byte{7}, 32)
		if err := d.Gorm(ctx).Exec("INSERT INTO site_secrets (name, value, created_at) VALUES (?, ?, ?)", "status-token-ed25519", legacy, time.Now()).Error; err != nil {
			t.Fatal(err)
		}
		got, err := keys.Secret(ctx, d, s, "status-token-ed25519", 32, nil)
		if err != nil || !bytes.Equal(got, legacy) {
			t.Fatalf("legacy secret: %x %v", got, err)
		}
		if raw := stored(t, d, "status-token-ed25519"); bytes.Contains(raw, legacy) {
			t.Fatal("the legacy secret is still in clear")
		}
		if got, err := keys.Secret(ctx, d, s, "status-token-ed25519", 32, nil); err != nil || !bytes.Equal(got, legacy) {
			t.Fatalf("legacy secret after sealing: %x %v", got, err)
		}

		// Another key: a clear error, never another secret.
		if _, err := keys.Secret(ctx, d, sealer(t, 2), "cookie-hmac", 32, nil); !errors.Is(err, keys.ErrWrongKey) {
			t.Fatalf("wrong key: %v", err)
		}
		// A sealed value moved to another name does not open.
		if err := d.Gorm(ctx).Exec("UPDATE site_secrets SET value = ? WHERE name = ?", stored(t, d, "cookie-hmac"), "status-token-ed25519").Error; err != nil {
			t.Fatal(err)
		}
		if _, err := keys.Secret(ctx, d, s, "status-token-ed25519", 32, nil); !errors.Is(err, keys.ErrWrongKey) {
			t.Fatalf("swapped rows: %v", err)
		}
	})
}

func TestLoadKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "keepalive.secret-key")
	k, created, err := keys.LoadKeyFile(path, bytes.NewReader(bytes.Repeat([]byte{9}, 32)))
	if err != nil || !created || len(k) != keys.KeySize {
		t.Fatalf("%x %v %v", k, created, err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	again, created, err := keys.LoadKeyFile(path, bytes.NewReader(bytes.Repeat([]byte{5}, 32)))
	if err != nil || created || !bytes.Equal(again, k) {
		t.Fatalf("second load: %x %v %v", again, created, err)
	}
	if err := os.WriteFile(path, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := keys.LoadKeyFile(path, nil); err == nil {
		t.Fatal("a bad key file was accepted")
	}
}

func TestParseKey(t *testing.T) {
	k := bytes.Repeat([]byte{0xfb}, keys.KeySize)
	for _, s := range []string{hex.EncodeToString(k), base64.StdEncoding.EncodeToString(k), base64.RawURLEncoding.EncodeToString(k), " " + hex.EncodeToString(k) + "\n"} {
		if got, err := keys.ParseKey(s); err != nil || !bytes.Equal(got, k) {
			t.Errorf("ParseKey(%q) = %x, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "abcd", hex.EncodeToString(k[:31]), "zz" + hex.EncodeToString(k)[2:]} {
		if _, err := keys.ParseKey(s); err == nil {
			t.Errorf("ParseKey(%q) accepted", s)
		}
	}
}

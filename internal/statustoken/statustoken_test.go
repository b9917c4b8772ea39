package statustoken_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keepalive/keepalive/internal/offering"
	"github.com/keepalive/keepalive/internal/statustoken"
)

const issuer = "https://keepalive.example"

var now = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func seed(b byte) []byte { return bytes.Repeat([]byte{b}, ed25519.SeedSize) }

func newSigner(t *testing.T, b byte) *statustoken.Signer {
	t.Helper()
	s, err := statustoken.NewSigner(seed(b), issuer+"/")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func alive(left time.Duration) offering.Status {
	return offering.Status{Slug: "my-site", State: offering.Alive, FundedUntil: now.Add(left), RunwaySeconds: int64(left / time.Second), At: now}
}

// publishedKey reads the JWKS as a host would, by hand: no code of the
// signer is involved.
func publishedKey(t *testing.T, jwks []byte) (ed25519.PublicKey, string) {
	t.Helper()
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(jwks, &set); err != nil {
		t.Fatalf("jwks: %v: %s", err, jwks)
	}
	if len(set.Keys) != 1 {
		t.Fatalf("jwks holds %d keys, want 1: %s", len(set.Keys), jwks)
	}
	k := set.Keys[0]
	want := map[string]string{"kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA"}
	for field, v := range want {
		if k[field] != v {
			t.Errorf("jwk %s = %q, want %q", field, k[field], v)
		}
	}
	x, err := base64.RawURLEncoding.DecodeString(k["x"])
	if err != nil || len(x) != ed25519.PublicKeySize {
		t.Fatalf("jwk x %q: %v (%d bytes)", k["x"], err, len(x))
	}
	return ed25519.PublicKey(x), k["kid"]
}

// parseWithLibrary verifies a token with golang-jwt, an implementation
// independent of this package, as a host would.
func parseWithLibrary(tok string, pub ed25519.PublicKey, kid string, at time.Time) (jwt.MapClaims, error) {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(tok, claims, func(t *jwt.Token) (any, error) {
		if t.Header["kid"] != kid {
			return nil, errors.New("unknown kid")
		}
		return pub, nil
	}, jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithTimeFunc(func() time.Time { return at }),
		jwt.WithIssuer(issuer), jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	return claims, err
}

func TestTokenVerifiesWithStandardLibrary(t *testing.T) {
	s := newSigner(t, 7)
	pub, kid := publishedKey(t, s.JWKS())
	tok, err := s.Sign(alive(30*24*time.Hour), now)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := parseWithLibrary(tok, pub, kid, now.Add(time.Minute))
	if err != nil {
		t.Fatalf("golang-jwt refused the token: %v", err)
	}
	want := map[string]any{
		"iss": issuer, "sub": "my-site", "state": "alive",
		"funded_until": float64(now.Add(30 * 24 * time.Hour).Unix()),
		"iat":          float64(now.Unix()), "exp": float64(now.Add(time.Hour).Unix()),
	}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("claim %s = %v, want %v", k, claims[k], v)
		}
	}
	if len(claims) != len(want) {
		t.Errorf("claims %v, want exactly %v", claims, want)
	}

	header, _, _ := strings.Cut(tok, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(header)
	if string(raw) != `{"alg":"EdDSA","typ":"JWT","kid":"`+kid+`"}` {
		t.Errorf("header %s", raw)
	}

	t.Run("tampered payload", func(t *testing.T) {
		parts := strings.Split(tok, ".")
		forged, _ := json.Marshal(map[string]any{"iss": issuer, "sub": "my-site", "state": "alive", "iat": now.Unix(), "exp": now.Add(100 * 24 * time.Hour).Unix()})
		parts[1] = base64.RawURLEncoding.EncodeToString(forged)
		if _, err := parseWithLibrary(strings.Join(parts, "."), pub, kid, now); !errors.Is(err, jwt.ErrTokenSignatureInvalid) {
			t.Fatalf("forged payload: %v, want an invalid signature", err)
		}
		if _, err := statustoken.Verify(strings.Join(parts, "."), pub, now); !errors.Is(err, statustoken.ErrSignature) {
			t.Fatalf("Verify of a forged payload: %v", err)
		}
	})
	t.Run("wrong key", func(t *testing.T) {
		other, _ := publishedKey(t, newSigner(t, 8).JWKS())
		if _, err := parseWithLibrary(tok, other, kid, now); !errors.Is(err, jwt.ErrTokenSignatureInvalid) {
			t.Fatalf("other key: %v, want an invalid signature", err)
		}
		if _, err := statustoken.Verify(tok, other, now); !errors.Is(err, statustoken.ErrSignature) {
			t.Fatalf("Verify with another key: %v", err)
		}
	})
	t.Run("expired", func(t *testing.T) {
		if _, err := parseWithLibrary(tok, pub, kid, now.Add(time.Hour+time.Second)); !errors.Is(err, jwt.ErrTokenExpired) {
			t.Fatalf("an hour later: %v, want expired", err)
		}
		if _, err := statustoken.Verify(tok, pub, now.Add(time.Hour)); !errors.Is(err, statustoken.ErrExpired) {
			t.Fatalf("Verify an hour later: %v", err)
		}
	})
	t.Run("alg none refused", func(t *testing.T) {
		parts := strings.Split(tok, ".")
		parts[0] = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
		parts[2] = ""
		if _, err := statustoken.Verify(strings.Join(parts, "."), pub, now); !errors.Is(err, statustoken.ErrMalformed) {
			t.Fatalf("alg none: %v", err)
		}
		if _, err := parseWithLibrary(strings.Join(parts, "."), pub, kid, now); err == nil {
			t.Fatal("golang-jwt accepted alg none")
		}
	})
}

func TestExpiry(t *testing.T) {
	s := newSigner(t, 1)
	grace := offering.Status{Slug: "g", State: offering.Grace, FundedUntil: now.Add(-50 * time.Minute), At: now}
	cases := []struct {
		name        string
		st          offering.Status
		grace       time.Duration
		exp         time.Time
		fundedUntil int64
	}{
		{"alive for a month lives the ttl", alive(30 * 24 * time.Hour), 0, now.Add(time.Hour), now.Add(30 * 24 * time.Hour).Unix()},
		{"alive for ten minutes dies with the runway", alive(10 * time.Minute), 0, now.Add(10 * time.Minute), now.Add(10 * time.Minute).Unix()},
		{"alive, sub-second runway rounds down", alive(1500 * time.Millisecond), 0, now.Add(time.Second), now.Add(time.Second).Unix()},
		{"grace ends with the grace period", grace, time.Hour, now.Add(10 * time.Minute), grace.FundedUntil.Unix()},
		{"grace, long period, lives the ttl", grace, 24 * time.Hour, now.Add(time.Hour), grace.FundedUntil.Unix()},
		{"grace, period unknown, lives the ttl", grace, 0, now.Add(time.Hour), grace.FundedUntil.Unix()},
		{"expired", offering.Status{Slug: "e", State: offering.Expired, FundedUntil: now.Add(-48 * time.Hour)}, 0, now.Add(time.Hour), now.Add(-48 * time.Hour).Unix()},
		{"never funded", offering.Status{Slug: "n", State: offering.Expired}, 0, now.Add(time.Hour), 0},
	}
	pub := s.PublicKey()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok, err := s.Issue(c.st, c.grace, now)
			if err != nil {
				t.Fatal(err)
			}
			if tok.ExpiresAt() != c.exp || tok.Claims.FundedUntil != c.fundedUntil {
				t.Fatalf("exp %s funded_until %d, want %s %d", tok.ExpiresAt(), tok.Claims.FundedUntil, c.exp, c.fundedUntil)
			}
			got, err := statustoken.Verify(tok.Raw, pub, c.exp.Add(-time.Second))
			if err != nil || got != tok.Claims {
				t.Fatalf("Verify a second before exp: %+v, %v; want %+v", got, err, tok.Claims)
			}
			if _, err := statustoken.Verify(tok.Raw, pub, c.exp); !errors.Is(err, statustoken.ErrExpired) {
				t.Fatalf("Verify at exp: %v", err)
			}
			if c.fundedUntil == 0 && strings.Contains(payload(t, tok.Raw), "funded_until") {
				t.Fatalf("never funded, yet funded_until is present: %s", payload(t, tok.Raw))
			}
		})
	}
}

func payload(t *testing.T, tok string) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func TestKey(t *testing.T) {
	t.Run("RFC 8037 A.1 key", func(t *testing.T) {
		d, _ := base64.RawURLEncoding.DecodeString("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
		s, err := statustoken.NewSigner(d, issuer)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(s.JWKS()), `"x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"`) {
			t.Fatalf("jwks %s does not carry the RFC's public key", s.JWKS())
		}
	})
	t.Run("same seed, same key and kid", func(t *testing.T) {
		a, b := newSigner(t, 3), newSigner(t, 3)
		if !bytes.Equal(a.JWKS(), b.JWKS()) || a.KeyID() != b.KeyID() || len(a.KeyID()) != 16 {
			t.Fatalf("restart changed the key: %s vs %s", a.JWKS(), b.JWKS())
		}
		if a.KeyID() == newSigner(t, 4).KeyID() {
			t.Fatal("two keys share a kid")
		}
	})
	t.Run("bad input", func(t *testing.T) {
		if _, err := statustoken.NewSigner(seed(1)[:31], issuer); err == nil {
			t.Error("a 31-byte seed was accepted")
		}
		if _, err := statustoken.NewSigner(seed(1), issuer, statustoken.WithTTL(0)); err == nil {
			t.Error("a zero ttl was accepted")
		}
		s := newSigner(t, 1)
		if _, err := s.Sign(offering.Status{Slug: "x", State: "zombie"}, now); err == nil {
			t.Error("an unknown state was signed")
		}
		if _, err := s.Sign(offering.Status{State: offering.Expired}, now); err == nil {
			t.Error("an empty slug was signed")
		}
		for _, tok := range []string{"", "a.b", "a.b.c.d", "!!.!!.!!"} {
			if _, err := statustoken.Verify(tok, s.PublicKey(), now); !errors.Is(err, statustoken.ErrMalformed) {
				t.Errorf("Verify(%q): %v, want malformed", tok, err)
			}
		}
	})
}

func BenchmarkSign(b *testing.B) {
	s, err := statustoken.NewSigner(seed(9), issuer)
	if err != nil {
		b.Fatal(err)
	}
	st := alive(24 * time.Hour)
	for b.Loop() {
		if _, err := s.Sign(st, now); err != nil {
			b.Fatal(err)
		}
	}
}

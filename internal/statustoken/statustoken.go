// Package statustoken owns the signed status token: a compact JWS (a JWT
// signed with Ed25519, "EdDSA" of RFC 8037) that says an offering's funding
// state, so that a host can verify it offline with the site's published
// key and keep working while the site is down. It is written with the
// standard library only; the site carries no JWT library.
//
// What a token promises: until exp, the offering is in the state it names
// (an "alive" token never outlives funded_until, a "grace" token never
// outlives the grace period when the signer is told its length). A payment
// can only move an offering towards alive, so an "expired" or "grace" token
// may be pessimistic before it expires, never optimistic.
package statustoken

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keepalive/keepalive/internal/offering"
)

// Algorithm is the JWS "alg" of every token (RFC 8037).
const Algorithm = "EdDSA"

// DefaultTTL is how long a token lives when nothing shortens it: long
// enough to ride out an outage of the site, short enough that a host
// learns of an expiry or a revival within the hour.
const DefaultTTL = time.Hour

// Claims are what a token says. Times are Unix seconds.
type Claims struct {
	Issuer  string `json:"iss"`
	Subject string `json:"sub"` // the offering's slug
	State   string `json:"state"`
	// FundedUntil is absent (0) when the offering was never funded.
	FundedUntil int64 `json:"funded_until,omitempty"`
	IssuedAt    int64 `json:"iat"`
	ExpiresAt   int64 `json:"exp"`
}

// Token is a signed token and what it says.
type Token struct {
	Raw    string
	Claims Claims
}

// ExpiresAt is when the token stops being valid.
func (t Token) ExpiresAt() time.Time { return time.Unix(t.Claims.ExpiresAt, 0).UTC() }

// Signer signs status tokens with one Ed25519 key.
type Signer struct {
	priv   ed25519.PrivateKey
	pub    ed25519.PublicKey
	kid    string
	issuer string
	ttl    time.Duration
	header string // encoded once: it never changes
	jwks   []byte
}

// Option sets an optional property of a Signer.
type Option func(*Signer)

// WithTTL sets the longest a token lives (DefaultTTL otherwise).
func WithTTL(d time.Duration) Option { return func(s *Signer) { s.ttl = d } }

// NewSigner returns a signer for the key derived from a 32-byte Ed25519
// seed. The seed must persist (the site keeps it in the database), or
// every restart would invalidate the key hosts have cached. issuer is the
// site's base URL, the "iss" of every token.
func NewSigner(seed []byte, issuer string, opts ...Option) (*Signer, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("statustoken: seed is %d bytes, want %d", len(seed), ed25519.SeedSize)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	s := &Signer{priv: priv, pub: pub, kid: KeyID(pub), issuer: strings.TrimRight(issuer, "/"), ttl: DefaultTTL}
	for _, o := range opts {
		o(s)
	}
	if s.ttl < time.Second {
		return nil, fmt.Errorf("statustoken: ttl %s is under a second", s.ttl)
	}
	h, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Typ string `json:"typ"`
		Kid string `json:"kid"`
	}{Algorithm, "JWT", s.kid})
	if err != nil {
		return nil, fmt.Errorf("statustoken: encode header: %w", err)
	}
	s.header = b64.EncodeToString(h)
	s.jwks, err = json.Marshal(JWKS{Keys: []JWK{{
		Kty: "OKP", Crv: "Ed25519", X: b64.EncodeToString(pub), Kid: s.kid, Use: "sig", Alg: Algorithm,
	}}})
	if err != nil {
		return nil, fmt.Errorf("statustoken: encode jwks: %w", err)
	}
	return s, nil
}

var b64 = base64.RawURLEncoding

// KeyID names a public key: the first 16 hex digits of its SHA-256, so a
// host can tell a rotated key from the one it cached.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// PublicKey is the key tokens verify with.
func (s *Signer) PublicKey() ed25519.PublicKey { return s.pub }

// KeyID is the "kid" of every token and of the published key.
func (s *Signer) KeyID() string { return s.kid }

// JWK is one public key of a JWK Set, an RFC 8037 OKP key.
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
}

// JWKS is a JWK Set (RFC 7517).
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// JWKS returns the public key as a JWK Set, to publish at
// /.well-known/jwks.json. The slice is shared: do not modify it.
func (s *Signer) JWKS() []byte { return s.jwks }

// Sign signs st as of now. It does not know the offering's grace period,
// so a "grace" token lives only the TTL; use Issue with the grace period
// to cap it at the end of the grace.
func (s *Signer) Sign(st offering.Status, now time.Time) (string, error) {
	t, err := s.Issue(st, 0, now)
	return t.Raw, err
}

// Issue signs st as of now. grace is the offering's grace period (0 when
// unknown). The token's exp is now + TTL, but never later than the moment
// its state could stop being true: funded_until for "alive", funded_until
// + grace for "grace". Times are truncated to whole seconds downwards, so
// rounding never extends a promise.
func (s *Signer) Issue(st offering.Status, grace time.Duration, now time.Time) (Token, error) {
	if st.Slug == "" {
		return Token{}, errors.New("statustoken: sign: empty slug")
	}
	c := Claims{Issuer: s.issuer, Subject: st.Slug, State: string(st.State), IssuedAt: now.Unix()}
	c.ExpiresAt = now.Add(s.ttl).Unix()
	if !st.FundedUntil.IsZero() {
		c.FundedUntil = st.FundedUntil.Unix()
	}
	switch st.State {
	case offering.Alive:
		c.ExpiresAt = min(c.ExpiresAt, c.FundedUntil)
	case offering.Grace:
		if grace > 0 {
			c.ExpiresAt = min(c.ExpiresAt, st.FundedUntil.Add(grace).Unix())
		}
	case offering.Expired:
	default:
		return Token{}, fmt.Errorf("statustoken: sign %s: unknown state %q", st.Slug, st.State)
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return Token{}, fmt.Errorf("statustoken: encode claims of %s: %w", st.Slug, err)
	}
	var b strings.Builder
	sigLen := b64.EncodedLen(ed25519.SignatureSize)
	b.Grow(len(s.header) + 1 + b64.EncodedLen(len(payload)) + 1 + sigLen)
	b.WriteString(s.header)
	b.WriteByte('.')
	b.WriteString(b64.EncodeToString(payload))
	sig := ed25519.Sign(s.priv, []byte(b.String()))
	b.WriteByte('.')
	b.WriteString(b64.EncodeToString(sig))
	return Token{Raw: b.String(), Claims: c}, nil
}

// Errors Verify returns, to tell a forged token from a stale one.
var (
	ErrMalformed = errors.New("statustoken: malformed token")
	ErrSignature = errors.New("statustoken: bad signature")
	ErrExpired   = errors.New("statustoken: token expired")
)

// Verify checks a token against a public key at now and returns its
// claims. It is what a host does offline, written out for the docs and
// tests; any JWT library that supports EdDSA does the same.
func Verify(token string, pub ed25519.PublicKey, now time.Time) (Claims, error) {
	if len(pub) != ed25519.PublicKeySize {
		return Claims{}, fmt.Errorf("statustoken: public key is %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	head, rest, ok1 := strings.Cut(token, ".")
	payload, sig64, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(sig64, ".") {
		return Claims{}, ErrMalformed
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if err := decodePart(head, &h); err != nil {
		return Claims{}, err
	}
	// The algorithm comes from the verifier, never from the token: a token
	// saying "none" or "HS256" is refused, not obeyed.
	if h.Alg != Algorithm {
		return Claims{}, fmt.Errorf("%w: alg %q", ErrMalformed, h.Alg)
	}
	sig, err := b64.DecodeString(sig64)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return Claims{}, fmt.Errorf("%w: signature encoding", ErrMalformed)
	}
	if !ed25519.Verify(pub, []byte(token[:len(head)+1+len(payload)]), sig) {
		return Claims{}, ErrSignature
	}
	var c Claims
	if err := decodePart(payload, &c); err != nil {
		return Claims{}, err
	}
	if now.Unix() >= c.ExpiresAt {
		return c, fmt.Errorf("%w at %s", ErrExpired, time.Unix(c.ExpiresAt, 0).UTC().Format(time.RFC3339))
	}
	return c, nil
}

func decodePart(part string, v any) error {
	raw, err := b64.DecodeString(part)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return nil
}

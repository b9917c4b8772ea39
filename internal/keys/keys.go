// Package keys owns the secrets the site makes for itself and keeps in
// the database, so that every replica and every restart uses the same
// ones: the key that signs session cookies, and the key that signs status
// tokens. They are stored sealed (AES-256-GCM) with a key kept outside the
// database, so a copy of the database alone forges nothing.
package keys

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/keys/internal/store"
)

// KeySize is the size of the sealing key in bytes.
const KeySize = 32

// sealedPrefix marks a sealed value; values without it were stored in
// clear by earlier versions and are sealed on first read.
var sealedPrefix = []byte("ka-sealed-v1:")

// ErrWrongKey is returned when the sealing key does not open a stored
// secret: the site was given another key than the one that sealed it.
var ErrWrongKey = errors.New("keys: the secret key does not open the site's secrets (a different KEEPALIVE_SECRET_KEY or key file than the one they were sealed with?)")

// Sealer seals and opens the site's secrets.
type Sealer struct {
	aead cipher.AEAD
	rand io.Reader
}

// NewSealer returns a sealer for a KeySize-byte key. r is the source of
// nonces; nil means crypto/rand.
func NewSealer(key []byte, r io.Reader) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("keys: the secret key must be %d bytes, not %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	if r == nil {
		r = rand.Reader
	}
	return &Sealer{aead: aead, rand: r}, nil
}

// seal encrypts value, bound to name (a sealed value moved to another
// row does not open).
func (s *Sealer) seal(name string, value []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := io.ReadFull(s.rand, nonce); err != nil {
		return nil, fmt.Errorf("keys: nonce: %w", err)
	}
	out := append(append([]byte{}, sealedPrefix...), nonce...)
	return s.aead.Seal(out, nonce, value, []byte(name)), nil
}

func (s *Sealer) open(name string, stored []byte) ([]byte, error) {
	rest := stored[len(sealedPrefix):]
	if len(rest) < s.aead.NonceSize() {
		return nil, fmt.Errorf("keys: %s: sealed value too short", name)
	}
	value, err := s.aead.Open(nil, rest[:s.aead.NonceSize()], rest[s.aead.NonceSize():], []byte(name))
	if err != nil {
		return nil, fmt.Errorf("keys: open %s: %w", name, ErrWrongKey)
	}
	return value, nil
}

// Secret returns the named secret, creating it with size random bytes the
// first time, stored sealed. Concurrent first calls from several replicas
// agree on one value: the first insert wins and everyone reads it back. A
// secret stored in clear (before sealing existed) is sealed in place.
func Secret(ctx context.Context, d *db.DB, sealer *Sealer, name string, size int, r io.Reader) ([]byte, error) {
	if r == nil {
		r = rand.Reader
	}
	row, found, err := store.Find(ctx, d, name)
	if err != nil {
		return nil, err
	}
	if found {
		return sealer.reveal(ctx, d, row)
	}
	v := make([]byte, size)
	if _, err := io.ReadFull(r, v); err != nil {
		return nil, fmt.Errorf("keys: generate %s: %w", name, err)
	}
	sealed, err := sealer.seal(name, v)
	if err != nil {
		return nil, err
	}
	if err := store.InsertIfAbsent(ctx, d, store.Secret{Name: name, Value: sealed, CreatedAt: time.Now().UTC()}); err != nil {
		return nil, err
	}
	row, found, err = store.Find(ctx, d, name)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("keys: %s vanished after it was stored", name)
	}
	return sealer.reveal(ctx, d, row)
}

// reveal opens a stored secret, sealing it first if it was stored in
// clear. The update only replaces the clear value it read, so replicas
// starting together seal it once.
func (s *Sealer) reveal(ctx context.Context, d *db.DB, row store.Secret) ([]byte, error) {
	if bytes.HasPrefix(row.Value, sealedPrefix) {
		return s.open(row.Name, row.Value)
	}
	sealed, err := s.seal(row.Name, row.Value)
	if err != nil {
		return nil, err
	}
	if err := store.Replace(ctx, d, row.Name, row.Value, sealed); err != nil {
		return nil, err
	}
	return row.Value, nil
}

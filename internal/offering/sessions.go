package offering

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"time"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/offering/internal/store"
)

// Owner sessions live on the server. A signed-in browser holds a random
// token; only its hash is kept, with the offerings the session may manage
// and the version of each manage key it was signed in with. Signing out
// deletes the session, so a copied cookie stops working; rotating a key
// ends the sessions made with the old one; signing out everywhere ends
// every session that manages any of the same offerings.

// SessionTTL is how long a session lasts after its last sign-in.
const SessionTTL = 30 * 24 * time.Hour

func hashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

func newSessionToken(r io.Reader) (string, error) {
	var b [32]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("offering: session token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// SignIn lets the session with token manage o, starting a new session
// when token is empty, unknown or expired. It returns the token the
// browser keeps: token itself, or the new one.
func (s *Service) SignIn(ctx context.Context, token string, o Offering) (string, error) {
	now := s.Now()
	err := s.db.Tx(ctx, func(tx db.Tx) error {
		row, found := store.Session{}, false
		if token != "" {
			var err error
			if row, found, err = store.LiveSession(ctx, tx, hashToken(token), now); err != nil {
				return err
			}
		}
		if found {
			if err := store.ExtendSession(ctx, tx, row.ID, now.Add(SessionTTL)); err != nil {
				return err
			}
		} else {
			// Expired sessions go when new ones come.
			expired, err := store.ExpiredSessions(ctx, tx, now)
			if err != nil {
				return err
			}
			if err := store.DeleteSessions(ctx, tx, expired); err != nil {
				return err
			}
			fresh, err := newSessionToken(s.rand)
			if err != nil {
				return err
			}
			token = fresh
			row = store.Session{TokenHash: hashToken(token), CreatedAt: now, ExpiresAt: now.Add(SessionTTL)}
			if err := store.CreateSession(ctx, tx, &row); err != nil {
				return err
			}
		}
		return store.Grant(ctx, tx, store.SessionOffering{SessionID: row.ID, OfferingID: o.ID, KeyVersion: KeyVersion(o)})
	})
	if err != nil {
		return "", fmt.Errorf("offering: sign in to %s: %w", o.Slug, err)
	}
	return token, nil
}

// maxSessionOfferings bounds what one session lists: one person rarely
// owns more.
const maxSessionOfferings = 50

// SessionOfferings returns the offerings the session with token may
// manage now: none when the session is unknown, expired or ended, and
// not those whose key was rotated since. One query.
func (s *Service) SessionOfferings(ctx context.Context, token string) ([]Offering, error) {
	if token == "" {
		return nil, nil
	}
	rows, err := store.ManagedBy(ctx, s.db, hashToken(token), s.Now(), maxSessionOfferings)
	if err != nil {
		return nil, err
	}
	var out []Offering
	for _, r := range rows {
		if KeyVersion(r.Offering) == r.SessionKeyVersion {
			out = append(out, r.Offering)
		}
	}
	return out, nil
}

// SignOut ends the session with token.
func (s *Service) SignOut(ctx context.Context, token string) error {
	if token == "" {
		return nil
	}
	return s.db.Tx(ctx, func(tx db.Tx) error {
		ids, err := store.SessionsByToken(ctx, tx, hashToken(token))
		if err != nil {
			return err
		}
		return store.DeleteSessions(ctx, tx, ids)
	})
}

// SignOutEverywhere ends the session with token and every other session
// that manages any offering it manages.
func (s *Service) SignOutEverywhere(ctx context.Context, token string) error {
	if token == "" {
		return nil
	}
	return s.db.Tx(ctx, func(tx db.Tx) error {
		own, err := store.SessionsByToken(ctx, tx, hashToken(token))
		if err != nil {
			return err
		}
		sharing, err := store.SessionsSharingOfferings(ctx, tx, own)
		if err != nil {
			return err
		}
		return store.DeleteSessions(ctx, tx, append(own, sharing...))
	})
}

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
)

// Owner sessions live on the server. A signed-in browser holds a random
// token; only its hash is kept, with the offerings the session may manage
// and the version of each manage key it was signed in with. Signing out
// deletes the session, so a copied cookie stops working; rotating a key
// ends the sessions made with the old one; signing out everywhere ends
// every session that manages any of the same offerings.

// SessionTTL is how long a session lasts after its last sign-in.
const SessionTTL = 30 * 24 * time.Hour

type sessionRow struct {
	ID        int64     `gorm:"primaryKey"`
	TokenHash string    `gorm:"column:token_hash"`
	CreatedAt time.Time `gorm:"column:created_at"`
	ExpiresAt time.Time `gorm:"column:expires_at"`
}

func (sessionRow) TableName() string { return "owner_sessions" }

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
		var row sessionRow
		var found []sessionRow
		if token != "" {
			if err := tx.Gorm(ctx).Where("token_hash = ? AND expires_at > ?", hashToken(token), now).Limit(1).Find(&found).Error; err != nil {
				return err
			}
		}
		if len(found) == 1 {
			row = found[0]
			if err := tx.Gorm(ctx).Model(&row).Update("expires_at", now.Add(SessionTTL)).Error; err != nil {
				return err
			}
		} else {
			// Expired sessions go when new ones come.
			if err := deleteSessions(ctx, tx, "SELECT id FROM owner_sessions WHERE expires_at <= ?", now); err != nil {
				return err
			}
			fresh, err := newSessionToken(s.rand)
			if err != nil {
				return err
			}
			token = fresh
			row = sessionRow{TokenHash: hashToken(token), CreatedAt: now, ExpiresAt: now.Add(SessionTTL)}
			if err := tx.Gorm(ctx).Create(&row).Error; err != nil {
				return err
			}
		}
		return tx.Gorm(ctx).Exec(`INSERT INTO owner_session_offerings (session_id, offering_id, key_version) VALUES (?, ?, ?)
			ON CONFLICT (session_id, offering_id) DO UPDATE SET key_version = excluded.key_version`, row.ID, o.ID, KeyVersion(o)).Error
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
	var rows []struct {
		Offering
		SessionKeyVersion string `gorm:"column:session_key_version"`
	}
	err := s.db.Gorm(ctx).Table("owner_sessions s").
		Select("o.*, so.key_version AS session_key_version").
		Joins("JOIN owner_session_offerings so ON so.session_id = s.id").
		Joins("JOIN offerings o ON o.id = so.offering_id").
		Where("s.token_hash = ? AND s.expires_at > ?", hashToken(token), s.Now()).
		Order("o.id").Limit(maxSessionOfferings).Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("offering: session: %w", err)
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
		return deleteSessions(ctx, tx, "SELECT id FROM owner_sessions WHERE token_hash = ?", hashToken(token))
	})
}

// SignOutEverywhere ends the session with token and every other session
// that manages any offering it manages.
func (s *Service) SignOutEverywhere(ctx context.Context, token string) error {
	if token == "" {
		return nil
	}
	return s.db.Tx(ctx, func(tx db.Tx) error {
		return deleteSessions(ctx, tx, `SELECT session_id FROM owner_session_offerings WHERE offering_id IN (
				SELECT so.offering_id FROM owner_session_offerings so JOIN owner_sessions s ON s.id = so.session_id WHERE s.token_hash = ?)
			UNION SELECT id FROM owner_sessions WHERE token_hash = ?`, hashToken(token), hashToken(token))
	})
}

// deleteSessions deletes the sessions whose ids the query selects, with
// their offerings.
func deleteSessions(ctx context.Context, tx db.Tx, ids string, args ...any) error {
	var list []int64
	if err := tx.Gorm(ctx).Raw(ids, args...).Scan(&list).Error; err != nil {
		return fmt.Errorf("offering: find sessions: %w", err)
	}
	if len(list) == 0 {
		return nil
	}
	if err := tx.Gorm(ctx).Exec("DELETE FROM owner_session_offerings WHERE session_id IN ?", list).Error; err != nil {
		return fmt.Errorf("offering: end sessions: %w", err)
	}
	if err := tx.Gorm(ctx).Exec("DELETE FROM owner_sessions WHERE id IN ?", list).Error; err != nil {
		return fmt.Errorf("offering: end sessions: %w", err)
	}
	return nil
}

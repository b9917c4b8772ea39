package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm/clause"

	"github.com/keepalive/keepalive/internal/db"
)

// Session is a row of owner_sessions: a signed-in browser, known by the
// hash of its token.
type Session struct {
	ID        int64     `gorm:"primaryKey"`
	TokenHash string    `gorm:"column:token_hash"`
	CreatedAt time.Time `gorm:"column:created_at"`
	ExpiresAt time.Time `gorm:"column:expires_at"`
}

func (Session) TableName() string { return "owner_sessions" }

// SessionOffering is a row of owner_session_offerings: an offering a
// session may manage, and the version of the manage key it signed in with.
type SessionOffering struct {
	SessionID  int64  `gorm:"column:session_id;primaryKey;autoIncrement:false"`
	OfferingID int64  `gorm:"column:offering_id;primaryKey;autoIncrement:false"`
	KeyVersion string `gorm:"column:key_version"`
}

func (SessionOffering) TableName() string { return "owner_session_offerings" }

// LiveSession returns the session with that token hash unless it expired
// by now; found is false when there is none.
func LiveSession(ctx context.Context, c Conn, tokenHash string, now time.Time) (s Session, found bool, err error) {
	var rows []Session
	if err := c.Gorm(ctx).Where("token_hash = ? AND expires_at > ?", tokenHash, now).Limit(1).Find(&rows).Error; err != nil {
		return Session{}, false, fmt.Errorf("offering: find session: %w", db.TranslateError(err))
	}
	if len(rows) == 0 {
		return Session{}, false, nil
	}
	return rows[0], true, nil
}

// ExtendSession moves a session's end.
func ExtendSession(ctx context.Context, c Conn, id int64, expires time.Time) error {
	if err := c.Gorm(ctx).Model(&Session{}).Where("id = ?", id).Update("expires_at", expires).Error; err != nil {
		return fmt.Errorf("offering: extend session: %w", db.TranslateError(err))
	}
	return nil
}

// CreateSession writes a new session and sets its id.
func CreateSession(ctx context.Context, c Conn, s *Session) error {
	if err := c.Gorm(ctx).Create(s).Error; err != nil {
		return fmt.Errorf("offering: create session: %w", db.TranslateError(err))
	}
	return nil
}

// Grant lets a session manage an offering with the given key version,
// replacing the version it held.
func Grant(ctx context.Context, c Conn, g SessionOffering) error {
	err := c.Gorm(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "session_id"}, {Name: "offering_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"key_version"}),
	}).Create(&g).Error
	if err != nil {
		return fmt.Errorf("offering: grant session: %w", db.TranslateError(err))
	}
	return nil
}

// ExpiredSessions returns the ids of the sessions expired by now.
func ExpiredSessions(ctx context.Context, c Conn, now time.Time) ([]int64, error) {
	var ids []int64
	if err := c.Gorm(ctx).Model(&Session{}).Where("expires_at <= ?", now).Pluck("id", &ids).Error; err != nil {
		return nil, fmt.Errorf("offering: expired sessions: %w", db.TranslateError(err))
	}
	return ids, nil
}

// SessionsByToken returns the id of the session with that token hash, if
// any.
func SessionsByToken(ctx context.Context, c Conn, tokenHash string) ([]int64, error) {
	var ids []int64
	if err := c.Gorm(ctx).Model(&Session{}).Where("token_hash = ?", tokenHash).Pluck("id", &ids).Error; err != nil {
		return nil, fmt.Errorf("offering: find session: %w", db.TranslateError(err))
	}
	return ids, nil
}

// SessionsSharingOfferings returns the ids of the sessions that manage
// any offering one of the sessions ids manages.
func SessionsSharingOfferings(ctx context.Context, c Conn, ids []int64) ([]int64, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var out []int64
	err := c.Gorm(ctx).Model(&SessionOffering{}).Distinct("session_id").
		Where("offering_id IN (?)", c.Gorm(ctx).Model(&SessionOffering{}).Select("offering_id").Where("session_id IN ?", ids)).
		Pluck("session_id", &out).Error
	if err != nil {
		return nil, fmt.Errorf("offering: sessions sharing offerings: %w", db.TranslateError(err))
	}
	return out, nil
}

// DeleteSessions deletes the sessions with those ids and what they may
// manage.
func DeleteSessions(ctx context.Context, c Conn, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	if err := c.Gorm(ctx).Where("session_id IN ?", ids).Delete(&SessionOffering{}).Error; err != nil {
		return fmt.Errorf("offering: end sessions: %w", db.TranslateError(err))
	}
	if err := c.Gorm(ctx).Where("id IN ?", ids).Delete(&Session{}).Error; err != nil {
		return fmt.Errorf("offering: end sessions: %w", db.TranslateError(err))
	}
	return nil
}

// RevokeOffering ends every session's right to manage the offering.
func RevokeOffering(ctx context.Context, c Conn, offeringID int64) error {
	if err := c.Gorm(ctx).Where("offering_id = ?", offeringID).Delete(&SessionOffering{}).Error; err != nil {
		return fmt.Errorf("offering: revoke sessions of %d: %w", offeringID, db.TranslateError(err))
	}
	return nil
}

// Managed is an offering a session may manage, with the key version the
// session signed in with.
type Managed struct {
	Offering
	SessionKeyVersion string `gorm:"column:session_key_version"`
}

// ManagedBy returns up to limit offerings the live session with that
// token hash may manage, by id. One query.
func ManagedBy(ctx context.Context, c Conn, tokenHash string, now time.Time, limit int) ([]Managed, error) {
	var rows []Managed
	err := c.Gorm(ctx).Table("owner_sessions s").
		Select("o.*, so.key_version AS session_key_version").
		Joins("JOIN owner_session_offerings so ON so.session_id = s.id").
		Joins("JOIN offerings o ON o.id = so.offering_id").
		Where("s.token_hash = ? AND s.expires_at > ?", tokenHash, now).
		Order("o.id").Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("offering: session: %w", db.TranslateError(err))
	}
	return rows, nil
}

package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm/clause"

	"github.com/keepalive/keepalive/internal/db"
)

// Challenge is a row of lnurl_auth_challenges: a k1 for a wallet to sign,
// bound to the browser that shows it; only hashes of both are kept.
type Challenge struct {
	ID          int64      `gorm:"primaryKey"`
	K1Hash      string     `gorm:"column:k1_hash"`
	BindingHash string     `gorm:"column:binding_hash"`
	Action      string     `gorm:"column:action"`
	OfferingID  *int64     `gorm:"column:offering_id"`
	LinkingKey  *string    `gorm:"column:linking_key"`
	CreatedAt   time.Time  `gorm:"column:created_at"`
	ExpiresAt   time.Time  `gorm:"column:expires_at"`
	SignedAt    *time.Time `gorm:"column:signed_at"`
	UsedAt      *time.Time `gorm:"column:used_at"`
}

func (Challenge) TableName() string { return "lnurl_auth_challenges" }

// WalletKey is a row of wallet_keys: a wallet's linking key that may
// manage an offering.
type WalletKey struct {
	ID         int64     `gorm:"primaryKey"`
	OfferingID int64     `gorm:"column:offering_id"`
	LinkingKey string    `gorm:"column:linking_key"`
	CreatedAt  time.Time `gorm:"column:created_at"`
}

func (WalletKey) TableName() string { return "wallet_keys" }

// CreateChallenge writes a new challenge and sets its id.
func CreateChallenge(ctx context.Context, c Conn, ch *Challenge) error {
	if err := c.Gorm(ctx).Create(ch).Error; err != nil {
		return fmt.Errorf("offering: challenge: %w", db.TranslateError(err))
	}
	return nil
}

// ChallengeByK1Hash and ChallengeByBindingHash find a challenge by the
// hash of its k1 or of its binding, db.ErrNotFound when there is none.
func ChallengeByK1Hash(ctx context.Context, c Conn, hash string) (Challenge, error) {
	return challenge(ctx, c, "k1_hash = ?", hash)
}

// ChallengeByBindingHash: see ChallengeByK1Hash.
func ChallengeByBindingHash(ctx context.Context, c Conn, hash string) (Challenge, error) {
	return challenge(ctx, c, "binding_hash = ?", hash)
}

func challenge(ctx context.Context, c Conn, where, hash string) (Challenge, error) {
	var ch Challenge
	if err := c.Gorm(ctx).Where(where, hash).Take(&ch).Error; err != nil {
		return Challenge{}, fmt.Errorf("offering: challenge: %w", db.TranslateError(err))
	}
	return ch, nil
}

// MarkSigned records that the wallet with key signed the challenge, once:
// false when it was signed before.
func MarkSigned(ctx context.Context, c Conn, id int64, key string, at time.Time) (bool, error) {
	res := c.Gorm(ctx).Model(&Challenge{}).Where("id = ? AND signed_at IS NULL", id).
		Updates(map[string]any{"linking_key": key, "signed_at": at})
	if res.Error != nil {
		return false, fmt.Errorf("offering: sign challenge: %w", db.TranslateError(res.Error))
	}
	return res.RowsAffected == 1, nil
}

// MarkUsed spends the challenge, once: false when it was spent before.
func MarkUsed(ctx context.Context, c Conn, id int64, at time.Time) (bool, error) {
	res := c.Gorm(ctx).Model(&Challenge{}).Where("id = ? AND used_at IS NULL", id).Update("used_at", at)
	if res.Error != nil {
		return false, fmt.Errorf("offering: spend challenge: %w", db.TranslateError(res.Error))
	}
	return res.RowsAffected == 1, nil
}

// LinkWallet links a wallet key to an offering; linking it again changes
// nothing.
func LinkWallet(ctx context.Context, c Conn, k WalletKey) error {
	err := c.Gorm(ctx).Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "offering_id"}, {Name: "linking_key"}}, DoNothing: true}).
		Create(&k).Error
	if err != nil {
		return fmt.Errorf("offering: link wallet: %w", db.TranslateError(err))
	}
	return nil
}

// WalletLinked reports whether any offering has linked the key.
func WalletLinked(ctx context.Context, c Conn, key string) (bool, error) {
	var n int64
	if err := c.Gorm(ctx).Model(&WalletKey{}).Where("linking_key = ?", key).Count(&n).Error; err != nil {
		return false, fmt.Errorf("offering: wallet linked: %w", db.TranslateError(err))
	}
	return n > 0, nil
}

// LinkedKeys returns the wallet keys linked to an offering, oldest first.
func LinkedKeys(ctx context.Context, c Conn, offeringID int64) ([]string, error) {
	var keys []string
	err := c.Gorm(ctx).Model(&WalletKey{}).Where("offering_id = ?", offeringID).Order("id").Pluck("linking_key", &keys).Error
	if err != nil {
		return nil, fmt.Errorf("offering: linked keys of %d: %w", offeringID, db.TranslateError(err))
	}
	return keys, nil
}

package offering

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm/clause"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/lnurl"
)

// Owners may link Lightning wallets to an offering and then sign in with
// them (LNURL-auth, LUD-04) instead of the manage key. A challenge is a k1
// the wallet signs, and a binding the browser that shows it keeps in a
// cookie: the k1 is public (anyone who sees the QR code reads it), the
// binding is not, so only that browser can finish. Only hashes of both
// are stored.

// AuthAction is what a challenge is for.
type AuthAction string

const (
	AuthLogin AuthAction = "login"
	AuthLink  AuthAction = "link"
)

// ChallengeTTL is how long a wallet has to sign a challenge, and the
// browser to finish after: a sign-in takes a minute.
const ChallengeTTL = 5 * time.Minute

// Challenge is a new challenge: K1 goes in the LNURL a wallet scans,
// Binding stays with the browser that shows it.
type Challenge struct {
	K1, Binding string
}

type challenge struct {
	ID          int64      `gorm:"primaryKey"`
	K1Hash      string     `gorm:"column:k1_hash"`
	BindingHash string     `gorm:"column:binding_hash"`
	Action      AuthAction `gorm:"column:action"`
	OfferingID  *int64     `gorm:"column:offering_id"`
	LinkingKey  *string    `gorm:"column:linking_key"`
	CreatedAt   time.Time  `gorm:"column:created_at"`
	ExpiresAt   time.Time  `gorm:"column:expires_at"`
	SignedAt    *time.Time `gorm:"column:signed_at"`
	UsedAt      *time.Time `gorm:"column:used_at"`
}

func (challenge) TableName() string { return "lnurl_auth_challenges" }

type walletKey struct {
	ID         int64     `gorm:"primaryKey"`
	OfferingID int64     `gorm:"column:offering_id"`
	LinkingKey string    `gorm:"column:linking_key"`
	CreatedAt  time.Time `gorm:"column:created_at"`
}

func (walletKey) TableName() string { return "wallet_keys" }

// NewChallenge returns a challenge for a wallet to sign: to sign in
// (offeringID nil) or to link a wallet to the offering.
func (s *Service) NewChallenge(ctx context.Context, action AuthAction, offeringID *int64) (Challenge, error) {
	if (action == AuthLink) != (offeringID != nil) {
		return Challenge{}, errors.New("offering: a link challenge needs an offering, a login challenge none")
	}
	k1, err := lnurl.NewK1(s.rand)
	if err != nil {
		return Challenge{}, err
	}
	binding, err := lnurl.NewK1(s.rand)
	if err != nil {
		return Challenge{}, err
	}
	now := s.Now()
	c := challenge{K1Hash: lnurl.K1Hash(k1), BindingHash: lnurl.K1Hash(binding), Action: action, OfferingID: offeringID,
		CreatedAt: now, ExpiresAt: now.Add(ChallengeTTL)}
	if err := s.db.Gorm(ctx).Create(&c).Error; err != nil {
		return Challenge{}, fmt.Errorf("offering: challenge: %w", err)
	}
	return Challenge{K1: k1, Binding: binding}, nil
}

// challenge finds an unexpired challenge by its k1 (column k1_hash) or its
// binding (binding_hash).
func (s *Service) challenge(ctx context.Context, column, secret string) (challenge, error) {
	var c challenge
	err := s.db.Gorm(ctx).Where(column+" = ?", lnurl.K1Hash(secret)).Take(&c).Error
	if errors.Is(db.TranslateError(err), db.ErrNotFound) {
		return c, apperr.New(apperr.NotFound, "Unknown or expired challenge.")
	}
	if err != nil {
		return c, err
	}
	if !s.Now().Before(c.ExpiresAt) {
		return c, apperr.New(apperr.Conflict, "This challenge has expired; reload the page for a new one.")
	}
	return c, nil
}

// WalletSigned handles the wallet's callback: the signature over k1 must
// verify for key. A link challenge links the key to its offering at once;
// a login challenge needs a key that some offering has linked.
func (s *Service) WalletSigned(ctx context.Context, k1, sig, key string) error {
	if err := lnurl.VerifyAuth(k1, sig, key); err != nil {
		return err
	}
	c, err := s.challenge(ctx, "k1_hash", k1)
	if err != nil {
		return err
	}
	if c.UsedAt != nil || c.SignedAt != nil {
		return apperr.New(apperr.Conflict, "This challenge has already been used.")
	}
	key = strings.ToLower(key)
	now := s.Now()
	switch c.Action {
	case AuthLink:
		err := s.db.Gorm(ctx).Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "offering_id"}, {Name: "linking_key"}}, DoNothing: true}).
			Create(&walletKey{OfferingID: *c.OfferingID, LinkingKey: key, CreatedAt: now}).Error
		if err != nil {
			return fmt.Errorf("offering: link wallet: %w", err)
		}
	case AuthLogin:
		var n int64
		if err := s.db.Gorm(ctx).Model(&walletKey{}).Where("linking_key = ?", key).Count(&n).Error; err != nil {
			return err
		}
		if n == 0 {
			return apperr.New(apperr.Unauthorized, "This wallet is not linked to any offering. Sign in with the manage key and link it from the dashboard first.")
		}
	}
	res := s.db.Gorm(ctx).Model(&challenge{}).Where("id = ? AND signed_at IS NULL", c.ID).
		Updates(map[string]any{"linking_key": key, "signed_at": now})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected != 1 {
		return apperr.New(apperr.Conflict, "This challenge has already been used.")
	}
	return nil
}

// ChallengeSigned reports whether the wallet has signed the challenge
// bound to binding yet (the browser polls it).
func (s *Service) ChallengeSigned(ctx context.Context, binding string) (bool, error) {
	c, err := s.challenge(ctx, "binding_hash", binding)
	if err != nil {
		return false, err
	}
	return c.SignedAt != nil && c.UsedAt == nil, nil
}

// CompleteLogin spends a signed login challenge, once, and returns the
// offerings its wallet may manage. The browser that showed the challenge
// holds its binding; the wallet proved the key: both are needed.
func (s *Service) CompleteLogin(ctx context.Context, binding string) ([]Offering, error) {
	c, err := s.challenge(ctx, "binding_hash", binding)
	if err != nil {
		return nil, err
	}
	if c.Action != AuthLogin || c.SignedAt == nil || c.LinkingKey == nil {
		return nil, apperr.New(apperr.Unauthorized, "Approve the sign-in in your wallet first.")
	}
	res := s.db.Gorm(ctx).Model(&challenge{}).Where("id = ? AND used_at IS NULL", c.ID).Update("used_at", s.Now())
	if res.Error != nil {
		return nil, res.Error
	}
	if res.RowsAffected != 1 {
		return nil, apperr.New(apperr.Conflict, "This sign-in has already been used.")
	}
	var out []Offering
	err = s.db.Gorm(ctx).Where("id IN (SELECT offering_id FROM wallet_keys WHERE linking_key = ?)", *c.LinkingKey).
		Order("id").Find(&out).Error
	return out, err
}

// LinkedKeys returns the wallet keys linked to an offering.
func (s *Service) LinkedKeys(ctx context.Context, offeringID int64) ([]string, error) {
	var keys []string
	err := s.db.Gorm(ctx).Model(&walletKey{}).Where("offering_id = ?", offeringID).Order("id").Pluck("linking_key", &keys).Error
	return keys, err
}

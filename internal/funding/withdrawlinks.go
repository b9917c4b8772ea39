package funding

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/lnurl"
	"github.com/keepalive/keepalive/internal/money"
	"github.com/keepalive/keepalive/internal/offering"
)

// WithdrawLinkTTL is how long a one-time LNURL-withdraw link stays valid.
const WithdrawLinkTTL = 15 * time.Minute

type withdrawLink struct {
	ID          int64      `gorm:"primaryKey"`
	K1Hash      string     `gorm:"column:k1_hash"`
	OfferingID  int64      `gorm:"column:offering_id"`
	PaymentHash *string    `gorm:"column:payment_hash"`
	CreatedAt   time.Time  `gorm:"column:created_at"`
	ExpiresAt   time.Time  `gorm:"column:expires_at"`
	UsedAt      *time.Time `gorm:"column:used_at"`
}

func (withdrawLink) TableName() string { return "lnurl_withdrawals" }

// NewWithdrawLink makes a one-time LNURL-withdraw k1 for the offering's
// earned balance: the owner's wallet scans it and is paid, once.
func (s *Service) NewWithdrawLink(ctx context.Context, o offering.Offering) (k1 string, expires time.Time, err error) {
	k1, err = lnurl.NewK1(s.rand)
	if err != nil {
		return "", time.Time{}, err
	}
	now := s.now().UTC()
	link := withdrawLink{K1Hash: lnurl.K1Hash(k1), OfferingID: o.ID, CreatedAt: now, ExpiresAt: now.Add(WithdrawLinkTTL)}
	if err := s.db.Gorm(ctx).Create(&link).Error; err != nil {
		return "", time.Time{}, fmt.Errorf("funding: withdraw link: %w", err)
	}
	return k1, link.ExpiresAt, nil
}

func (s *Service) openLink(ctx context.Context, k1 string) (withdrawLink, error) {
	var link withdrawLink
	err := s.db.Gorm(ctx).Where("k1_hash = ?", lnurl.K1Hash(k1)).Take(&link).Error
	if errors.Is(db.TranslateError(err), db.ErrNotFound) {
		return link, apperr.New(apperr.NotFound, "This withdrawal link is not valid.")
	}
	if err != nil {
		return link, err
	}
	if link.UsedAt != nil {
		return link, apperr.New(apperr.Conflict, "This withdrawal link has already been used.")
	}
	if !s.now().Before(link.ExpiresAt) {
		return link, apperr.New(apperr.Conflict, "This withdrawal link has expired; make a new one from the dashboard.")
	}
	return link, nil
}

// WithdrawParams answers a wallet that scanned a withdraw link: how much
// it may ask for (the withdrawable balance now).
func (s *Service) WithdrawParams(ctx context.Context, k1 string) (offering.Offering, money.Msat, error) {
	link, err := s.openLink(ctx, k1)
	if err != nil {
		return offering.Offering{}, 0, err
	}
	o, err := s.offerings.GetByID(ctx, link.OfferingID)
	if err != nil {
		return offering.Offering{}, 0, err
	}
	if _, err := s.offerings.Accrue(ctx, o.ID); err != nil {
		return offering.Offering{}, 0, err
	}
	acct, err := s.ledger.Account(ctx, ledger.OfferingEarned(o.ID))
	if err != nil {
		return offering.Offering{}, 0, err
	}
	return o, MaxPayable(acct.Available()), nil
}

// RedeemWithdrawLink pays the wallet's invoice pr from the link's
// offering. The link is spent first, atomically, so a replayed callback
// pays nothing; if the payout is refused the link is released again.
func (s *Service) RedeemWithdrawLink(ctx context.Context, k1, pr string) (Payout, error) {
	link, err := s.openLink(ctx, k1)
	if err != nil {
		return Payout{}, err
	}
	now := s.now().UTC()
	res := s.db.Gorm(ctx).Model(&withdrawLink{}).Where("id = ? AND used_at IS NULL", link.ID).Update("used_at", now)
	if res.Error != nil {
		return Payout{}, fmt.Errorf("funding: spend withdraw link: %w", res.Error)
	}
	if res.RowsAffected != 1 {
		return Payout{}, apperr.New(apperr.Conflict, "This withdrawal link has already been used.")
	}
	o, err := s.offerings.GetByID(ctx, link.OfferingID)
	if err == nil {
		var p Payout
		if p, err = s.WithdrawEarned(ctx, o, pr); err == nil {
			s.db.Gorm(ctx).Model(&withdrawLink{}).Where("id = ?", link.ID).Update("payment_hash", p.PaymentHash)
			return p, nil
		}
	}
	// Refused (bad invoice, too large…): nothing was paid, so the link may
	// be tried again with a better invoice until it expires.
	if rerr := s.db.Gorm(ctx).Model(&withdrawLink{}).Where("id = ? AND payment_hash IS NULL", link.ID).
		Update("used_at", gorm.Expr("NULL")).Error; rerr != nil {
		s.log.Error("release withdraw link", "err", rerr)
	}
	return Payout{}, err
}

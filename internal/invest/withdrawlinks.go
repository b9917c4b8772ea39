package invest

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/funding"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/lnurl"
	"github.com/keepalive/keepalive/internal/money"
)

// withdrawLink is a one-time LNURL-withdraw (LUD-03) link to an
// investment's payable balance; only a hash of its k1 is kept.
type withdrawLink struct {
	ID           int64      `gorm:"primaryKey"`
	K1Hash       string     `gorm:"column:k1_hash"`
	InvestmentID int64      `gorm:"column:investment_id"`
	PaymentHash  *string    `gorm:"column:payment_hash"`
	CreatedAt    time.Time  `gorm:"column:created_at"`
	ExpiresAt    time.Time  `gorm:"column:expires_at"`
	UsedAt       *time.Time `gorm:"column:used_at"`
}

func (withdrawLink) TableName() string { return "investment_withdraw_links" }

// NewWithdrawLink makes a one-time LNURL-withdraw k1 for an investment's
// returns: the investor's wallet scans it and is paid, once.
func (s *Service) NewWithdrawLink(ctx context.Context, inv Investment) (string, time.Time, error) {
	k1, err := lnurl.NewK1(s.rand)
	if err != nil {
		return "", time.Time{}, err
	}
	now := s.Now()
	link := withdrawLink{K1Hash: lnurl.K1Hash(k1), InvestmentID: inv.ID, CreatedAt: now, ExpiresAt: now.Add(funding.WithdrawLinkTTL)}
	if err := s.db.Gorm(ctx).Create(&link).Error; err != nil {
		return "", time.Time{}, fmt.Errorf("invest: withdraw link: %w", err)
	}
	return k1, link.ExpiresAt, nil
}

func (s *Service) openLink(ctx context.Context, k1 string) (withdrawLink, error) {
	var link withdrawLink
	res := s.db.Gorm(ctx).Where("k1_hash = ?", lnurl.K1Hash(k1)).Limit(1).Find(&link)
	switch {
	case res.Error != nil:
		return link, fmt.Errorf("invest: withdraw link: %w", res.Error)
	case res.RowsAffected == 0:
		return link, apperr.New(apperr.NotFound, "This withdrawal link is not valid.")
	case link.UsedAt != nil:
		return link, apperr.New(apperr.Conflict, "This withdrawal link has already been used.")
	case !s.Now().Before(link.ExpiresAt):
		return link, apperr.New(apperr.Conflict, "This withdrawal link has expired; make a new one from your portfolio.")
	}
	return link, nil
}

// WithdrawParams answers a wallet that scanned a link: the most it may
// ask for now.
func (s *Service) WithdrawParams(ctx context.Context, k1 string) (money.Msat, error) {
	link, err := s.openLink(ctx, k1)
	if err != nil {
		return 0, err
	}
	a, err := s.ledger.Account(ctx, ledger.InvestmentPayable(link.InvestmentID))
	if err != nil {
		return 0, err
	}
	return funding.MaxPayable(a.Available()), nil
}

// RedeemWithdrawLink pays the wallet's invoice pr from the link's
// investment. The link is spent first, atomically, so a replayed callback
// pays nothing; a refused payout releases it again.
func (s *Service) RedeemWithdrawLink(ctx context.Context, k1, pr string) (funding.Payout, error) {
	link, err := s.openLink(ctx, k1)
	if err != nil {
		return funding.Payout{}, err
	}
	res := s.db.Gorm(ctx).Model(&withdrawLink{}).Where("id = ? AND used_at IS NULL", link.ID).Update("used_at", s.Now())
	if res.Error != nil {
		return funding.Payout{}, fmt.Errorf("invest: spend withdraw link: %w", res.Error)
	}
	if res.RowsAffected != 1 {
		return funding.Payout{}, apperr.New(apperr.Conflict, "This withdrawal link has already been used.")
	}
	inv, err := s.Get(ctx, link.InvestmentID)
	if err == nil {
		var p funding.Payout
		if p, err = s.Withdraw(ctx, inv, pr); err == nil {
			s.db.Gorm(ctx).Model(&withdrawLink{}).Where("id = ?", link.ID).Update("payment_hash", p.PaymentHash)
			return p, nil
		}
	}
	if rerr := s.db.Gorm(ctx).Model(&withdrawLink{}).Where("id = ? AND payment_hash IS NULL", link.ID).
		Update("used_at", gorm.Expr("NULL")).Error; rerr != nil {
		s.log.Error("release withdraw link", "err", rerr)
	}
	return funding.Payout{}, err
}

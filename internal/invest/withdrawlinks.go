package invest

import (
	"context"
	"time"

	"github.com/keepalive/keepalive/internal/funding"
	"github.com/keepalive/keepalive/internal/ledger"
)

// NewWithdrawLink makes a one-time LNURL-withdraw k1 for an investment's
// returns: the investor's wallet scans it and is paid, once, through
// funding's one redeem path.
func (s *Service) NewWithdrawLink(ctx context.Context, inv Investment) (string, time.Time, error) {
	return s.funding.NewWithdrawLink(ctx, funding.WithdrawSource{
		Account: ledger.InvestmentPayable(inv.ID), Description: "Keepalive: investment returns"})
}

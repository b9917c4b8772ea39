package invest

import (
	"context"
	"strings"
	"time"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/funding"
	"github.com/keepalive/keepalive/internal/invest/internal/store"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/money"
)

// Withdraw pays an investment's whole payable balance, less the routing
// fee budget, to destination (a BOLT11 invoice, a Lightning Address or
// an LNURL-pay) with funding's payout machinery: reserved in the ledger
// before it is sent, sent once, finished after a restart. Two withdrawals
// at once cannot both spend the balance: the second finds it reserved.
func (s *Service) Withdraw(ctx context.Context, inv Investment, destination string) (funding.Payout, error) {
	if inv.State == Pending {
		return funding.Payout{}, apperr.New(apperr.Conflict, "This investment is not paid yet, so it has nothing to withdraw.")
	}
	source := ledger.InvestmentPayable(inv.ID)
	a, err := s.ledger.Account(ctx, source)
	if err != nil {
		return funding.Payout{}, err
	}
	// No offering id: the offering's own balances do not move, and its
	// owner's list of withdrawals is not the investor's.
	return s.funding.Pay(ctx, source, nil, a.Available(), destination)
}

// Withdrawals lists an investment's payouts, newest first.
func (s *Service) Withdrawals(ctx context.Context, inv Investment) ([]funding.Payout, error) {
	return s.funding.PayoutsFrom(ctx, ledger.InvestmentPayable(inv.ID), 100)
}

// SetPayout sets (or, with an empty destination, clears) a standing
// payout address: a Lightning Address or LNURL-pay that returns are paid
// to whenever the payable balance reaches threshold.
func (s *Service) SetPayout(ctx context.Context, inv Investment, destination string, threshold money.Msat) (Investment, error) {
	destination = strings.TrimSpace(destination)
	problems := map[string]string{}
	lower := strings.ToLower(strings.TrimPrefix(strings.ToLower(destination), "lightning:"))
	if destination != "" && (len(destination) > 2048 || !(strings.Contains(lower, "@") || strings.HasPrefix(lower, "lnurl"))) {
		problems["destination"] = "A standing payout goes to a Lightning Address (name@host) or an LNURL-pay: an invoice can be paid only once."
	}
	if threshold < 10*money.MsatPerSat || !threshold.Valid() {
		problems["threshold_msat"] = "The threshold is at least 10 sats."
	}
	if destination == "" {
		delete(problems, "threshold_msat")
		threshold = 0
	}
	if len(problems) > 0 {
		return Investment{}, apperr.InvalidFields(problems)
	}
	if err := store.SetPayout(ctx, s.db, inv.ID, destination, threshold); err != nil {
		return Investment{}, err
	}
	inv.PayoutDestination, inv.PayoutThresholdMsat = destination, threshold
	return inv, nil
}

// standingSweep is how often every standing payout is looked at, for
// shares whose notice was dropped or that arrived before a restart.
const standingSweep = 10 * time.Minute

// RunStandingPayouts pays standing payout addresses as shares arrive,
// until ctx is done.
func (s *Service) RunStandingPayouts(ctx context.Context) {
	t := time.NewTicker(standingSweep)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ids := <-s.due:
			s.PayStanding(ctx, ids)
		case <-t.C:
			s.PayStanding(ctx, nil)
		}
	}
}

// PayStanding withdraws to their standing address the investments among
// ids (nil: all) whose payable balance reached their threshold.
func (s *Service) PayStanding(ctx context.Context, ids []int64) {
	invs, err := store.Standing(ctx, s.db, ids)
	if err != nil {
		s.log.Error("standing payouts", "err", err)
		return
	}
	for _, inv := range invs {
		a, err := s.ledger.Account(ctx, ledger.InvestmentPayable(inv.ID))
		if err != nil || a.Available() < inv.PayoutThresholdMsat || a.Available() <= 0 {
			continue
		}
		if _, err := s.Withdraw(ctx, inv, inv.PayoutDestination); err != nil {
			s.log.Warn("standing payout not made", "investment", inv.ID, "err", err)
		}
	}
}

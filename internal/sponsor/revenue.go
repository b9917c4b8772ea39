package sponsor

import (
	"context"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/invest"
)

// InvestorsRevenue is the revenue door of the investors: each winner's
// charge (less the platform fee) is split between the offering's active
// investments and its runway by invest.Distribute.
type InvestorsRevenue struct {
	Investments interface {
		Distribute(ctx context.Context, tx db.Tx, ev invest.RevenueEvent) (invest.Distribution, error)
	}
}

// Distribute passes the event through the investors' split.
func (r InvestorsRevenue) Distribute(ctx context.Context, tx db.Tx, ev RevenueEvent) error {
	_, err := r.Investments.Distribute(ctx, tx, invest.RevenueEvent{
		OfferingID: ev.OfferingID, Amount: ev.Amount, Key: ev.Key, From: ev.From, Memo: ev.Memo,
	})
	return err
}

var _ Revenue = InvestorsRevenue{}

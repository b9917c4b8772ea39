package lnd

import (
	"context"
	"fmt"

	"github.com/lightningnetwork/lnd/lnrpc"
)

// Ping asks the node for its info, to tell whether it answers (readiness).
func (n *Node) Ping(ctx context.Context) error {
	ctx, cancel := n.callCtx(ctx)
	defer cancel()
	if _, err := n.ln.GetInfo(ctx, &lnrpc.GetInfoRequest{}); err != nil {
		return fmt.Errorf("lnd: ping: %w", err)
	}
	return nil
}

package lnd

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/lightningnetwork/lnd/zpay32"

	"github.com/keepalive/keepalive/internal/lightning"
	"github.com/keepalive/keepalive/internal/money"
)

// DecodePaymentRequest decodes locally with the node's network parameters:
// no RPC, so it is cheap enough to validate every withdrawal form.
func (n *Node) DecodePaymentRequest(_ context.Context, paymentRequest string) (lightning.DecodedPaymentRequest, error) {
	return decode(paymentRequest, n.params)
}

func decode(paymentRequest string, params *chaincfg.Params) (lightning.DecodedPaymentRequest, error) {
	var out lightning.DecodedPaymentRequest
	s := strings.TrimSpace(paymentRequest)
	// Wallets and QR codes often carry the URI scheme; BOLT11 itself does not.
	if len(s) > len("lightning:") && strings.EqualFold(s[:len("lightning:")], "lightning:") {
		s = s[len("lightning:"):]
	}
	inv, err := zpay32.Decode(s, params)
	if err != nil {
		return out, fmt.Errorf("lnd: decode payment request: %w: %v", lightning.ErrInvalidPaymentRequest, err)
	}
	if inv.PaymentHash == nil {
		return out, fmt.Errorf("lnd: decode payment request: %w: no payment hash", lightning.ErrInvalidPaymentRequest)
	}
	out.PaymentHash = *inv.PaymentHash
	if inv.Destination != nil {
		out.Destination = hex.EncodeToString(inv.Destination.SerializeCompressed())
	}
	if inv.MilliSat != nil {
		// lnwire.MilliSatoshi is a uint64: anything above MaxMsat (which
		// includes everything that would wrap a signed int64) is refused.
		if uint64(*inv.MilliSat) > uint64(money.MaxMsat) {
			return out, fmt.Errorf("lnd: decode payment request: %w: amount above 21,000,000 BTC",
				lightning.ErrInvalidPaymentRequest)
		}
		out.AmountMsat = money.Msat(*inv.MilliSat)
	}
	if inv.Description != nil {
		out.Description = *inv.Description
	}
	if inv.DescriptionHash != nil {
		out.DescriptionHash = append([]byte(nil), inv.DescriptionHash[:]...)
	}
	out.CreatedAt = inv.Timestamp
	out.Expiry = inv.Expiry()
	return out, nil
}

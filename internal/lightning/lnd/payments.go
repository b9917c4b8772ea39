package lnd

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/lightningnetwork/lnd/lnrpc"
	"github.com/lightningnetwork/lnd/lnrpc/routerrpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/lightning"
	"github.com/keepalive/keepalive/internal/money"
)

// defaultPayTimeout bounds the time lnd spends finding a first route when
// the request does not say; lnd refuses a zero timeout.
const defaultPayTimeout = 60 * time.Second

// SendPayment sends once per payment hash: if lnd already has a payment for
// the hash (in flight or succeeded) it answers AlreadyExists and we follow
// that payment instead. The stream runs until the payment is final or ctx
// ends; a transport failure is returned as an error, never as a failed
// payment, because the payment may still complete.
func (n *Node) SendPayment(ctx context.Context, req lightning.PayRequest) (lightning.Payment, error) {
	if !req.AmountMsat.Valid() || !req.FeeLimitMsat.Valid() {
		return lightning.Payment{}, apperr.Wrap(money.ErrRange, apperr.Invalid,
			"payment amounts must be between 0 and 21,000,000 BTC")
	}
	decoded, err := n.DecodePaymentRequest(ctx, req.PaymentRequest)
	if err != nil {
		return lightning.Payment{}, err
	}
	var amtMsat int64
	switch {
	case decoded.AmountMsat == 0 && req.AmountMsat == 0:
		return lightning.Payment{}, apperr.New(apperr.Invalid, "the invoice has no amount: an amount is required")
	case decoded.AmountMsat == 0:
		amtMsat = int64(req.AmountMsat)
	case req.AmountMsat != 0 && req.AmountMsat != decoded.AmountMsat:
		return lightning.Payment{}, apperr.New(apperr.Invalid, "the amount differs from the invoice's amount")
	}
	timeout := req.Timeout
	if timeout <= 0 {
		timeout = defaultPayTimeout
	}
	secs := int64((timeout + time.Second - 1) / time.Second)
	if secs > math.MaxInt32 {
		secs = math.MaxInt32
	}

	streamCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := n.router.SendPaymentV2(streamCtx, &routerrpc.SendPaymentRequest{
		PaymentRequest: req.PaymentRequest,
		AmtMsat:        amtMsat,
		FeeLimitMsat:   int64(req.FeeLimitMsat),
		TimeoutSeconds: int32(secs),
		// Updates while in flight keep the stream visibly alive; we only
		// act on the final state.
		NoInflightUpdates: false,
	})
	if err != nil {
		return lightning.Payment{}, rpcError("send payment "+decoded.PaymentHash.String(), err)
	}
	p, err := finalPayment(ctx, stream)
	if status.Code(err) == codes.AlreadyExists {
		n.log.Info("lnd: payment already known, tracking it", "payment_hash", decoded.PaymentHash.String())
		return n.TrackPayment(ctx, decoded.PaymentHash)
	}
	if err != nil {
		return lightning.Payment{}, fmt.Errorf("lnd: send payment %s: %w", decoded.PaymentHash, err)
	}
	return p, nil
}

// TrackPayment follows a payment lnd knows until it is final. lnd answers
// NotFound for a hash it never saw: only then may the caller send.
func (n *Node) TrackPayment(ctx context.Context, hash lightning.Hash) (lightning.Payment, error) {
	streamCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := n.router.TrackPaymentV2(streamCtx, &routerrpc.TrackPaymentRequest{
		PaymentHash:       hash[:],
		NoInflightUpdates: false,
	})
	if err != nil {
		return lightning.Payment{}, rpcError("track payment "+hash.String(), err)
	}
	p, err := finalPayment(ctx, stream)
	if status.Code(err) == codes.NotFound {
		return lightning.Payment{}, fmt.Errorf("lnd: track payment %s: %w", hash, lightning.ErrPaymentNotFound)
	}
	if err != nil {
		return lightning.Payment{}, fmt.Errorf("lnd: track payment %s: %w", hash, err)
	}
	return p, nil
}

// paymentStream is what SendPaymentV2 and TrackPaymentV2 both return.
type paymentStream interface {
	Recv() (*lnrpc.Payment, error)
}

// finalPayment reads updates until SUCCEEDED or FAILED. Errors keep their
// gRPC status so callers can branch on AlreadyExists and NotFound.
func finalPayment(ctx context.Context, stream paymentStream) (lightning.Payment, error) {
	for {
		update, err := stream.Recv()
		if err != nil {
			if ctx.Err() != nil {
				return lightning.Payment{}, fmt.Errorf("payment still in flight: %w", ctx.Err())
			}
			if errors.Is(err, io.EOF) {
				return lightning.Payment{}, errors.New("payment stream ended before a final state")
			}
			switch status.Code(err) {
			case codes.AlreadyExists, codes.NotFound:
				return lightning.Payment{}, err
			}
			return lightning.Payment{}, rpcError("payment stream", err)
		}
		switch update.Status {
		case lnrpc.Payment_SUCCEEDED, lnrpc.Payment_FAILED:
			return paymentFromRPC(update)
		}
	}
}

func paymentFromRPC(p *lnrpc.Payment) (lightning.Payment, error) {
	var out lightning.Payment
	hash, err := lightning.ParseHash(p.PaymentHash)
	if err != nil {
		return out, fmt.Errorf("lnd: payment hash: %w", err)
	}
	out.PaymentHash = hash
	if out.AmountMsat, err = money.FromMsat(p.ValueMsat); err != nil {
		return out, fmt.Errorf("lnd: payment %s amount: %w", hash, err)
	}
	if out.FeeMsat, err = money.FromMsat(p.FeeMsat); err != nil {
		return out, fmt.Errorf("lnd: payment %s fee: %w", hash, err)
	}
	switch p.Status {
	case lnrpc.Payment_SUCCEEDED:
		out.State = lightning.PaymentSucceeded
		pre, err := hex.DecodeString(p.PaymentPreimage)
		if err != nil || len(pre) != len(out.Preimage) {
			return out, fmt.Errorf("lnd: payment %s: bad preimage %q", hash, p.PaymentPreimage)
		}
		copy(out.Preimage[:], pre)
	case lnrpc.Payment_FAILED:
		out.State = lightning.PaymentFailed
		out.FailureReason = failureReason(p.FailureReason)
	default:
		out.State = lightning.PaymentInFlight
	}
	return out, nil
}

// failureReason turns FAILURE_REASON_NO_ROUTE into "no_route".
func failureReason(r lnrpc.PaymentFailureReason) string {
	return strings.ToLower(strings.TrimPrefix(r.String(), "FAILURE_REASON_"))
}

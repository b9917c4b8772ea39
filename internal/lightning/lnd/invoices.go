package lnd

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/lightningnetwork/lnd/lnrpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/lightning"
	"github.com/keepalive/keepalive/internal/money"
)

// defaultInvoiceExpiry is lnd's own default, used to compute ExpiresAt when
// the request leaves Expiry zero.
const defaultInvoiceExpiry = 24 * time.Hour

// listPageSize is how many invoices one ListInvoices page holds during the
// catch-up scan.
const listPageSize = 1000

// CreateInvoice makes exactly one call, AddInvoice: the site creates an
// invoice per payment attempt and this is on the request path.
func (n *Node) CreateInvoice(ctx context.Context, req lightning.CreateInvoiceRequest) (lightning.Invoice, error) {
	if !req.AmountMsat.Valid() {
		return lightning.Invoice{}, apperr.Wrap(money.ErrRange, apperr.Invalid,
			"invoice amount must be between 0 and 21,000,000 BTC")
	}
	if len(req.DescriptionHash) != 0 && len(req.DescriptionHash) != sha256.Size {
		return lightning.Invoice{}, apperr.New(apperr.Invalid, "description hash must be 32 bytes")
	}
	if req.Expiry < 0 {
		return lightning.Invoice{}, apperr.New(apperr.Invalid, "invoice expiry must not be negative")
	}
	expiry := defaultInvoiceExpiry
	if req.Expiry > 0 {
		// BOLT11 counts whole seconds; round up so the invoice lives at
		// least as long as asked.
		expiry = (req.Expiry + time.Second - 1).Truncate(time.Second)
	}
	in := &lnrpc.Invoice{
		ValueMsat: int64(req.AmountMsat),
		Expiry:    int64(expiry / time.Second),
	}
	if len(req.DescriptionHash) != 0 {
		in.DescriptionHash = req.DescriptionHash
	} else {
		in.Memo = req.Memo
	}
	if req.Preimage != nil {
		in.RPreimage = req.Preimage[:]
	}

	// lnd stamps the invoice with its own clock in whole seconds; taking
	// ours before the call, rounded down, makes ExpiresAt err on the early
	// side instead of promising time the invoice does not have.
	created := n.now().Truncate(time.Second)
	callCtx, cancel := n.callCtx(ctx)
	defer cancel()
	resp, err := n.ln.AddInvoice(callCtx, in)
	if err != nil {
		if isDuplicateInvoice(err) {
			return lightning.Invoice{}, fmt.Errorf("lnd: add invoice: %w", lightning.ErrDuplicateInvoice)
		}
		return lightning.Invoice{}, rpcError("add invoice", err)
	}
	inv := lightning.Invoice{
		PaymentRequest: resp.PaymentRequest,
		AmountMsat:     req.AmountMsat,
		State:          lightning.InvoiceOpen,
		CreatedAt:      created,
		ExpiresAt:      created.Add(expiry),
		AddIndex:       resp.AddIndex,
	}
	if len(resp.RHash) != len(inv.PaymentHash) {
		return lightning.Invoice{}, fmt.Errorf("lnd: add invoice: got a %d-byte payment hash", len(resp.RHash))
	}
	copy(inv.PaymentHash[:], resp.RHash)
	return inv, nil
}

func isDuplicateInvoice(err error) bool {
	if status.Code(err) == codes.AlreadyExists {
		return true
	}
	// lnd returns invoices.ErrDuplicateInvoice as an untyped error.
	return strings.Contains(status.Convert(err).Message(), "invoice with payment hash already exists")
}

// LookupInvoice uses the v1 call, which needs no sub-server: enough for an
// invoice keyed by its hash.
func (n *Node) LookupInvoice(ctx context.Context, hash lightning.Hash) (lightning.Invoice, error) {
	callCtx, cancel := n.callCtx(ctx)
	defer cancel()
	resp, err := n.ln.LookupInvoice(callCtx, &lnrpc.PaymentHash{RHash: hash[:]})
	if err != nil {
		if status.Code(err) == codes.NotFound {
			return lightning.Invoice{}, fmt.Errorf("lnd: lookup invoice %s: %w", hash, lightning.ErrInvoiceNotFound)
		}
		return lightning.Invoice{}, rpcError("lookup invoice "+hash.String(), err)
	}
	return invoiceFromRPC(resp)
}

// noAdditions is the add index the settlement stream subscribes from: one
// no node reaches, so lnd sends no event for an invoice being added (it
// skips an addition whose index a subscriber has seen). Without it lnd
// would turn every new invoice into an RPC message for a stream that
// ignores it: about 0.3 ms of lnd's CPU per invoice, on the path that
// issues them. It stays below 2^63 - 1 because lnd's SQL invoice store
// reads invoices added after index+1 as an int64.
const noAdditions uint64 = 1 << 62

// SettledInvoices subscribes before it scans, so a settlement that lands
// while the scan runs arrives on the stream; settle indexes already
// delivered are skipped, so each invoice reaches fn once per call.
//
// One gap remains when afterIndex is 0 and the node has never settled an
// invoice: lnd gives no acknowledgement that the subscription is
// registered, so a settlement in the few milliseconds before it is could be
// missed by this call. The caller's next call (after any reconnect or
// restart) scans again and finds it.
func (n *Node) SettledInvoices(ctx context.Context, afterIndex uint64, fn func(lightning.Invoice) error) error {
	streamCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := n.ln.SubscribeInvoices(streamCtx, &lnrpc.InvoiceSubscription{AddIndex: noAdditions, SettleIndex: afterIndex})
	if err != nil {
		return rpcError("subscribe invoices", err)
	}

	last := afterIndex
	if afterIndex == 0 {
		// Nothing credited yet: lnd's stream would replay nothing, so read
		// the whole invoice list once (a node used before may hold many).
		start := time.Now()
		n.log.Info("reading the node's settled invoices: nothing credited on this database yet")
		settled, err := n.scanSettled(ctx)
		if err != nil {
			return err
		}
		n.log.Info("read the node's settled invoices", "settled", len(settled), "took", time.Since(start).Round(time.Millisecond))
		for _, inv := range settled {
			if err := fn(inv); err != nil {
				return err
			}
			last = inv.SettleIndex
		}
	}

	for {
		resp, err := stream.Recv()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("lnd: invoice subscription ended by the node")
			}
			return rpcError("invoice subscription", err)
		}
		// Additions are not asked for (noAdditions); should a node send
		// them anyway, they come with settle index 0.
		if resp.SettleIndex == 0 || resp.State != lnrpc.Invoice_SETTLED || resp.SettleIndex <= last {
			continue
		}
		inv, err := invoiceFromRPC(resp)
		if err != nil {
			// A settled invoice we cannot represent must not be skipped
			// silently: stop, so the caller logs it and retries.
			return err
		}
		if err := fn(inv); err != nil {
			return err
		}
		last = inv.SettleIndex
	}
}

// scanSettled pages through every invoice (by add index) and returns the
// settled ones in settle-index order.
func (n *Node) scanSettled(ctx context.Context) ([]lightning.Invoice, error) {
	var settled []lightning.Invoice
	var offset uint64
	for {
		callCtx, cancel := n.callCtx(ctx)
		resp, err := n.ln.ListInvoices(callCtx, &lnrpc.ListInvoiceRequest{
			IndexOffset:    offset,
			NumMaxInvoices: listPageSize,
		})
		cancel()
		if err != nil {
			return nil, rpcError("list invoices", err)
		}
		for _, in := range resp.Invoices {
			if in.State != lnrpc.Invoice_SETTLED || in.SettleIndex == 0 {
				continue
			}
			inv, err := invoiceFromRPC(in)
			if err != nil {
				return nil, err
			}
			settled = append(settled, inv)
		}
		if len(resp.Invoices) == 0 || resp.LastIndexOffset <= offset {
			break
		}
		offset = resp.LastIndexOffset
	}
	sort.Slice(settled, func(i, j int) bool { return settled[i].SettleIndex < settled[j].SettleIndex })
	return settled, nil
}

func invoiceFromRPC(in *lnrpc.Invoice) (lightning.Invoice, error) {
	var inv lightning.Invoice
	if len(in.RHash) != len(inv.PaymentHash) {
		return inv, fmt.Errorf("lnd: invoice with a %d-byte hash", len(in.RHash))
	}
	copy(inv.PaymentHash[:], in.RHash)
	amount, err := money.FromMsat(in.ValueMsat)
	if err != nil {
		return inv, fmt.Errorf("lnd: invoice %s amount: %w", inv.PaymentHash, err)
	}
	paid, err := money.FromMsat(in.AmtPaidMsat)
	if err != nil {
		return inv, fmt.Errorf("lnd: invoice %s paid amount: %w", inv.PaymentHash, err)
	}
	inv.PaymentRequest = in.PaymentRequest
	inv.AmountMsat = amount
	inv.PaidMsat = paid
	inv.AddIndex = in.AddIndex
	inv.SettleIndex = in.SettleIndex
	inv.CreatedAt = time.Unix(in.CreationDate, 0)
	inv.ExpiresAt = inv.CreatedAt.Add(time.Duration(in.Expiry) * time.Second)
	if in.SettleDate > 0 {
		inv.SettledAt = time.Unix(in.SettleDate, 0)
	}
	switch in.State {
	case lnrpc.Invoice_OPEN:
		inv.State = lightning.InvoiceOpen
	case lnrpc.Invoice_SETTLED:
		inv.State = lightning.InvoiceSettled
	case lnrpc.Invoice_CANCELED:
		inv.State = lightning.InvoiceCanceled
	case lnrpc.Invoice_ACCEPTED:
		inv.State = lightning.InvoiceAccepted
	default:
		return inv, fmt.Errorf("lnd: invoice %s in unknown state %v", inv.PaymentHash, in.State)
	}
	return inv, nil
}

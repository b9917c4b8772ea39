package lnd_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/lightningnetwork/lnd/lnrpc"

	"github.com/keepalive/keepalive/internal/lightning"
	"github.com/keepalive/keepalive/internal/lightning/lnd"
	"github.com/keepalive/keepalive/internal/lightning/regtest"
	"github.com/keepalive/keepalive/internal/money"
)

func TestMain(m *testing.M) { regtest.Main(m) }

// siteNode connects the lnd package to the shared network's site node.
func siteNode(t *testing.T) (*regtest.Network, *lnd.Node) {
	t.Helper()
	net := regtest.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := lnd.New(ctx, net.Site.Config(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return net, n
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestNew(t *testing.T) {
	net, n := siteNode(t)
	if n.Network() != "regtest" {
		t.Errorf("network = %q, want regtest", n.Network())
	}
	if n.PubKey() != net.Site.PubKey {
		t.Errorf("pubkey = %s, want the site's %s", n.PubKey(), net.Site.PubKey)
	}

	l, err := (&netListen{}).closedPort()
	if err != nil {
		t.Fatal(err)
	}
	site, payer := net.Site.Config(), net.Payer.Config()
	tests := []struct {
		name string
		cfg  lnd.Config
		want string
	}{
		{"wrong macaroon", lnd.Config{Addr: site.Addr, TLSCertPath: site.TLSCertPath, MacaroonPath: payer.MacaroonPath}, "macaroon rejected"},
		{"wrong certificate", lnd.Config{Addr: site.Addr, TLSCertPath: payer.TLSCertPath, MacaroonPath: site.MacaroonPath}, "TLS certificate rejected"},
		{"unreachable", lnd.Config{Addr: l, TLSCertPath: site.TLSCertPath, MacaroonPath: site.MacaroonPath}, "unreachable"},
		{"missing macaroon file", lnd.Config{Addr: site.Addr, TLSCertPath: site.TLSCertPath, MacaroonPath: site.MacaroonPath + ".nope"}, "read macaroon"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			began := time.Now()
			n, err := lnd.New(testCtx(t), tc.cfg, nil)
			if err == nil {
				n.Close()
				t.Fatal("connected")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			t.Log(err)
			if took := time.Since(began); took > 5*time.Second {
				t.Errorf("took %s to fail", took)
			}
		})
	}
}

type netListen struct{}

// closedPort returns a loopback address nothing listens on.
func (netListen) closedPort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// settledFeed runs SettledInvoices in the background and hands over what it
// delivers.
type settledFeed struct {
	ch   chan lightning.Invoice
	done chan error
	stop context.CancelFunc
}

func subscribe(t *testing.T, n *lnd.Node, after uint64) *settledFeed {
	ctx, cancel := context.WithCancel(context.Background())
	f := &settledFeed{ch: make(chan lightning.Invoice, 100), done: make(chan error, 1), stop: cancel}
	go func() {
		f.done <- n.SettledInvoices(ctx, after, func(inv lightning.Invoice) error {
			f.ch <- inv
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-f.done; !errors.Is(err, context.Canceled) {
			t.Errorf("SettledInvoices ended with %v, want context.Canceled", err)
		}
	})
	return f
}

// until collects deliveries until one has the hash, failing after 20 s.
func (f *settledFeed) until(t *testing.T, hash lightning.Hash, seen []lightning.Invoice) []lightning.Invoice {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case inv := <-f.ch:
			seen = append(seen, inv)
			if inv.PaymentHash == hash {
				return seen
			}
		case err := <-f.done:
			t.Fatalf("SettledInvoices returned %v", err)
		case <-timeout:
			t.Fatalf("invoice %s not delivered; got %d others", hash, len(seen))
		}
	}
}

func createAndPay(t *testing.T, net *regtest.Network, n *lnd.Node, amount money.Msat) lightning.Invoice {
	t.Helper()
	ctx := testCtx(t)
	inv, err := n.CreateInvoice(ctx, lightning.CreateInvoiceRequest{AmountMsat: amount, Memo: "test", Expiry: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := net.Payer.PayInvoice(ctx, inv.PaymentRequest); err != nil {
		t.Fatal(err)
	}
	return inv
}

func TestSettledInvoices(t *testing.T) {
	net, n := siteNode(t)
	first := createAndPay(t, net, n, 21_000)

	feed := subscribe(t, n, 0)
	seen := feed.until(t, first.PaymentHash, nil)
	second := createAndPay(t, net, n, 42_000)
	seen = feed.until(t, second.PaymentHash, seen)

	var firstSeen, secondSeen lightning.Invoice
	count := map[lightning.Hash]int{}
	for i, inv := range seen {
		count[inv.PaymentHash]++
		if i > 0 && inv.SettleIndex <= seen[i-1].SettleIndex {
			t.Errorf("settle index %d after %d: not increasing", inv.SettleIndex, seen[i-1].SettleIndex)
		}
		switch inv.PaymentHash {
		case first.PaymentHash:
			firstSeen = inv
		case second.PaymentHash:
			secondSeen = inv
		}
	}
	for _, inv := range []lightning.Invoice{first, second} {
		if count[inv.PaymentHash] != 1 {
			t.Errorf("invoice %s delivered %d times", inv.PaymentHash, count[inv.PaymentHash])
		}
	}
	for _, tc := range []struct {
		got    lightning.Invoice
		amount money.Msat
	}{{firstSeen, 21_000}, {secondSeen, 42_000}} {
		if tc.got.State != lightning.InvoiceSettled || tc.got.PaidMsat != tc.amount ||
			tc.got.SettleIndex == 0 || tc.got.SettledAt.IsZero() {
			t.Errorf("delivered %+v, want settled with %d msat paid", tc.got, tc.amount)
		}
	}

	t.Run("resume after an index replays only what is above it", func(t *testing.T) {
		k := firstSeen.SettleIndex
		replay := subscribe(t, n, k)
		got := replay.until(t, second.PaymentHash, nil)
		for _, inv := range got {
			if inv.SettleIndex <= k {
				t.Errorf("replayed settle index %d, not above %d", inv.SettleIndex, k)
			}
		}
	})

	t.Run("lookup", func(t *testing.T) {
		got, err := n.LookupInvoice(testCtx(t), first.PaymentHash)
		if err != nil {
			t.Fatal(err)
		}
		if got.SettleIndex != firstSeen.SettleIndex || got.State != lightning.InvoiceSettled ||
			got.PaymentRequest != first.PaymentRequest || got.AddIndex != first.AddIndex {
			t.Errorf("lookup = %+v, want %+v", got, firstSeen)
		}
		_, err = n.LookupInvoice(testCtx(t), lightning.Hash{1, 2, 3})
		if !errors.Is(err, lightning.ErrInvoiceNotFound) {
			t.Errorf("unknown hash: err = %v, want ErrInvoiceNotFound", err)
		}
	})

	t.Run("fn error stops the stream", func(t *testing.T) {
		stop := errors.New("stop here")
		err := n.SettledInvoices(testCtx(t), 0, func(lightning.Invoice) error { return stop })
		if !errors.Is(err, stop) {
			t.Errorf("err = %v, want the callback's error", err)
		}
	})

	t.Run("closed connection ends the stream with an error", func(t *testing.T) {
		other, err := lnd.New(testCtx(t), net.Site.Config(), nil)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			done <- other.SettledInvoices(context.Background(), secondSeen.SettleIndex, func(lightning.Invoice) error { return nil })
		}()
		time.Sleep(200 * time.Millisecond)
		other.Close()
		select {
		case err := <-done:
			if err == nil {
				t.Error("stream ended without an error")
			}
		case <-time.After(5 * time.Second):
			t.Error("stream still running after Close")
		}
	})
}

func TestCreateInvoice(t *testing.T) {
	_, n := siteNode(t)
	ctx := testCtx(t)
	var pre lightning.Hash
	if _, err := rand.Read(pre[:]); err != nil {
		t.Fatal(err)
	}
	descHash := sha256.Sum256([]byte(`[["text/plain","lnurl"]]`))
	before := time.Now().Add(-time.Second)
	inv, err := n.CreateInvoice(ctx, lightning.CreateInvoiceRequest{
		AmountMsat: 123_456, DescriptionHash: descHash[:], Expiry: 90 * time.Second, Preimage: &pre,
	})
	if err != nil {
		t.Fatal(err)
	}
	if inv.PaymentHash != sha256.Sum256(pre[:]) {
		t.Errorf("hash %s is not sha256 of the preimage", inv.PaymentHash)
	}
	if inv.CreatedAt.Before(before) || inv.ExpiresAt.Sub(inv.CreatedAt) != 90*time.Second || inv.AddIndex == 0 {
		t.Errorf("invoice %+v", inv)
	}
	dec, err := n.DecodePaymentRequest(ctx, inv.PaymentRequest)
	if err != nil {
		t.Fatal(err)
	}
	if dec.AmountMsat != 123_456 || string(dec.DescriptionHash) != string(descHash[:]) ||
		dec.PaymentHash != inv.PaymentHash || dec.Expiry != 90*time.Second {
		t.Errorf("decoded %+v", dec)
	}
	// Our ExpiresAt must never be later than the invoice's own.
	if inv.ExpiresAt.After(dec.ExpiresAt()) {
		t.Errorf("ExpiresAt %s is after the invoice's %s", inv.ExpiresAt, dec.ExpiresAt())
	}

	_, err = n.CreateInvoice(ctx, lightning.CreateInvoiceRequest{AmountMsat: 1, Preimage: &pre})
	if !errors.Is(err, lightning.ErrDuplicateInvoice) {
		t.Errorf("same preimage again: err = %v, want ErrDuplicateInvoice", err)
	}
}

func TestSendPayment(t *testing.T) {
	net, n := siteNode(t)
	ctx := testCtx(t)
	const amount = 250_000
	bolt11, err := net.Payer.AddInvoice(ctx, amount)
	if err != nil {
		t.Fatal(err)
	}
	req := lightning.PayRequest{PaymentRequest: bolt11, FeeLimitMsat: 10_000, Timeout: 30 * time.Second}
	first, err := n.SendPayment(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if first.State != lightning.PaymentSucceeded || first.AmountMsat != amount ||
		sha256.Sum256(first.Preimage[:]) != first.PaymentHash {
		t.Fatalf("payment %+v", first)
	}
	// One hop to a direct peer: lnd charges no fee, and says so.
	if first.FeeMsat != 0 {
		t.Errorf("fee = %d msat on a direct channel", first.FeeMsat)
	}

	t.Run("again is tracked, not paid twice", func(t *testing.T) {
		var logs strings.Builder
		logged, err := lnd.New(ctx, net.Site.Config(), slog.New(slog.NewTextHandler(&logs, nil)))
		if err != nil {
			t.Fatal(err)
		}
		defer logged.Close()
		again, err := logged.SendPayment(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(logs.String(), "already known, tracking") {
			t.Errorf("second send did not take the AlreadyExists path; log:\n%s", logs.String())
		}
		if again != first {
			t.Errorf("second send = %+v, want %+v", again, first)
		}
		tracked, err := n.TrackPayment(ctx, first.PaymentHash)
		if err != nil || tracked != first {
			t.Errorf("track = %+v, %v; want %+v", tracked, err, first)
		}
		pays, err := net.Site.Lightning().ListPayments(ctx, &lnrpc.ListPaymentsRequest{IncludeIncomplete: true})
		if err != nil {
			t.Fatal(err)
		}
		attempts := 0
		for _, p := range pays.Payments {
			if p.PaymentHash == first.PaymentHash.String() {
				for _, h := range p.Htlcs {
					if h.Status == lnrpc.HTLCAttempt_SUCCEEDED {
						attempts++
					}
				}
			}
		}
		if attempts != 1 {
			t.Errorf("%d successful HTLCs for the hash, want 1", attempts)
		}
	})

	t.Run("invoice without amount", func(t *testing.T) {
		open, err := net.Payer.AddInvoice(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.SendPayment(ctx, lightning.PayRequest{PaymentRequest: open, FeeLimitMsat: 1000}); err == nil {
			t.Error("paid an amountless invoice without an amount")
		}
		p, err := n.SendPayment(ctx, lightning.PayRequest{PaymentRequest: open, AmountMsat: 7_000, FeeLimitMsat: 1000})
		if err != nil || p.State != lightning.PaymentSucceeded || p.AmountMsat != 7_000 {
			t.Errorf("payment %+v, %v", p, err)
		}
	})

	t.Run("failure is a failed payment, not an error", func(t *testing.T) {
		big, err := net.Payer.AddInvoice(ctx, 3*regtest.ChannelSats*1000)
		if err != nil {
			t.Fatal(err)
		}
		p, err := n.SendPayment(ctx, lightning.PayRequest{PaymentRequest: big, FeeLimitMsat: 1000, Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if p.State != lightning.PaymentFailed || p.FailureReason == "" {
			t.Errorf("payment %+v, want failed with a reason", p)
		}
	})

	t.Run("track unknown hash", func(t *testing.T) {
		_, err := n.TrackPayment(ctx, lightning.Hash{9, 9, 9})
		if !errors.Is(err, lightning.ErrPaymentNotFound) {
			t.Errorf("err = %v, want ErrPaymentNotFound", err)
		}
	})
}

func TestDecodePaymentRequestNetwork(t *testing.T) {
	net, n := siteNode(t)
	ctx := testCtx(t)
	bolt11, err := net.Payer.AddInvoice(ctx, 5_000)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := n.DecodePaymentRequest(ctx, bolt11)
	if err != nil {
		t.Fatal(err)
	}
	if dec.Destination != net.Payer.PubKey || dec.AmountMsat != 5_000 {
		t.Errorf("decoded %+v", dec)
	}
	// The example invoice of BOLT 11 (mainnet) must not decode on regtest.
	const mainnet = "lnbc1pvjluezsp5zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygspp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdpl2pkx2ctnv5sxxmmwwd5kgetjypeh2ursdae8g6twvus8g6rfwvs8qun0dfjkxaq9qrsgq357wnc5r2ueh7ck6q93dj32dlqnls087fxdwk8qakdyafkq3yap9us6v52vjjsrvywa6rt52cm9r9zqt8r2t7mlcwspyetp5h2tztugp9lfyql"
	if _, err := n.DecodePaymentRequest(ctx, mainnet); !errors.Is(err, lightning.ErrInvalidPaymentRequest) {
		t.Errorf("mainnet invoice: err = %v, want ErrInvalidPaymentRequest", err)
	}
	if _, err := n.SendPayment(ctx, lightning.PayRequest{PaymentRequest: mainnet, FeeLimitMsat: 1}); !errors.Is(err, lightning.ErrInvalidPaymentRequest) {
		t.Errorf("paying a mainnet invoice: err = %v, want ErrInvalidPaymentRequest", err)
	}
}

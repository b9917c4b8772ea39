package demo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/lightningnetwork/lnd/zpay32"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/lightning"
	"github.com/keepalive/keepalive/internal/money"
)

// fakeClock is a settable clock safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func seeded(seed byte) Option {
	return WithRand(rand.NewChaCha8([32]byte{seed}))
}

func newTestNode(t *testing.T, seed byte) (*Node, *fakeClock) {
	t.Helper()
	clock := newFakeClock()
	return New(WithClock(clock.Now), seeded(seed)), clock
}

func mustCreate(t *testing.T, n *Node, req lightning.CreateInvoiceRequest) lightning.Invoice {
	t.Helper()
	inv, err := n.CreateInvoice(context.Background(), req)
	if err != nil {
		t.Fatalf("CreateInvoice(%+v): %v", req, err)
	}
	return inv
}

func wantCode(t *testing.T, err error, code apperr.Code) {
	t.Helper()
	var ae *apperr.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is not an *apperr.Error", err)
	}
	if ae.Code != code {
		t.Fatalf("error code = %q, want %q (%v)", ae.Code, code, err)
	}
}

func TestCreateInvoiceDecodesBack(t *testing.T) {
	descHash := sha256.Sum256([]byte(`[["text/plain","fund it"]]`))
	tests := []struct {
		name       string
		req        lightning.CreateInvoiceRequest
		wantExpiry time.Duration
		wantPrefix string
	}{
		{
			name:       "memo and amount",
			req:        lightning.CreateInvoiceRequest{AmountMsat: 21_000, Memo: "keep example.org alive", Expiry: 10 * time.Minute},
			wantExpiry: 10 * time.Minute,
			wantPrefix: "lnbcrt210n1",
		},
		{
			name:       "description hash",
			req:        lightning.CreateInvoiceRequest{AmountMsat: 1_500_000, Memo: "ignored", DescriptionHash: descHash[:], Expiry: 90 * time.Second},
			wantExpiry: 90 * time.Second,
			wantPrefix: "lnbcrt15u1",
		},
		{
			name:       "amountless, default expiry",
			req:        lightning.CreateInvoiceRequest{Memo: "any amount"},
			wantExpiry: DefaultInvoiceExpiry,
			wantPrefix: "lnbcrt1",
		},
		{
			name:       "sub-second expiry rounds down",
			req:        lightning.CreateInvoiceRequest{AmountMsat: 1, Expiry: 1500 * time.Millisecond},
			wantExpiry: time.Second,
			wantPrefix: "lnbcrt10p1",
		},
	}
	n, clock := newTestNode(t, 1)
	ctx := context.Background()
	var lastAdd uint64
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := mustCreate(t, n, tt.req)
			if !strings.HasPrefix(inv.PaymentRequest, tt.wantPrefix) {
				t.Errorf("payment request %q, want prefix %q", inv.PaymentRequest, tt.wantPrefix)
			}
			if inv.AddIndex <= lastAdd {
				t.Errorf("add index %d after %d, want increasing", inv.AddIndex, lastAdd)
			}
			lastAdd = inv.AddIndex
			if inv.State != lightning.InvoiceOpen || inv.AmountMsat != tt.req.AmountMsat {
				t.Errorf("invoice = %+v, want open for %d msat", inv, tt.req.AmountMsat)
			}
			if !inv.CreatedAt.Equal(clock.Now()) || !inv.ExpiresAt.Equal(clock.Now().Add(tt.wantExpiry)) {
				t.Errorf("created %v expires %v, want %v and +%v", inv.CreatedAt, inv.ExpiresAt, clock.Now(), tt.wantExpiry)
			}

			dec, err := n.DecodePaymentRequest(ctx, inv.PaymentRequest)
			if err != nil {
				t.Fatalf("DecodePaymentRequest: %v", err)
			}
			if dec.PaymentHash != inv.PaymentHash {
				t.Errorf("decoded hash %s, want %s", dec.PaymentHash, inv.PaymentHash)
			}
			if dec.AmountMsat != tt.req.AmountMsat {
				t.Errorf("decoded amount %d, want %d", dec.AmountMsat, tt.req.AmountMsat)
			}
			if dec.Destination != n.PubKey() {
				t.Errorf("decoded destination %s, want %s", dec.Destination, n.PubKey())
			}
			if dec.Expiry != tt.wantExpiry || !dec.ExpiresAt().Equal(inv.ExpiresAt) {
				t.Errorf("decoded expiry %v (at %v), want %v (at %v)", dec.Expiry, dec.ExpiresAt(), tt.wantExpiry, inv.ExpiresAt)
			}
			if tt.req.DescriptionHash != nil {
				if !bytes.Equal(dec.DescriptionHash, tt.req.DescriptionHash) || dec.Description != "" {
					t.Errorf("decoded description %q hash %x, want only hash %x", dec.Description, dec.DescriptionHash, tt.req.DescriptionHash)
				}
			} else if dec.Description != tt.req.Memo || dec.DescriptionHash != nil {
				t.Errorf("decoded description %q hash %x, want only %q", dec.Description, dec.DescriptionHash, tt.req.Memo)
			}

			// What real wallets insist on: a payment secret and the
			// var-onion and payment-secret feature bits.
			z, err := zpay32.Decode(inv.PaymentRequest, &chaincfg.RegressionNetParams)
			if err != nil {
				t.Fatalf("zpay32.Decode: %v", err)
			}
			if z.PaymentAddr.IsNone() {
				t.Error("invoice has no payment secret")
			}
			for _, bit := range []lnwire.FeatureBit{lnwire.TLVOnionPayloadRequired, lnwire.PaymentAddrRequired} {
				if !z.Features.IsSet(bit) {
					t.Errorf("feature bit %d not set", bit)
				}
			}
		})
	}
}

func TestCreateInvoiceRejectsBadRequests(t *testing.T) {
	tests := []struct {
		name string
		req  lightning.CreateInvoiceRequest
	}{
		{"negative amount", lightning.CreateInvoiceRequest{AmountMsat: -1}},
		{"more than 21M BTC", lightning.CreateInvoiceRequest{AmountMsat: money.MaxMsat + 1}},
		{"negative expiry", lightning.CreateInvoiceRequest{AmountMsat: 1000, Expiry: -time.Second}},
		{"short description hash", lightning.CreateInvoiceRequest{AmountMsat: 1000, DescriptionHash: []byte{1, 2, 3}}},
		{"memo too long", lightning.CreateInvoiceRequest{AmountMsat: 1000, Memo: strings.Repeat("a", maxMemoBytes+1)}},
		{"memo not UTF-8", lightning.CreateInvoiceRequest{AmountMsat: 1000, Memo: "\xff"}},
	}
	n, _ := newTestNode(t, 1)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := n.CreateInvoice(context.Background(), tt.req)
			wantCode(t, err, apperr.Invalid)
		})
	}
	t.Run("longest memo fits", func(t *testing.T) {
		mustCreate(t, n, lightning.CreateInvoiceRequest{AmountMsat: 1000, Memo: strings.Repeat("a", maxMemoBytes)})
	})
}

func TestCreateInvoiceDuplicatePreimage(t *testing.T) {
	n, _ := newTestNode(t, 1)
	preimage := lightning.Hash{7}
	first := mustCreate(t, n, lightning.CreateInvoiceRequest{AmountMsat: 1000, Preimage: &preimage})
	if want := lightning.Hash(sha256.Sum256(preimage[:])); first.PaymentHash != want {
		t.Fatalf("hash %s, want sha256(preimage) %s", first.PaymentHash, want)
	}
	_, err := n.CreateInvoice(context.Background(), lightning.CreateInvoiceRequest{AmountMsat: 2000, Preimage: &preimage})
	if !errors.Is(err, lightning.ErrDuplicateInvoice) {
		t.Fatalf("second invoice with the same preimage: err = %v, want ErrDuplicateInvoice", err)
	}
	got, err := n.LookupInvoice(context.Background(), first.PaymentHash)
	if err != nil || got.AmountMsat != 1000 || got.PaymentRequest != first.PaymentRequest {
		t.Fatalf("after duplicate, lookup = %+v, %v; want the first invoice untouched", got, err)
	}
}

func TestDeterministicWithInjectedRandomness(t *testing.T) {
	clock := newFakeClock()
	a := New(WithClock(clock.Now), seeded(9))
	b := New(WithClock(clock.Now), seeded(9))
	c := New(WithClock(clock.Now), seeded(10))
	if a.PubKey() != b.PubKey() || a.PubKey() == c.PubKey() {
		t.Fatalf("pubkeys %s %s %s: want the same seed to give the same key, another seed another", a.PubKey(), b.PubKey(), c.PubKey())
	}
	req := lightning.CreateInvoiceRequest{AmountMsat: 5000, Memo: "same"}
	if x, y := mustCreate(t, a, req), mustCreate(t, b, req); x.PaymentRequest != y.PaymentRequest {
		t.Fatalf("same seed and clock gave %s and %s", x.PaymentRequest, y.PaymentRequest)
	}
}

func TestLookupInvoiceNotFound(t *testing.T) {
	n, _ := newTestNode(t, 1)
	_, err := n.LookupInvoice(context.Background(), lightning.Hash{1})
	if !errors.Is(err, lightning.ErrInvoiceNotFound) {
		t.Fatalf("err = %v, want ErrInvoiceNotFound", err)
	}
	_, err = n.Pay(context.Background(), lightning.Hash{1})
	if !errors.Is(err, lightning.ErrInvoiceNotFound) {
		t.Fatalf("Pay unknown: err = %v, want ErrInvoiceNotFound", err)
	}
	wantCode(t, err, apperr.NotFound)
}

func TestInvoiceExpiry(t *testing.T) {
	n, clock := newTestNode(t, 1)
	ctx := context.Background()
	open := mustCreate(t, n, lightning.CreateInvoiceRequest{AmountMsat: 1000, Expiry: 10 * time.Second})
	paid := mustCreate(t, n, lightning.CreateInvoiceRequest{AmountMsat: 1000, Expiry: 10 * time.Second})
	if _, err := n.Pay(ctx, paid.PaymentHash); err != nil {
		t.Fatal(err)
	}

	clock.Advance(9 * time.Second)
	if got, _ := n.LookupInvoice(ctx, open.PaymentHash); got.State != lightning.InvoiceOpen {
		t.Fatalf("1s before expiry: state %s, want open", got.State)
	}
	clock.Advance(time.Second)
	if got, _ := n.LookupInvoice(ctx, open.PaymentHash); got.State != lightning.InvoiceCanceled {
		t.Fatalf("at expiry: state %s, want canceled", got.State)
	}
	if got, _ := n.LookupInvoice(ctx, paid.PaymentHash); got.State != lightning.InvoiceSettled {
		t.Fatalf("settled invoice after expiry: state %s, want settled", got.State)
	}

	_, err := n.Pay(ctx, open.PaymentHash)
	if !errors.Is(err, ErrInvoiceExpired) {
		t.Fatalf("Pay expired: err = %v, want ErrInvoiceExpired", err)
	}
	wantCode(t, err, apperr.Conflict)

	_, err = n.SendPayment(ctx, lightning.PayRequest{PaymentRequest: open.PaymentRequest})
	if !errors.Is(err, ErrInvoiceExpired) {
		t.Fatalf("SendPayment expired: err = %v, want ErrInvoiceExpired", err)
	}
	if _, err := n.TrackPayment(ctx, open.PaymentHash); !errors.Is(err, lightning.ErrPaymentNotFound) {
		t.Fatalf("a refused payment must not be recorded: TrackPayment err = %v", err)
	}

	// Canceled is final, as in lnd, even if the clock steps back.
	clock.Advance(-time.Hour)
	if got, _ := n.LookupInvoice(ctx, open.PaymentHash); got.State != lightning.InvoiceCanceled {
		t.Fatalf("after the clock stepped back: state %s, want canceled", got.State)
	}
}

func TestPayIsIdempotent(t *testing.T) {
	n, clock := newTestNode(t, 1)
	ctx := context.Background()
	inv := mustCreate(t, n, lightning.CreateInvoiceRequest{AmountMsat: 42_000, Memo: "x"})
	clock.Advance(time.Minute)
	first, err := n.PayRequest(ctx, inv.PaymentRequest)
	if err != nil {
		t.Fatal(err)
	}
	if first.State != lightning.InvoiceSettled || first.PaidMsat != 42_000 || first.SettleIndex != 1 || !first.SettledAt.Equal(clock.Now()) {
		t.Fatalf("settled invoice = %+v", first)
	}
	clock.Advance(time.Minute)
	again, err := n.Pay(ctx, inv.PaymentHash)
	if err != nil {
		t.Fatal(err)
	}
	if again != first {
		t.Fatalf("paying again changed the invoice:\n got %+v\nwant %+v", again, first)
	}
}

// subscribe runs SettledInvoices in the background and hands over what it
// sees. The returned func cancels it and returns its error.
func subscribe(t *testing.T, n *Node, after uint64) (<-chan lightning.Invoice, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	seen := make(chan lightning.Invoice, 1024)
	done := make(chan error, 1)
	go func() {
		done <- n.SettledInvoices(ctx, after, func(inv lightning.Invoice) error {
			seen <- inv
			return nil
		})
	}()
	return seen, func() error { cancel(); return <-done }
}

func receive(t *testing.T, seen <-chan lightning.Invoice) lightning.Invoice {
	t.Helper()
	select {
	case inv := <-seen:
		return inv
	case <-time.After(5 * time.Second):
		t.Fatal("no settled invoice within 5s")
		return lightning.Invoice{}
	}
}

func TestSettledInvoicesSeesEachSettlementOnce(t *testing.T) {
	n, _ := newTestNode(t, 1)
	ctx := context.Background()
	seen, stop := subscribe(t, n, 0)

	first := mustCreate(t, n, lightning.CreateInvoiceRequest{AmountMsat: 1000})
	if _, err := n.Pay(ctx, first.PaymentHash); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, seen); got.PaymentHash != first.PaymentHash || got.SettleIndex != 1 || got.State != lightning.InvoiceSettled {
		t.Fatalf("first notification = %+v, want invoice 1 settled", got)
	}
	// A repeated Pay must not notify again: the next notification is the
	// next settlement.
	if _, err := n.Pay(ctx, first.PaymentHash); err != nil {
		t.Fatal(err)
	}
	second := mustCreate(t, n, lightning.CreateInvoiceRequest{AmountMsat: 2000})
	if _, err := n.Pay(ctx, second.PaymentHash); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, seen); got.PaymentHash != second.PaymentHash || got.SettleIndex != 2 {
		t.Fatalf("second notification = %+v, want invoice 2 at settle index 2", got)
	}
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("SettledInvoices returned %v, want context.Canceled", err)
	}
	if len(seen) != 0 {
		t.Fatalf("%d extra notifications", len(seen))
	}
}

func TestSettledInvoicesReplaysFromIndex(t *testing.T) {
	n, _ := newTestNode(t, 1)
	ctx := context.Background()
	var hashes []lightning.Hash
	for i := range 5 {
		inv := mustCreate(t, n, lightning.CreateInvoiceRequest{AmountMsat: money.Msat(1000 * (i + 1))})
		hashes = append(hashes, inv.PaymentHash)
	}
	// Settle in reverse creation order: settle order, not add order, counts.
	for i := len(hashes) - 1; i >= 0; i-- {
		if _, err := n.Pay(ctx, hashes[i]); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		after uint64
		want  []uint64 // settle indexes
	}{
		{0, []uint64{1, 2, 3, 4, 5}},
		{2, []uint64{3, 4, 5}},
		{5, nil},
		{99, nil},
	}
	for _, tt := range tests {
		t.Run("", func(t *testing.T) {
			// With nothing to replay it must wait: a short timeout ends it.
			wait := 5 * time.Second
			if len(tt.want) == 0 {
				wait = 20 * time.Millisecond
			}
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			var got []uint64
			err := n.SettledInvoices(ctx, tt.after, func(inv lightning.Invoice) error {
				got = append(got, inv.SettleIndex)
				if want := hashes[len(hashes)-int(inv.SettleIndex)]; inv.PaymentHash != want {
					t.Errorf("settle index %d is %s, want %s", inv.SettleIndex, inv.PaymentHash, want)
				}
				if len(got) == len(tt.want) {
					cancel()
				}
				return nil
			})
			wantErr := context.Canceled
			if len(tt.want) == 0 {
				wantErr = context.DeadlineExceeded
			}
			if !errors.Is(err, wantErr) {
				t.Fatalf("err = %v, want %v", err, wantErr)
			}
			if !equalUints(got, tt.want) {
				t.Fatalf("after %d: replayed %v, want %v", tt.after, got, tt.want)
			}
		})
	}
}

func equalUints(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSettledInvoicesStopsOnCallbackError(t *testing.T) {
	n, _ := newTestNode(t, 1)
	for range 3 {
		inv := mustCreate(t, n, lightning.CreateInvoiceRequest{AmountMsat: 1000})
		if _, err := n.Pay(context.Background(), inv.PaymentHash); err != nil {
			t.Fatal(err)
		}
	}
	boom := errors.New("database is down")
	var calls int
	err := n.SettledInvoices(context.Background(), 0, func(lightning.Invoice) error {
		calls++
		if calls == 2 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || calls != 2 {
		t.Fatalf("err = %v after %d calls, want the callback's error after 2", err, calls)
	}
}

// TestSettledInvoicesUnderConcurrentSettles runs subscribers while many
// goroutines settle: each must see every settlement once, in order.
func TestSettledInvoicesUnderConcurrentSettles(t *testing.T) {
	const (
		invoices = 300
		payers   = 8
	)
	n := New(seeded(3))
	ctx := context.Background()
	hashes := make([]lightning.Hash, invoices)
	for i := range hashes {
		hashes[i] = mustCreate(t, n, lightning.CreateInvoiceRequest{AmountMsat: 1000}).PaymentHash
	}

	type result struct {
		indexes []uint64
		hashes  map[lightning.Hash]bool
	}
	subscriber := func(after uint64, out chan<- result) {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		r := result{hashes: make(map[lightning.Hash]bool)}
		_ = n.SettledInvoices(ctx, after, func(inv lightning.Invoice) error {
			r.indexes = append(r.indexes, inv.SettleIndex)
			r.hashes[inv.PaymentHash] = true
			if inv.SettleIndex == invoices {
				cancel()
			}
			return nil
		})
		out <- r
	}
	fromStart := make(chan result, 1)
	go subscriber(0, fromStart)

	var wg sync.WaitGroup
	for p := range payers {
		wg.Go(func() {
			for i := p; i < invoices; i += payers {
				// Half the payers go through SendPayment, half press Pay.
				var err error
				if p%2 == 0 {
					_, err = n.Pay(ctx, hashes[i])
				} else {
					inv, _ := n.LookupInvoice(ctx, hashes[i])
					_, err = n.SendPayment(ctx, lightning.PayRequest{PaymentRequest: inv.PaymentRequest})
				}
				if err != nil {
					t.Errorf("pay %d: %v", i, err)
				}
			}
		})
	}
	// A second subscriber joins midway, resuming from index 100.
	fromMiddle := make(chan result, 1)
	go subscriber(100, fromMiddle)
	wg.Wait()

	for name, tt := range map[string]struct {
		ch    chan result
		after uint64
	}{"from start": {fromStart, 0}, "from 100": {fromMiddle, 100}} {
		r := <-tt.ch
		want := invoices - int(tt.after)
		if len(r.indexes) != want || len(r.hashes) != want {
			t.Errorf("%s: %d notifications for %d invoices, want %d", name, len(r.indexes), len(r.hashes), want)
			continue
		}
		for i, idx := range r.indexes {
			if idx != tt.after+uint64(i)+1 {
				t.Errorf("%s: notification %d has settle index %d, want %d", name, i, idx, tt.after+uint64(i)+1)
				break
			}
		}
	}
}

// TestSettledInvoicesNoLostWakeup settles an invoice exactly between the
// subscriber's snapshot and its wait; it must still be delivered.
func TestSettledInvoicesNoLostWakeup(t *testing.T) {
	n, _ := newTestNode(t, 1)
	inv := mustCreate(t, n, lightning.CreateInvoiceRequest{AmountMsat: 1000})
	var once sync.Once
	n.beforeWait = func() {
		once.Do(func() {
			if _, err := n.Pay(context.Background(), inv.PaymentHash); err != nil {
				t.Error(err)
			}
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var got []lightning.Hash
	err := n.SettledInvoices(ctx, 0, func(s lightning.Invoice) error {
		got = append(got, s.PaymentHash)
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) || len(got) != 1 || got[0] != inv.PaymentHash {
		t.Fatalf("SettledInvoices = %v, saw %v; want the invoice settled in the window", err, got)
	}
}

func TestWithIndexBase(t *testing.T) {
	n := New(seeded(1), WithIndexBase(100))
	ctx := context.Background()
	inv := mustCreate(t, n, lightning.CreateInvoiceRequest{AmountMsat: 1000})
	if inv.AddIndex != 101 {
		t.Fatalf("add index %d, want 101", inv.AddIndex)
	}
	settled, err := n.Pay(ctx, inv.PaymentHash)
	if err != nil || settled.SettleIndex != 101 {
		t.Fatalf("Pay = %+v, %v; want settle index 101", settled, err)
	}
	for _, tt := range []struct {
		after uint64
		want  int
	}{{0, 1}, {100, 1}, {101, 0}} {
		ctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		var got int
		_ = n.SettledInvoices(ctx, tt.after, func(lightning.Invoice) error { got++; return nil })
		cancel()
		if got != tt.want {
			t.Errorf("after %d: %d replayed, want %d", tt.after, got, tt.want)
		}
	}
}

func TestCanceledContext(t *testing.T) {
	n, _ := newTestNode(t, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := n.CreateInvoice(ctx, lightning.CreateInvoiceRequest{AmountMsat: 1}); !errors.Is(err, context.Canceled) {
		t.Errorf("CreateInvoice: %v", err)
	}
	if err := n.SettledInvoices(ctx, 0, func(lightning.Invoice) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("SettledInvoices: %v", err)
	}
	if _, err := n.TrackPayment(ctx, lightning.Hash{}); !errors.Is(err, context.Canceled) {
		t.Errorf("TrackPayment: %v", err)
	}
}

// foreignInvoice signs a BOLT11 for net with a fresh key.
func foreignInvoice(t *testing.T, net *chaincfg.Params, amount lnwire.MilliSatoshi) string {
	t.Helper()
	key, _ := btcec.PrivKeyFromBytes(bytes.Repeat([]byte{0x42}, 32))
	opts := []func(*zpay32.Invoice){zpay32.Description("elsewhere"), zpay32.PaymentAddr([32]byte{1})}
	if amount > 0 {
		opts = append(opts, zpay32.Amount(amount))
	}
	inv, err := zpay32.NewInvoice(net, sha256.Sum256([]byte(net.Name)), time.Now(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	s, err := inv.Encode(zpay32.MessageSigner{SignCompact: func(msg []byte) ([]byte, error) {
		digest := sha256.Sum256(msg)
		return ecdsa.SignCompact(key, digest[:], true), nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDecodeRejectsOtherNetworks(t *testing.T) {
	n, _ := newTestNode(t, 1)
	ctx := context.Background()
	own := mustCreate(t, n, lightning.CreateInvoiceRequest{AmountMsat: 1000}).PaymentRequest
	tests := []struct {
		name string
		req  string
	}{
		{"mainnet", foreignInvoice(t, &chaincfg.MainNetParams, 1000)},
		{"testnet", foreignInvoice(t, &chaincfg.TestNet3Params, 1000)},
		{"empty", ""},
		{"garbage", "lnbcrt1notaninvoice"},
		{"broken checksum", flipLast(own)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := n.DecodePaymentRequest(ctx, tt.req)
			if !errors.Is(err, lightning.ErrInvalidPaymentRequest) {
				t.Fatalf("Decode: err = %v, want ErrInvalidPaymentRequest", err)
			}
			wantCode(t, err, apperr.Invalid)
			_, err = n.SendPayment(ctx, lightning.PayRequest{PaymentRequest: tt.req, AmountMsat: 1000, FeeLimitMsat: money.MaxMsat})
			if !errors.Is(err, lightning.ErrInvalidPaymentRequest) {
				t.Fatalf("SendPayment: err = %v, want ErrInvalidPaymentRequest", err)
			}
		})
	}
}

// flipLast changes the last bech32 character, breaking the checksum.
func flipLast(s string) string {
	if s[len(s)-1] == 'q' {
		return s[:len(s)-1] + "p"
	}
	return s[:len(s)-1] + "q"
}

package demo

import (
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/lightning"
	"github.com/keepalive/keepalive/internal/money"
)

func TestSendPaymentToOwnInvoiceSettlesIt(t *testing.T) {
	n, _ := newTestNode(t, 1)
	ctx := context.Background()
	seen, stop := subscribe(t, n, 0)
	defer stop()
	inv := mustCreate(t, n, lightning.CreateInvoiceRequest{AmountMsat: 12_345, Memo: "self"})

	p, err := n.SendPayment(ctx, lightning.PayRequest{PaymentRequest: inv.PaymentRequest})
	if err != nil {
		t.Fatal(err)
	}
	if p.State != lightning.PaymentSucceeded || p.AmountMsat != 12_345 || p.FeeMsat != 0 || p.PaymentHash != inv.PaymentHash {
		t.Fatalf("payment = %+v, want succeeded for 12345 msat, no fee", p)
	}
	if sha256.Sum256(p.Preimage[:]) != inv.PaymentHash {
		t.Fatalf("preimage %s does not hash to %s", p.Preimage, inv.PaymentHash)
	}
	got, err := n.LookupInvoice(ctx, inv.PaymentHash)
	if err != nil || got.State != lightning.InvoiceSettled || got.PaidMsat != 12_345 {
		t.Fatalf("invoice after self payment = %+v, %v", got, err)
	}
	if s := receive(t, seen); s.PaymentHash != inv.PaymentHash {
		t.Fatalf("subscriber saw %s, want %s", s.PaymentHash, inv.PaymentHash)
	}
}

func TestSendPaymentNeverPaysTwice(t *testing.T) {
	tests := []struct {
		name string
		self bool
	}{{"own invoice", true}, {"another node's invoice", false}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, _ := newTestNode(t, 1)
			other, _ := newTestNode(t, 2)
			ctx := context.Background()
			issuer := other
			if tt.self {
				issuer = n
			}
			inv := mustCreate(t, issuer, lightning.CreateInvoiceRequest{AmountMsat: 50_000})
			req := lightning.PayRequest{PaymentRequest: inv.PaymentRequest, FeeLimitMsat: 10_000}
			first, err := n.SendPayment(ctx, req)
			if err != nil || first.State != lightning.PaymentSucceeded {
				t.Fatalf("first SendPayment = %+v, %v", first, err)
			}
			// Were it sent again, this would make it fail.
			n.FailNext("should not be used")
			second, err := n.SendPayment(ctx, req)
			if err != nil || second != first {
				t.Fatalf("second SendPayment = %+v, %v; want the first result %+v", second, err, first)
			}
			tracked, err := n.TrackPayment(ctx, inv.PaymentHash)
			if err != nil || tracked != first {
				t.Fatalf("TrackPayment = %+v, %v; want %+v", tracked, err, first)
			}
			if tt.self {
				got, _ := n.LookupInvoice(ctx, inv.PaymentHash)
				if got.SettleIndex != 1 || got.PaidMsat != 50_000 {
					t.Fatalf("invoice = %+v, want settled once", got)
				}
			}
		})
	}
}

func TestSendPaymentToAnotherNode(t *testing.T) {
	tests := []struct {
		name     string
		amount   money.Msat
		feeLimit money.Msat
		wantFee  money.Msat
		wantFail string
	}{
		{"fee within limit", 2_000_000, 3_000, 3_000, ""},
		{"fee over limit", 2_000_000, 2_999, 0, FailureNoRoute},
		{"zero limit allows only free routes", 1_000, 0, 0, FailureNoRoute},
		{"rounds down", 1_999, 1_001, 1_001, ""},
	}
	n, _ := newTestNode(t, 1)
	other, _ := newTestNode(t, 2)
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := mustCreate(t, other, lightning.CreateInvoiceRequest{AmountMsat: tt.amount})
			p, err := n.SendPayment(ctx, lightning.PayRequest{PaymentRequest: inv.PaymentRequest, FeeLimitMsat: tt.feeLimit})
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantFail != "" {
				if p.State != lightning.PaymentFailed || p.FailureReason != tt.wantFail || p.FeeMsat != 0 {
					t.Fatalf("payment = %+v, want failed with %s", p, tt.wantFail)
				}
				return
			}
			if p.State != lightning.PaymentSucceeded || p.FeeMsat != tt.wantFee || p.AmountMsat != tt.amount {
				t.Fatalf("payment = %+v, want succeeded, %d msat, fee %d", p, tt.amount, tt.wantFee)
			}
			if got, _ := other.LookupInvoice(ctx, inv.PaymentHash); got.State != lightning.InvoiceOpen {
				t.Fatalf("a simulated payment must not touch another node: state %s", got.State)
			}
		})
	}
}

func TestPayAmountRules(t *testing.T) {
	tests := []struct {
		name     string
		invoice  money.Msat
		offered  money.Msat
		wantPaid money.Msat
		wantCode apperr.Code // empty: success
	}{
		{"amountless needs an amount", 0, 0, 0, apperr.Invalid},
		{"amountless takes the amount", 0, 7_000, 7_000, ""},
		{"fixed, no amount given", 5_000, 0, 5_000, ""},
		{"fixed, same amount", 5_000, 5_000, 5_000, ""},
		{"fixed, different amount", 5_000, 4_999, 0, apperr.Unprocessable},
		{"negative", 0, -1, 0, apperr.Invalid},
		{"above 21M BTC", 0, money.MaxMsat + 1, 0, apperr.Invalid},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Each path is checked the same way: the button, a self
			// payment and a payment to another node.
			n, _ := newTestNode(t, 1)
			other, _ := newTestNode(t, 2)

			button := mustCreate(t, n, lightning.CreateInvoiceRequest{AmountMsat: tt.invoice})
			inv, err := n.PayAmount(ctx, button.PaymentHash, tt.offered)
			check(t, "PayAmount", err, tt.wantCode)
			if err == nil && inv.PaidMsat != tt.wantPaid {
				t.Errorf("PayAmount: paid %d, want %d", inv.PaidMsat, tt.wantPaid)
			}

			for _, issuer := range []*Node{n, other} {
				target := mustCreate(t, issuer, lightning.CreateInvoiceRequest{AmountMsat: tt.invoice})
				p, err := n.SendPayment(ctx, lightning.PayRequest{
					PaymentRequest: target.PaymentRequest, AmountMsat: tt.offered, FeeLimitMsat: money.MaxMsat,
				})
				check(t, "SendPayment", err, tt.wantCode)
				if err != nil {
					if _, err := n.TrackPayment(ctx, target.PaymentHash); !errors.Is(err, lightning.ErrPaymentNotFound) {
						t.Errorf("refused payment was recorded: TrackPayment err = %v", err)
					}
					continue
				}
				if p.State != lightning.PaymentSucceeded || p.AmountMsat != tt.wantPaid {
					t.Errorf("SendPayment = %+v, want succeeded for %d", p, tt.wantPaid)
				}
			}
		})
	}
}

func check(t *testing.T, what string, err error, code apperr.Code) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Errorf("%s: %v", what, err)
		}
		return
	}
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Code != code {
		t.Errorf("%s: err = %v, want code %s", what, err, code)
	}
}

func TestSendPaymentOwnInvoiceAlreadySettledFails(t *testing.T) {
	n, _ := newTestNode(t, 1)
	ctx := context.Background()
	inv := mustCreate(t, n, lightning.CreateInvoiceRequest{AmountMsat: 1000})
	if _, err := n.Pay(ctx, inv.PaymentHash); err != nil {
		t.Fatal(err)
	}
	p, err := n.SendPayment(ctx, lightning.PayRequest{PaymentRequest: inv.PaymentRequest})
	if err != nil {
		t.Fatal(err)
	}
	if p.State != lightning.PaymentFailed || p.FailureReason != FailureIncorrectPaymentDetails {
		t.Fatalf("paying a settled invoice = %+v, want failed with incorrect details", p)
	}
	if got, _ := n.LookupInvoice(ctx, inv.PaymentHash); got.SettleIndex != 1 {
		t.Fatalf("invoice settle index %d, want still 1", got.SettleIndex)
	}
}

func TestFailNext(t *testing.T) {
	n, _ := newTestNode(t, 1)
	ctx := context.Background()
	failing := mustCreate(t, n, lightning.CreateInvoiceRequest{AmountMsat: 1000})
	n.FailNext("FAILURE_REASON_INSUFFICIENT_BALANCE")
	p, err := n.SendPayment(ctx, lightning.PayRequest{PaymentRequest: failing.PaymentRequest})
	if err != nil {
		t.Fatal(err)
	}
	if p.State != lightning.PaymentFailed || p.FailureReason != "FAILURE_REASON_INSUFFICIENT_BALANCE" {
		t.Fatalf("payment = %+v, want failed with the given reason", p)
	}
	if got, _ := n.LookupInvoice(ctx, failing.PaymentHash); got.State != lightning.InvoiceOpen {
		t.Fatalf("a failed self payment settled the invoice: %s", got.State)
	}
	// The hook fires once; a failed hash stays failed (tracked, not resent).
	if again, _ := n.SendPayment(ctx, lightning.PayRequest{PaymentRequest: failing.PaymentRequest}); again != p {
		t.Fatalf("resending a failed hash = %+v, want the recorded failure %+v", again, p)
	}
	next := mustCreate(t, n, lightning.CreateInvoiceRequest{AmountMsat: 1000})
	if p, _ := n.SendPayment(ctx, lightning.PayRequest{PaymentRequest: next.PaymentRequest}); p.State != lightning.PaymentSucceeded {
		t.Fatalf("payment after the failed one = %+v, want succeeded", p)
	}
}

func TestHoldPaymentsKeepsThemInFlight(t *testing.T) {
	n, _ := newTestNode(t, 1)
	ctx := context.Background()
	inv := mustCreate(t, n, lightning.CreateInvoiceRequest{AmountMsat: 8_000})
	n.HoldPayments(true)

	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	p, err := n.SendPayment(short, lightning.PayRequest{PaymentRequest: inv.PaymentRequest})
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || p.State != lightning.PaymentInFlight || p.PaymentHash != inv.PaymentHash {
		t.Fatalf("held SendPayment = %+v, %v; want in flight and DeadlineExceeded", p, err)
	}
	if got, _ := n.LookupInvoice(ctx, inv.PaymentHash); got.State != lightning.InvoiceOpen {
		t.Fatalf("held self payment already settled the invoice")
	}

	// Someone tracking it (the site after a restart) waits for the outcome.
	tracked := make(chan lightning.Payment, 1)
	trackErr := make(chan error, 1)
	go func() {
		p, err := n.TrackPayment(ctx, inv.PaymentHash)
		tracked <- p
		trackErr <- err
	}()
	// Resending while in flight must not start a second payment.
	short, cancel = context.WithTimeout(ctx, 20*time.Millisecond)
	if p, err := n.SendPayment(short, lightning.PayRequest{PaymentRequest: inv.PaymentRequest}); !errors.Is(err, context.DeadlineExceeded) || p.State != lightning.PaymentInFlight {
		t.Fatalf("resend while held = %+v, %v; want still in flight", p, err)
	}
	cancel()

	n.HoldPayments(false)
	select {
	case p := <-tracked:
		if err := <-trackErr; err != nil || p.State != lightning.PaymentSucceeded {
			t.Fatalf("TrackPayment after release = %+v, %v; want succeeded", p, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("TrackPayment did not return after release")
	}
	if got, _ := n.LookupInvoice(ctx, inv.PaymentHash); got.State != lightning.InvoiceSettled || got.SettleIndex != 1 {
		t.Fatalf("invoice after release = %+v, want settled once", got)
	}
	// Released: new payments complete at once.
	next := mustCreate(t, n, lightning.CreateInvoiceRequest{AmountMsat: 1})
	if p, err := n.SendPayment(ctx, lightning.PayRequest{PaymentRequest: next.PaymentRequest}); err != nil || p.State != lightning.PaymentSucceeded {
		t.Fatalf("SendPayment after release = %+v, %v", p, err)
	}
}

func TestTrackPaymentUnknown(t *testing.T) {
	n, _ := newTestNode(t, 1)
	if _, err := n.TrackPayment(context.Background(), lightning.Hash{9}); !errors.Is(err, lightning.ErrPaymentNotFound) {
		t.Fatalf("err = %v, want ErrPaymentNotFound", err)
	}
}

func TestSendPaymentRejectsBadLimits(t *testing.T) {
	n, _ := newTestNode(t, 1)
	inv := mustCreate(t, n, lightning.CreateInvoiceRequest{AmountMsat: 1000})
	for _, req := range []lightning.PayRequest{
		{PaymentRequest: inv.PaymentRequest, FeeLimitMsat: -1},
		{PaymentRequest: inv.PaymentRequest, Timeout: -time.Second},
	} {
		_, err := n.SendPayment(context.Background(), req)
		wantCode(t, err, apperr.Invalid)
	}
}

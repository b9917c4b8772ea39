package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/lightningnetwork/lnd/lnrpc"
	"github.com/lightningnetwork/lnd/lnrpc/invoicesrpc"

	"github.com/keepalive/keepalive/internal/funding"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/money"
)

// TestInvestorJourney on real lnd: terms, an investment paid by the payer
// node, an owner's revenue invoice paid and split, and the investor's
// withdrawal to a hold invoice on the payer node, with the site killed
// (SIGKILL) while it is in flight: after the restart it is paid once and
// the payer node receives it.
func TestInvestorJourney(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		ctx := testCtx(t, 3*time.Minute)
		s := e.startSite()
		slug, key, id := s.createOffering(slowBurn)
		s.must(http.StatusOK, http.MethodPut, "/api/v1/offerings/"+slug+"/terms", key,
			map[string]any{"share_bps": 5000, "cap_bps": 15000, "min_msat": 1_000_000, "max_msat": 500_000_000}, nil)

		var made struct {
			InvestmentID   int64  `json:"investment_id"`
			ClaimKey       string `json:"claim_key"`
			PaymentRequest string `json:"payment_request"`
			PaymentHash    string `json:"payment_hash"`
		}
		s.must(http.StatusCreated, http.MethodPost, "/api/v1/offerings/"+slug+"/investments", "",
			map[string]any{"amount_msat": 100_000_000, "name": "Ann", "public": true}, &made)
		e.pay(ctx, made.PaymentRequest)
		s.waitSettled(made.PaymentHash)
		if got := e.account(ledger.OfferingRunway(id)).CreditsPosted; got != 100_000_000 {
			t.Fatalf("runway credited %d by the investment", got)
		}

		var revenue struct {
			PaymentRequest string `json:"payment_request"`
			PaymentHash    string `json:"payment_hash"`
		}
		s.must(http.StatusCreated, http.MethodPost, "/api/v1/offerings/"+slug+"/revenue", key,
			map[string]any{"amount_msat": 40_000_000, "note": "ads"}, &revenue)
		e.pay(ctx, revenue.PaymentRequest)
		s.waitSettled(revenue.PaymentHash)

		path := fmt.Sprintf("/api/v1/investments/%d", made.InvestmentID)
		var view struct {
			State       string     `json:"state"`
			PayableMsat money.Msat `json:"payable_msat"`
		}
		eventually(t, 20*time.Second, "the share to be payable", func() bool {
			s.must(http.StatusOK, http.MethodGet, path, made.ClaimKey, nil, &view)
			return view.PayableMsat == 20_000_000
		})
		if view.State != "active" {
			t.Fatalf("investment is %s", view.State)
		}

		// The investor withdraws 15,000 sats to the payer node; the payer
		// holds the payment, and the site is killed meanwhile.
		h := e.addHoldInvoice(ctx, 15_000_000)
		if r := s.call(http.MethodPost, path+"/withdrawals", made.ClaimKey, map[string]string{"destination": h.bolt11}); r.Status != http.StatusAccepted {
			t.Fatalf("withdraw: %s", r)
		}
		eventually(t, 30*time.Second, "the payout held by the payer", func() bool {
			return e.payerInvoiceState(ctx, h.hash).State == lnrpc.Invoice_ACCEPTED
		})
		s.kill()
		e.checkInvariants()
		if _, err := e.payerInvoices.SettleInvoice(ctx, &invoicesrpc.SettleInvoiceMsg{Preimage: h.preimage}); err != nil {
			t.Fatal(err)
		}
		s.start()
		eventually(t, 60*time.Second, "the payout finished", func() bool {
			for _, p := range e.payouts() {
				if p.PaymentHash == h.hash {
					return p.State != funding.PayoutPending
				}
			}
			return false
		})
		var payout funding.Payout
		for _, p := range e.payouts() {
			if p.PaymentHash == h.hash {
				payout = p
			}
		}
		if payout.State != funding.PayoutSucceeded || payout.SourceAccount != ledger.InvestmentPayable(made.InvestmentID) {
			t.Fatalf("payout: %+v", payout)
		}
		lndPayments, err := e.site.ListPayments(ctx, &lnrpc.ListPaymentsRequest{IncludeIncomplete: true, MaxPayments: 10_000})
		if err != nil {
			t.Fatal(err)
		}
		var sent int
		for _, p := range lndPayments.Payments {
			if p.PaymentHash == h.hash {
				sent++
				if p.Status != lnrpc.Payment_SUCCEEDED || money.Msat(p.ValueMsat) != 15_000_000 {
					t.Errorf("lnd payment: %s, %d msat", p.Status, p.ValueMsat)
				}
			}
		}
		if sent != 1 || e.transfers("payout:"+h.hash+":sent") != 1 {
			t.Fatalf("%d lnd payments, %d postings for the withdrawal", sent, e.transfers("payout:"+h.hash+":sent"))
		}
		if inv := e.payerInvoiceState(ctx, h.hash); inv.State != lnrpc.Invoice_SETTLED || inv.AmtPaidMsat != 15_000_000 {
			t.Fatalf("payer invoice: %s, %d msat", inv.State, inv.AmtPaidMsat)
		}
		payable := e.account(ledger.InvestmentPayable(made.InvestmentID))
		if payable.DebitsPending != 0 || payable.Balance() != 20_000_000-15_000_000-payout.FeeMsat {
			t.Fatalf("payable: balance %d, pending %d", payable.Balance(), payable.DebitsPending)
		}
		e.checkInvariants()
	})
}

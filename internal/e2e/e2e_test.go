package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/lightningnetwork/lnd/lnrpc"
	"github.com/lightningnetwork/lnd/lnrpc/invoicesrpc"
	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/lightningnetwork/lnd/zpay32"

	"github.com/keepalive/keepalive/internal/funding"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/lnurl"
	"github.com/keepalive/keepalive/internal/money"
)

// slowBurn, 3,600,000 msat an hour, is 1 msat a millisecond: a donation
// of N msat buys exactly N ms, so runway arithmetic in the tests is exact.
const slowBurn money.Msat = 3_600_000

// fastBurn (100,000 sat a second) consumes a donation within a second or
// two, so the owner's earned balance fills quickly and then stays still.
const fastBurn money.Msat = 360_000_000_000

// waitSettled waits until the site says the invoice is settled.
func (s *site) waitSettled(hash string) invoiceJSON {
	s.e.t.Helper()
	var inv invoiceJSON
	eventually(s.e.t, 30*time.Second, "invoice "+hash+" settled", func() bool {
		inv = s.invoice(hash)
		return inv.State == "settled"
	})
	return inv
}

// TestDonationExtendsRunwayOnce: a donation invoice made through the API
// and paid by the payer node extends the runway by amount ÷ burn rate,
// exactly once, also across a restart.
func TestDonationExtendsRunwayOnce(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		ctx := testCtx(t, 2*time.Minute)
		s := e.startSite()
		slug, _, id := s.createOffering(slowBurn)
		if st := s.status(slug); st.FundedUntil != nil || st.Alive {
			t.Fatalf("new offering already funded: %+v", st)
		}

		const first, second = money.Msat(600_000), money.Msat(1_234_000)
		inv1 := s.donate(slug, first, "")
		began := time.Now()
		e.pay(ctx, inv1.PaymentRequest)
		if got := s.waitSettled(inv1.PaymentHash); got.PaidMsat != first {
			t.Errorf("paid_msat = %d, want %d", got.PaidMsat, first)
		}
		ended := time.Now()
		st1 := s.status(slug)
		if st1.FundedUntil == nil || !st1.Alive {
			t.Fatalf("after the first donation: %+v", st1)
		}
		// The runway starts when the settlement is credited: between the
		// payment starting and the site saying so (status is in seconds).
		lo, hi := began.Add(600*time.Second).Truncate(time.Second), ended.Add(600*time.Second)
		if st1.FundedUntil.Before(lo) || st1.FundedUntil.After(hi) {
			t.Errorf("funded_until = %s, want within [%s, %s]", st1.FundedUntil, lo, hi)
		}

		inv2 := s.donate(slug, second, "")
		e.pay(ctx, inv2.PaymentRequest)
		s.waitSettled(inv2.PaymentHash)
		st2 := s.status(slug)
		// At 1 msat a millisecond the second donation moves funded_until
		// by exactly 1234 s, whenever it lands.
		if got := st2.FundedUntil.Sub(*st1.FundedUntil); got != 1234*time.Second {
			t.Errorf("funded_until moved by %s, want 1234s", got)
		}

		// A restart replays nothing: same funded_until, one credit each.
		s.stop()
		s.start()
		if st3 := s.status(slug); !st3.FundedUntil.Equal(*st2.FundedUntil) {
			t.Errorf("after a restart funded_until = %s, was %s", st3.FundedUntil, st2.FundedUntil)
		}
		for _, h := range []string{inv1.PaymentHash, inv2.PaymentHash} {
			if n := e.transfers("invoice:" + h); n != 1 {
				t.Errorf("%d transfers invoice:%s, want 1", n, h)
			}
		}
		if got := e.account(ledger.OfferingRunway(id)).CreditsPosted; got != first+second {
			t.Errorf("runway credited %d, want %d", got, first+second)
		}
	})
}

// TestSettlementsWhileSiteIsDown: invoices paid while the site is stopped
// are each credited exactly once when it starts again.
func TestSettlementsWhileSiteIsDown(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		ctx := testCtx(t, 3*time.Minute)
		s := e.startSite()
		slug, _, id := s.createOffering(slowBurn)
		const count = 50
		invs := make([]invoiceCreated, count)
		var sum money.Msat
		for i := range invs {
			amount := money.Msat(1_000_000 + i*1_000)
			invs[i] = s.donate(slug, amount, fmt.Sprintf("gift %d", i))
			sum += amount
		}
		before := s.status(slug)

		s.stop()
		var wg sync.WaitGroup
		work := make(chan string)
		errs := make(chan error, count)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for pr := range work {
					if err := e.net.Payer.PayInvoice(ctx, pr); err != nil {
						errs <- err
					}
				}
			}()
		}
		for _, inv := range invs {
			work <- inv.PaymentRequest
		}
		close(work)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		// Nothing was credited while the site was down.
		if got := e.account(ledger.OfferingRunway(id)).CreditsPosted; got != 0 {
			t.Fatalf("runway credited %d while the site was down", got)
		}

		s.start()
		for _, inv := range invs {
			if got := s.waitSettled(inv.PaymentHash); got.PaidMsat != inv.AmountMsat {
				t.Errorf("invoice %s paid_msat = %d, want %d", inv.PaymentHash, got.PaidMsat, inv.AmountMsat)
			}
		}
		for _, inv := range invs {
			if n := e.transfers("invoice:" + inv.PaymentHash); n != 1 {
				t.Errorf("%d transfers invoice:%s, want 1", n, inv.PaymentHash)
			}
		}
		if got := e.account(ledger.OfferingRunway(id)).CreditsPosted; got != sum {
			t.Errorf("runway credited %d, want the sum %d", got, sum)
		}
		after := s.status(slug)
		if before.FundedUntil != nil || after.FundedUntil == nil {
			t.Fatalf("funded_until before %v, after %v", before.FundedUntil, after.FundedUntil)
		}
		// The whole sum buys sum ms of runway, from about now.
		if left := time.Until(*after.FundedUntil); left > time.Duration(sum)*time.Millisecond || left < time.Duration(sum)*time.Millisecond-30*time.Second {
			t.Errorf("runway left %s, want about %s", left, time.Duration(sum)*time.Millisecond)
		}
	})
}

// fundEarned lists an offering that burns fast, donates amount to it and
// waits until all of it is the owner's earned balance (and so stays put).
// Consumption is posted when money moves, not as time passes: the runway
// reads empty once it is all consumed, and a withdrawal posts it first.
func (s *site) fundEarned(ctx context.Context, amount money.Msat) (slug, key string, id int64) {
	s.e.t.Helper()
	slug, key, id = s.createOffering(fastBurn)
	inv := s.donate(slug, amount, "")
	s.e.pay(ctx, inv.PaymentRequest)
	s.waitSettled(inv.PaymentHash)
	eventually(s.e.t, 20*time.Second, "the donation to be earned", func() bool {
		return s.status(slug).RunwayMsat == 0
	})
	if got := s.e.account(ledger.OfferingRunway(id)).CreditsPosted; got != amount {
		s.e.t.Fatalf("runway credited %d, want %d", got, amount)
	}
	return slug, key, id
}

// holdInvoice is an invoice on the payer node that accepts a payment but
// settles only when the test says: a payout to it stays in flight.
type holdInvoice struct {
	preimage []byte
	hash     string
	bolt11   string
	amount   money.Msat
}

func (e *env) addHoldInvoice(ctx context.Context, amount money.Msat) holdInvoice {
	e.t.Helper()
	var h holdInvoice
	h.preimage = mustRandom(32)
	sum := sha256.Sum256(h.preimage)
	h.hash, h.amount = hex.EncodeToString(sum[:]), amount
	resp, err := e.payerInvoices.AddHoldInvoice(ctx, &invoicesrpc.AddHoldInvoiceRequest{
		Hash: sum[:], ValueMsat: int64(amount), Memo: "hold", Expiry: 3600,
	})
	if err != nil {
		e.t.Fatalf("add hold invoice: %v", err)
	}
	h.bolt11 = resp.PaymentRequest
	return h
}

// TestPayoutsInFlightSurviveKill: the site is killed while payouts are in
// flight (held by the payer), payments finish or fail while it is down and
// after it restarts; each payout is paid exactly once and the ledger
// agrees with what lnd says it paid.
func TestPayoutsInFlightSurviveKill(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		ctx := testCtx(t, 3*time.Minute)
		s := e.startSite()
		const donated = money.Msat(100_000_000)
		slug, key, id := s.fundEarned(ctx, donated)

		// settleDown and cancelDown finish while the site is down;
		// settleUp is still in flight when the site starts again.
		holds := map[string]holdInvoice{}
		for _, name := range []string{"settleDown1", "settleDown2", "cancelDown", "settleUp"} {
			h := e.addHoldInvoice(ctx, 10_000_000)
			holds[name] = h
			if r := s.withdraw(slug, key, h.bolt11); r.Status != http.StatusAccepted {
				t.Fatalf("withdraw to %s: %s", name, r)
			}
		}
		eventually(t, 30*time.Second, "every payout held by the payer", func() bool {
			for _, h := range holds {
				if e.payerInvoiceState(ctx, h.hash).State != lnrpc.Invoice_ACCEPTED {
					return false
				}
			}
			return true
		})
		s.kill()

		for _, p := range e.payouts() {
			if p.State != funding.PayoutPending {
				t.Fatalf("payout %s is %s before the restart", p.PaymentHash, p.State)
			}
		}
		e.checkInvariants()
		for _, name := range []string{"settleDown1", "settleDown2"} {
			if _, err := e.payerInvoices.SettleInvoice(ctx, &invoicesrpc.SettleInvoiceMsg{Preimage: holds[name].preimage}); err != nil {
				t.Fatal(err)
			}
		}
		cancelHash, _ := hex.DecodeString(holds["cancelDown"].hash)
		if _, err := e.payerInvoices.CancelInvoice(ctx, &invoicesrpc.CancelInvoiceMsg{PaymentHash: cancelHash}); err != nil {
			t.Fatal(err)
		}

		s.start()
		// Give the restarted worker time to pick the held payment up, so
		// that it is really in flight when it settles.
		time.Sleep(500 * time.Millisecond)
		if _, err := e.payerInvoices.SettleInvoice(ctx, &invoicesrpc.SettleInvoiceMsg{Preimage: holds["settleUp"].preimage}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 60*time.Second, "no payout pending", func() bool {
			for _, p := range e.payouts() {
				if p.State == funding.PayoutPending {
					return false
				}
			}
			return true
		})

		// What lnd says the site node paid, by payment hash.
		lndPayments, err := e.site.ListPayments(ctx, &lnrpc.ListPaymentsRequest{IncludeIncomplete: true, MaxPayments: 10_000})
		if err != nil {
			t.Fatal(err)
		}
		byHash := map[string][]*lnrpc.Payment{}
		for _, p := range lndPayments.Payments {
			byHash[p.PaymentHash] = append(byHash[p.PaymentHash], p)
		}
		want := map[string]funding.PayoutState{
			holds["settleDown1"].hash: funding.PayoutSucceeded, holds["settleDown2"].hash: funding.PayoutSucceeded,
			holds["settleUp"].hash: funding.PayoutSucceeded, holds["cancelDown"].hash: funding.PayoutFailed,
		}
		payouts := e.payouts()
		if len(payouts) != len(want) {
			t.Fatalf("%d payouts, want %d", len(payouts), len(want))
		}
		var paid, fees money.Msat
		for _, p := range payouts {
			if p.State != want[p.PaymentHash] {
				t.Errorf("payout %s is %s, want %s", p.PaymentHash, p.State, want[p.PaymentHash])
			}
			lp := byHash[p.PaymentHash]
			if len(lp) != 1 {
				t.Errorf("lnd has %d payments for %s, want 1", len(lp), p.PaymentHash)
				continue
			}
			settledHTLCs := 0
			for _, a := range lp[0].Htlcs {
				if a.Status == lnrpc.HTLCAttempt_SUCCEEDED {
					settledHTLCs++
				}
			}
			switch p.State {
			case funding.PayoutSucceeded:
				if lp[0].Status != lnrpc.Payment_SUCCEEDED || settledHTLCs != 1 {
					t.Errorf("payout %s succeeded; lnd says %s with %d settled HTLCs", p.PaymentHash, lp[0].Status, settledHTLCs)
				}
				if money.Msat(lp[0].ValueMsat) != p.AmountMsat || money.Msat(lp[0].FeeMsat) != p.FeeMsat {
					t.Errorf("payout %s: %d + fee %d; lnd paid %d + fee %d", p.PaymentHash, p.AmountMsat, p.FeeMsat, lp[0].ValueMsat, lp[0].FeeMsat)
				}
				if n := e.transfers("payout:" + p.PaymentHash + ":sent"); n != 1 {
					t.Errorf("%d postings of payout %s, want 1", n, p.PaymentHash)
				}
				paid += p.AmountMsat
				fees += p.FeeMsat
			case funding.PayoutFailed:
				if lp[0].Status != lnrpc.Payment_FAILED || settledHTLCs != 0 {
					t.Errorf("payout %s failed; lnd says %s with %d settled HTLCs", p.PaymentHash, lp[0].Status, settledHTLCs)
				}
				if n := e.transfers("payout:" + p.PaymentHash + ":failed"); n != 1 {
					t.Errorf("%d voids of payout %s, want 1", n, p.PaymentHash)
				}
			}
		}
		for name, h := range holds {
			inv := e.payerInvoiceState(ctx, h.hash)
			switch want[h.hash] {
			case funding.PayoutSucceeded:
				if inv.State != lnrpc.Invoice_SETTLED || money.Msat(inv.AmtPaidMsat) != h.amount {
					t.Errorf("payer invoice %s: %s, paid %d", name, inv.State, inv.AmtPaidMsat)
				}
			default:
				if inv.State != lnrpc.Invoice_CANCELED {
					t.Errorf("payer invoice %s: %s, want canceled", name, inv.State)
				}
			}
		}
		if got := e.account(ledger.RoutingFees).Balance(); got != fees {
			t.Errorf("routing fees account %d, payouts' fees sum to %d", got, fees)
		}
		earned := e.account(ledger.OfferingEarned(id))
		if earned.DebitsPending != 0 || earned.Balance() != donated-paid-fees {
			t.Errorf("earned: balance %d (want %d), pending %d", earned.Balance(), donated-paid-fees, earned.DebitsPending)
		}
		if got := e.account(ledger.Lightning).Balance(); got != paid-donated {
			t.Errorf("lightning account %d, want paid out − paid in = %d", got, paid-donated)
		}
	})
}

// TestLNURLPayAndLightningAddress: a wallet resolves the offering's
// Lightning Address, fetches an invoice with a comment, checks it against
// the metadata, pays it; the runway grows and the comment is the
// donation's message.
func TestLNURLPayAndLightningAddress(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		ctx := testCtx(t, 2*time.Minute)
		s := e.startSite()
		slug, _, id := s.createOffering(slowBurn)

		address := slug + "@" + s.addr
		u, err := lnurl.ResolvePayURL(address)
		if err != nil {
			t.Fatal(err)
		}
		client := &lnurl.Client{}
		params, err := client.FetchPayParams(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		md, err := lnurl.ParseMetadata(params.Metadata)
		if err != nil {
			t.Fatal(err)
		}
		if md.Identifier != address {
			t.Errorf("metadata identifier %q, want %q", md.Identifier, address)
		}
		const amount = money.Msat(777_000)
		const comment = "for the servers ☕"
		pr, action, err := client.FetchInvoice(ctx, params, amount, comment)
		if err != nil {
			t.Fatal(err)
		}
		decoded, err := zpay32.Decode(pr, &chaincfg.RegressionNetParams)
		if err != nil {
			t.Fatal(err)
		}
		var descHash []byte
		if decoded.DescriptionHash != nil {
			descHash = decoded.DescriptionHash[:]
		}
		var got money.Msat
		if decoded.MilliSat != nil {
			got = money.Msat(*decoded.MilliSat)
		}
		if err := lnurl.CheckInvoice(got, descHash, params, amount); err != nil {
			t.Fatal(err)
		}
		if dest := hex.EncodeToString(decoded.Destination.SerializeCompressed()); dest != e.net.Site.PubKey {
			t.Errorf("invoice pays %s, not the site's node %s", dest, e.net.Site.PubKey)
		}
		if action == nil || action.Tag != "message" || !strings.Contains(action.Message, "funded until") {
			t.Errorf("success action %+v, want a message saying funded until", action)
		}

		e.pay(ctx, pr)
		hash := hex.EncodeToString(decoded.PaymentHash[:])
		s.waitSettled(hash)
		st := s.status(slug)
		if !st.Alive || st.FundedUntil == nil || time.Until(*st.FundedUntil) > 777*time.Second || time.Until(*st.FundedUntil) < 760*time.Second {
			t.Errorf("status after an LNURL donation of 777 s: %+v", st)
		}
		inv := e.dbInvoice(hash)
		if inv.PayerMessage != comment || inv.Via != "lnurl" || inv.PaidMsat != amount {
			t.Errorf("donation stored as message %q via %q paid %d", inv.PayerMessage, inv.Via, inv.PaidMsat)
		}
		if got := e.account(ledger.OfferingRunway(id)).CreditsPosted; got != amount {
			t.Errorf("runway credited %d, want %d", got, amount)
		}
	})
}

// lnurlPayServer is a recipient's LNURL-pay service on loopback that hands
// out the payer node's invoices, committed to its metadata.
type lnurlPayServer struct {
	*httptest.Server
	mu     sync.Mutex
	hashes []string
}

func (e *env) newLNURLPayServer(ctx context.Context) *lnurlPayServer {
	e.t.Helper()
	ls := &lnurlPayServer{}
	var metadata string
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/lnurlp/alice", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(lnurl.PayParams{
			Callback: ls.URL + "/pay/alice", MinSendable: 1_000, MaxSendable: 1_000_000_000,
			Metadata: metadata, Tag: lnurl.TagPayRequest,
		})
	})
	mux.HandleFunc("/pay/alice", func(w http.ResponseWriter, r *http.Request) {
		var amount int64
		fmt.Sscan(r.URL.Query().Get("amount"), &amount)
		dh := lnurl.DescriptionHash(metadata)
		resp, err := e.payer.AddInvoice(ctx, &lnrpc.Invoice{ValueMsat: amount, DescriptionHash: dh[:]})
		if err != nil {
			json.NewEncoder(w).Encode(map[string]string{"status": "ERROR", "reason": err.Error()})
			return
		}
		ls.mu.Lock()
		ls.hashes = append(ls.hashes, hex.EncodeToString(resp.RHash))
		ls.mu.Unlock()
		json.NewEncoder(w).Encode(lnurl.PayCallbackResponse{PR: resp.PaymentRequest})
	})
	ls.Server = httptest.NewServer(mux)
	e.t.Cleanup(ls.Close)
	metadata = lnurl.BuildMetadata("Pay Alice", "alice@"+ls.Listener.Addr().String(), "")
	return ls
}

// TestPayoutToLightningAddress: the owner withdraws to a Lightning Address
// whose service hands out the payer's invoices; the payout succeeds and
// the payer's invoice is settled for the payout's amount.
func TestPayoutToLightningAddress(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		ctx := testCtx(t, 2*time.Minute)
		s := e.startSite()
		const donated = money.Msat(50_000_000)
		slug, key, id := s.fundEarned(ctx, donated)
		ls := e.newLNURLPayServer(ctx)

		address := "alice@" + ls.Listener.Addr().String()
		r := s.withdraw(slug, key, address)
		if r.Status != http.StatusAccepted {
			t.Fatalf("withdraw to %s: %s", address, r)
		}
		var p payoutJSON
		if err := json.Unmarshal(r.Body, &p); err != nil {
			t.Fatal(err)
		}
		if want := funding.MaxPayable(donated); p.AmountMsat != want {
			t.Errorf("payout of %d, want everything that fits with its fee budget, %d", p.AmountMsat, want)
		}
		eventually(t, 30*time.Second, "the payout to finish", func() bool {
			var out struct {
				Withdrawals []payoutJSON `json:"withdrawals"`
			}
			s.must(http.StatusOK, http.MethodGet, "/api/v1/offerings/"+slug+"/withdrawals", key, nil, &out)
			if len(out.Withdrawals) == 1 {
				p = out.Withdrawals[0]
			}
			return p.State != string(funding.PayoutPending)
		})
		if p.State != string(funding.PayoutSucceeded) {
			t.Fatalf("payout %+v", p)
		}
		ls.mu.Lock()
		hashes := append([]string(nil), ls.hashes...)
		ls.mu.Unlock()
		if len(hashes) != 1 || hashes[0] != p.PaymentHash {
			t.Fatalf("the service issued %v; the site paid %s", hashes, p.PaymentHash)
		}
		inv := e.payerInvoiceState(ctx, p.PaymentHash)
		if inv.State != lnrpc.Invoice_SETTLED || money.Msat(inv.AmtPaidMsat) != p.AmountMsat {
			t.Errorf("payer invoice %s, paid %d, want settled for %d", inv.State, inv.AmtPaidMsat, p.AmountMsat)
		}
		earned := e.account(ledger.OfferingEarned(id))
		if earned.DebitsPending != 0 || earned.Balance() != donated-p.AmountMsat-p.FeeMsat {
			t.Errorf("earned balance %d pending %d, want %d and 0", earned.Balance(), earned.DebitsPending, donated-p.AmountMsat-p.FeeMsat)
		}
	})
}

// mainnetInvoice is a well-formed, signed, unexpired BOLT11 invoice for
// bitcoin mainnet: a regtest site must refuse it.
func mainnetInvoice(t *testing.T) string {
	t.Helper()
	key, err := btcec.NewPrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	var hash [32]byte
	copy(hash[:], mustRandom(32))
	inv, err := zpay32.NewInvoice(&chaincfg.MainNetParams, hash, time.Now(),
		zpay32.Amount(lnwire.MilliSatoshi(1_000_000)), zpay32.Description("mainnet"), zpay32.Expiry(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	s, err := inv.Encode(zpay32.MessageSigner{SignCompact: func(msg []byte) ([]byte, error) {
		h := sha256.Sum256(msg)
		return ecdsa.SignCompact(key, h[:], true), nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestBadWithdrawalsWriteNothing: destinations that cannot or must not be
// paid get a clear 4xx, quickly or within the site's LNURL timeout, and
// leave no payout row and no reservation behind.
func TestBadWithdrawalsWriteNothing(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		ctx := testCtx(t, 2*time.Minute)
		s := e.startSite()
		// Made first, so that it has expired by the time it is used.
		expired, _ := e.payerInvoice(ctx, &lnrpc.Invoice{ValueMsat: 1_000_000, Expiry: 1})
		const donated = money.Msat(20_000_000)
		slug, key, id := s.fundEarned(ctx, donated)
		if d, err := zpay32.Decode(expired, &chaincfg.RegressionNetParams); err != nil {
			t.Fatal(err)
		} else {
			time.Sleep(time.Until(d.Timestamp.Add(d.Expiry() + 100*time.Millisecond)))
		}
		tooMuch, _ := e.payerInvoice(ctx, &lnrpc.Invoice{ValueMsat: int64(donated)})
		garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, "<html>not LNURL</html>")
		}))
		t.Cleanup(garbage.Close)
		release := make(chan struct{})
		hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}))
		t.Cleanup(hanging.Close)
		t.Cleanup(func() { close(release) }) // runs first: lets Close return
		hostOf := func(srv *httptest.Server) string { u, _ := url.Parse(srv.URL); return u.Host }

		tests := []struct {
			name        string
			destination string
			statuses    []int // any of them is a clear answer
			within      time.Duration
		}{
			{"malformed BOLT11", "lnbcrt1qqqqthisisnotaninvoice", []int{http.StatusUnprocessableEntity}, 2 * time.Second},
			{"mainnet BOLT11", mainnetInvoice(t), []int{http.StatusUnprocessableEntity}, 2 * time.Second},
			{"more than earned", tooMuch, []int{http.StatusConflict}, 2 * time.Second},
			{"expired", expired, []int{http.StatusUnprocessableEntity}, 2 * time.Second},
			{"LNURL answers garbage", "bob@" + hostOf(garbage), []int{http.StatusUnprocessableEntity}, 2 * time.Second},
			// The site's LNURL client waits 10 s for response headers.
			{"LNURL hangs", "bob@" + hostOf(hanging), []int{http.StatusUnprocessableEntity}, 16 * time.Second},
		}
		t.Run("cases", func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					r, err := s.tryCall(http.MethodPost, "/api/v1/offerings/"+slug+"/withdrawals", key, map[string]string{"destination": tc.destination})
					if err != nil {
						t.Fatal(err)
					}
					t.Logf("%s in %s", r, r.Took.Round(time.Millisecond))
					if !slices.Contains(tc.statuses, r.Status) {
						t.Errorf("%s, want one of %v", r, tc.statuses)
					}
					var body struct {
						Error struct {
							Code    string `json:"code"`
							Message string `json:"message"`
						} `json:"error"`
					}
					if err := json.Unmarshal(r.Body, &body); err != nil || body.Error.Message == "" {
						t.Errorf("no clear error message in %s", r.Body)
					}
					if r.Took > tc.within {
						t.Errorf("answered in %s, want within %s", r.Took, tc.within)
					}
				})
			}
		})
		if ps := e.payouts(); len(ps) != 0 {
			t.Errorf("%d payouts written, want none: %+v", len(ps), ps)
		}
		earned := e.account(ledger.OfferingEarned(id))
		if earned.DebitsPending != 0 || earned.Available() != donated {
			t.Errorf("earned available %d pending %d, want %d and nothing reserved", earned.Available(), earned.DebitsPending, donated)
		}
		var pendingTransfers int64
		if err := e.db.Gorm(context.Background()).Model(&ledger.Transfer{}).Where("kind = ?", ledger.Pending).Count(&pendingTransfers).Error; err != nil {
			t.Fatal(err)
		}
		if pendingTransfers != 0 {
			t.Errorf("%d reservations written, want none", pendingTransfers)
		}
	})
}

func mustRandom(n int) []byte {
	b, err := hex.DecodeString(randomHex(n))
	if err != nil {
		panic(err)
	}
	return b
}

// TestSiteRidesOutANodeRestart: the site's lnd restarts under a running
// site. The site reconnects by itself: an invoice made before the restart
// and paid after it is credited once (the settlement stream resumes from
// its cursor), and new invoices are made and credited again.
func TestSiteRidesOutANodeRestart(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		ctx := testCtx(t, 4*time.Minute)
		s := e.startSite()
		slug, _, id := s.createOffering(slowBurn)
		before := s.donate(slug, 100_000, "")
		e.pay(ctx, before.PaymentRequest)
		s.waitSettled(before.PaymentHash)
		pending := s.donate(slug, 200_000, "") // paid only after the restart

		restarted := time.Now()
		if err := e.net.RestartSite(ctx); err != nil {
			t.Fatal(err)
		}
		t.Logf("lnd restarted, channels active again, in %s", time.Since(restarted).Round(time.Millisecond))

		e.pay(ctx, pending.PaymentRequest)
		var inv invoiceJSON
		eventually(t, time.Minute, "the invoice paid after the restart credited", func() bool {
			inv = s.invoice(pending.PaymentHash)
			return inv.State == "settled"
		})
		var after invoiceCreated
		// The site's gRPC connection redials by itself; until it has, the
		// API answers 503, never a half-made invoice.
		eventually(t, time.Minute, "a new invoice made after the restart", func() bool {
			r := s.call(http.MethodPost, "/api/v1/offerings/"+slug+"/donations", "", map[string]any{"amount_msat": 300_000})
			if r.Status != http.StatusCreated && r.Status != http.StatusServiceUnavailable {
				t.Fatalf("donation after the restart: %s", r)
			}
			return r.Status == http.StatusCreated && json.Unmarshal(r.Body, &after) == nil
		})
		e.pay(ctx, after.PaymentRequest)
		s.waitSettled(after.PaymentHash)

		for _, h := range []string{before.PaymentHash, pending.PaymentHash, after.PaymentHash} {
			if n := e.transfers("invoice:" + h); n != 1 {
				t.Errorf("%d transfers invoice:%s, want 1", n, h)
			}
		}
		if got := e.account(ledger.OfferingRunway(id)).CreditsPosted; got != 600_000 {
			t.Errorf("runway credited %d, want 600,000", got)
		}
	})
}

package e2e

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lightningnetwork/lnd/lnrpc"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/funding"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/money"
	"github.com/keepalive/keepalive/internal/sponsor"
	"github.com/keepalive/keepalive/internal/sponsor/clearing"
)

// Sponsorship periods are UTC hours at the shortest, and a test cannot
// wait for one to start. Bids are placed and paid with the real clock;
// then the site is started with KEEPALIVE_REGTEST_CLOCK_SKEW, which moves
// the sponsorship clock (and only it) past the period's start, and the
// site clears the period as it would when the hour turns.

// sponsorshipView is GET /api/v1/offerings/{slug}/sponsorship.
type sponsorshipView struct {
	Enabled bool `json:"enabled"`
	Periods []struct {
		Start string `json:"start"`
		Bids  int    `json:"bids"`
	} `json:"periods"`
}

// enableSponsorship sets an offering's terms (period hour) and returns the
// starts of its open periods that begin at least a few minutes from now,
// so that bids placed in the test do not meet a closing period.
func (s *site) enableSponsorship(slug, key string, slots int, weights []int, reserve money.Msat, open int) []time.Time {
	s.e.t.Helper()
	var view sponsorshipView
	s.must(http.StatusOK, http.MethodPut, "/api/v1/offerings/"+slug+"/sponsorship", key, map[string]any{
		"enabled": true, "slots": slots, "period": "hour", "reserve_msat": reserve, "weights_bps": weights, "open_periods": open,
	}, &view)
	var starts []time.Time
	for _, p := range view.Periods {
		start, err := time.Parse(time.RFC3339, p.Start)
		if err != nil {
			s.e.t.Fatalf("period %q: %v", p.Start, err)
		}
		if time.Until(start) > 5*time.Minute {
			starts = append(starts, start)
		}
	}
	if !view.Enabled || len(starts) < open-1 {
		s.e.t.Fatalf("sponsorship: %+v", view)
	}
	return starts
}

// sponsorBid is one bid as the test knows it.
type sponsorBid struct {
	ID       string // public id
	DBID     int64
	ClaimKey string
	Amount   money.Msat // paid in full
	Hashes   []string   // payment hashes of its invoices
	Name     string
}

type bidPlacedJSON struct {
	BidID          string `json:"bid_id"`
	ClaimKey       string `json:"claim_key"`
	PaymentRequest string `json:"payment_request"`
	PaymentHash    string `json:"payment_hash"`
}

// placeBid bids amount for the period from start; paid says whether the
// payer node pays its invoice (and the test waits until the bid is
// active).
func (s *site) placeBid(ctx context.Context, slug string, start time.Time, amount money.Msat, name string, paid bool) *sponsorBid {
	s.e.t.Helper()
	var p bidPlacedJSON
	s.must(http.StatusCreated, http.MethodPost, "/api/v1/offerings/"+slug+"/periods/"+sponsor.FormatStart(start)+"/bids", "", map[string]any{
		"amount_msat": amount, "display": map[string]string{"name": name, "url": "https://example.com/" + strings.ToLower(name), "tagline": "e2e " + name},
	}, &p)
	if p.BidID == "" || !strings.HasPrefix(p.ClaimKey, sponsor.ClaimKeyPrefix) || !strings.HasPrefix(p.PaymentRequest, "lnbcrt") {
		s.e.t.Fatalf("bid answer: %+v", p)
	}
	b := &sponsorBid{ID: p.BidID, ClaimKey: p.ClaimKey, Hashes: []string{p.PaymentHash}, Name: name}
	if err := s.e.db.Gorm(ctx).Table("sponsor_bids").Select("id").Where("public_id = ?", p.BidID).Scan(&b.DBID).Error; err != nil || b.DBID == 0 {
		s.e.t.Fatalf("bid %s not in the database: %v", p.BidID, err)
	}
	if paid {
		s.e.pay(ctx, p.PaymentRequest)
		s.waitSettled(p.PaymentHash)
		b.Amount = amount
		s.waitBid(b, "active", amount)
	}
	return b
}

// bidView is GET /api/v1/bids/{id}.
type bidView struct {
	State             string       `json:"state"`
	AmountMsat        money.Msat   `json:"amount_msat"`
	Slot              *int         `json:"slot"`
	ChargeMsat        money.Msat   `json:"charge_msat"`
	RefundPayableMsat money.Msat   `json:"refund_payable_msat"`
	Withdrawals       []payoutJSON `json:"withdrawals"`
}

func (s *site) bid(b *sponsorBid) bidView {
	s.e.t.Helper()
	var v bidView
	s.must(http.StatusOK, http.MethodGet, "/api/v1/bids/"+b.ID, b.ClaimKey, nil, &v)
	return v
}

func (s *site) waitBid(b *sponsorBid, state string, amount money.Msat) bidView {
	s.e.t.Helper()
	var v bidView
	eventually(s.e.t, 30*time.Second, fmt.Sprintf("bid %s %s with %d msat", b.ID, state, amount), func() bool {
		v = s.bid(b)
		return v.State == state && v.AmountMsat == amount
	})
	return v
}

// skewFor is the KEEPALIVE_REGTEST_CLOCK_SKEW setting under which a
// period starting at start becomes due for clearing at the real moment
// at: the site clears a period ClearDelay after it starts.
func skewFor(start, at time.Time) string {
	return "KEEPALIVE_REGTEST_CLOCK_SKEW=" + start.Add(sponsor.DefaultClearDelay).Sub(at).Round(time.Millisecond).String()
}

// restartWith stops (SIGTERM) the site if it runs and starts it again
// with base and more settings.
func (s *site) restartWith(base []string, more ...string) {
	s.e.t.Helper()
	s.stop()
	s.extra = append(slices.Clone(base), more...)
	s.start()
}

// periodRecord waits for a period's published clearing record.
func (s *site) periodRecord(slug string, start time.Time) (clearing.Record, []byte) {
	s.e.t.Helper()
	var r apiResult
	path := "/api/v1/offerings/" + slug + "/periods/" + sponsor.FormatStart(start)
	eventually(s.e.t, 60*time.Second, "the record of "+path, func() bool {
		r = s.call(http.MethodGet, path, "", nil)
		return r.Status == http.StatusOK
	})
	var rec clearing.Record
	if err := json.Unmarshal(r.Body, &rec); err != nil {
		s.e.t.Fatalf("record %s: %v", r.Body, err)
	}
	return rec, r.Body
}

// expectedOutcome clears the auction the test knows it made (the bids
// paid, their amounts) with the pure engine; settledAt comes from the
// record only to break ties, which the tests' amounts avoid.
func expectedOutcome(t *testing.T, slots int, weights []int, reserve money.Msat, bids []*sponsorBid, rec clearing.Record) clearing.Outcome {
	t.Helper()
	settled := map[string]time.Time{}
	for _, b := range rec.Bids {
		settled[b.ID] = b.SettledAt
	}
	a := clearing.Auction{Slots: slots, Weights: weights, Reserve: reserve}
	for _, b := range bids {
		if b.Amount > 0 {
			a.Bids = append(a.Bids, clearing.Bid{ID: b.ID, Amount: b.Amount, SettledAt: settled[b.ID]})
		}
	}
	out, err := clearing.Clear(a)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sameOutcome compares a published outcome with the expected one: slots,
// bids, charges and refunds.
func sameOutcome(t *testing.T, what string, got, want clearing.Outcome) {
	t.Helper()
	strip := func(o clearing.Outcome) clearing.Outcome {
		w := make([]clearing.Winner, len(o.Winners))
		for i, x := range o.Winners {
			w[i] = clearing.Winner{Slot: x.Slot, Bid: x.Bid, Charge: x.Charge, Refund: x.Refund}
		}
		return clearing.Outcome{Winners: w, Losers: slices.Clone(o.Losers)}
	}
	g, w := strip(got), strip(want)
	if !slices.Equal(g.Winners, w.Winners) || !slices.Equal(g.Losers, w.Losers) {
		t.Errorf("%s: published winners %+v losers %+v; the engine says winners %+v losers %+v", what, g.Winners, g.Losers, w.Winners, w.Losers)
	}
}

// clearKey is the ledger key of a bid's share of its period's clearing.
func clearKey(offeringID int64, start time.Time, b *sponsorBid) string {
	return fmt.Sprintf("clear:%d:%s:%d", offeringID, sponsor.FormatStart(start), b.DBID)
}

// TestSponsorJourney on real lnd: an owner takes sponsors on an hourly
// period with two unequal slots and a reserve; two investors invest;
// three sponsors bid and pay from the payer node and one raises its bid;
// the period clears (the site restarted with its sponsorship clock past
// the start); the published record is what the engine computes and what
// `keepalive clearing --verify` accepts; the winners' charges are split
// between the investors and the runway after the platform fee; a loser's
// refund and a winner's change are withdrawn to the payer node and
// arrive; the ledger agrees with lnd.
func TestSponsorJourney(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		ctx := testCtx(t, 4*time.Minute)
		base := []string{"KEEPALIVE_PLATFORM_FEE_BPS=100", "KEEPALIVE_CLEARING_INTERVAL=200ms"}
		s := e.startSite(base...)
		slug, key, id := s.createOffering(slowBurn)
		var received []string // payment hashes of the site's invoices paid in this scenario

		// Two investors, 3:1, half of revenue to them, caps far away.
		s.must(http.StatusOK, http.MethodPut, "/api/v1/offerings/"+slug+"/terms", key,
			map[string]any{"share_bps": 5000, "cap_bps": 30000, "min_msat": 1_000_000, "max_msat": 500_000_000}, nil)
		type investment struct {
			InvestmentID   int64  `json:"investment_id"`
			ClaimKey       string `json:"claim_key"`
			PaymentRequest string `json:"payment_request"`
			PaymentHash    string `json:"payment_hash"`
		}
		investors := make([]investment, 2)
		for i, amount := range []money.Msat{30_000_000, 10_000_000} {
			s.must(http.StatusCreated, http.MethodPost, "/api/v1/offerings/"+slug+"/investments", "",
				map[string]any{"amount_msat": amount, "name": fmt.Sprintf("Investor %d", i+1), "public": true}, &investors[i])
			e.pay(ctx, investors[i].PaymentRequest)
			s.waitSettled(investors[i].PaymentHash)
			received = append(received, investors[i].PaymentHash)
		}
		runwayBefore := e.account(ledger.OfferingRunway(id)).CreditsPosted
		if runwayBefore != 40_000_000 {
			t.Fatalf("runway credited %d by the investments", runwayBefore)
		}
		e.checkInvariants()

		// Two slots, the second worth 40% of the first; 1,000-sat reserve.
		const reserve = money.Msat(1_000_000)
		weights := []int{10000, 4000}
		start := s.enableSponsorship(slug, key, 2, weights, reserve, 3)[0]
		ann := s.placeBid(ctx, slug, start, 9_000_000, "Ann", true)
		bob := s.placeBid(ctx, slug, start, 8_000_000, "Bob", true)
		cat := s.placeBid(ctx, slug, start, 3_000_000, "Cat", true)
		e.checkInvariants()

		// Ann raises to 12,000 sats: an invoice for the 3,000 more.
		var raise bidPlacedJSON
		s.must(http.StatusCreated, http.MethodPost, "/api/v1/bids/"+ann.ID+"/raise", ann.ClaimKey, map[string]any{"amount_msat": 12_000_000}, &raise)
		if inv := s.invoice(raise.PaymentHash); inv.AmountMsat != 3_000_000 {
			t.Fatalf("the raise's invoice is for %d msat, want the difference 3,000,000", inv.AmountMsat)
		}
		e.pay(ctx, raise.PaymentRequest)
		s.waitSettled(raise.PaymentHash)
		ann.Amount, ann.Hashes = 12_000_000, append(ann.Hashes, raise.PaymentHash)
		s.waitBid(ann, "active", 12_000_000)
		for _, b := range []*sponsorBid{ann, bob, cat} {
			received = append(received, b.Hashes...)
		}
		if got := e.account(ledger.OfferingEscrow(id)).Balance(); got != 23_000_000 {
			t.Fatalf("escrow holds %d, want the 23,000,000 bid", got)
		}
		// Bob asks to raise to 9,000 sats but pays only after the clearing.
		var bobRaise bidPlacedJSON
		s.must(http.StatusCreated, http.MethodPost, "/api/v1/bids/"+bob.ID+"/raise", bob.ClaimKey, map[string]any{"amount_msat": 9_000_000}, &bobRaise)
		// Sealed: the public view counts the bids, the record waits.
		var view sponsorshipView
		s.must(http.StatusOK, http.MethodGet, "/api/v1/offerings/"+slug+"/sponsorship", "", nil, &view)
		if view.Periods[0].Start != sponsor.FormatStart(start) && view.Periods[1].Start != sponsor.FormatStart(start) {
			t.Fatalf("period %s not open: %+v", sponsor.FormatStart(start), view)
		}
		for _, p := range view.Periods {
			if p.Start == sponsor.FormatStart(start) && p.Bids != 3 {
				t.Errorf("the open period counts %d bids, want 3", p.Bids)
			}
		}
		if r := s.call(http.MethodGet, "/api/v1/offerings/"+slug+"/periods/"+sponsor.FormatStart(start), "", nil); r.Status != http.StatusNotFound {
			t.Fatalf("record before the period: %s", r)
		}
		e.checkInvariants()

		// The hour turns (for sponsorship): the site clears the period.
		skewed := skewFor(start, time.Now())
		s.restartWith(base, skewed)
		skew, err := time.ParseDuration(strings.TrimPrefix(skewed, "KEEPALIVE_REGTEST_CLOCK_SKEW="))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(s.logTail(1<<20), "SPONSORSHIP CLOCK SKEWED") {
			t.Error("no warning in the log that the sponsorship clock is skewed")
		}
		rec, raw := s.periodRecord(slug, start)
		for _, secret := range []string{ann.ClaimKey, ann.Hashes[0], raise.PaymentHash, bob.Hashes[0], cat.ClaimKey} {
			if bytes.Contains(raw, []byte(secret)) {
				t.Fatalf("the record publishes a claim key or payment hash: %s", raw)
			}
		}
		if rec.Slots != 2 || !slices.Equal(rec.Weights, weights) || rec.Reserve != reserve || len(rec.Bids) != 3 {
			t.Fatalf("record terms: %s", raw)
		}
		// By hand: c1 = (10000−4000)·8,000 + (4000−0)·3,000 = 6,000 sats,
		// c2 = 4000·3,000 = 1,200 sats (÷ 10000); Cat loses.
		want := clearing.Outcome{
			Winners: []clearing.Winner{{Slot: 1, Bid: ann.ID, Charge: 6_000_000, Refund: 6_000_000}, {Slot: 2, Bid: bob.ID, Charge: 1_200_000, Refund: 6_800_000}},
			Losers:  []clearing.Loser{{Bid: cat.ID, Refund: 3_000_000}},
		}
		sameOutcome(t, "by hand", rec.Outcome, want)
		sameOutcome(t, "engine", rec.Outcome, expectedOutcome(t, 2, weights, reserve, []*sponsorBid{ann, bob, cat}, rec))
		verify := exec.Command(e.bin, "clearing", "--verify")
		verify.Stdin = bytes.NewReader(raw)
		if out, err := verify.CombinedOutput(); err != nil {
			t.Errorf("keepalive clearing --verify rejects the site's record: %v\n%s", err, out)
		}
		e.checkInvariants()

		// Each bid's outcome, as its sponsor sees it.
		for _, c := range []struct {
			b      *sponsorBid
			state  string
			slot   int
			charge money.Msat
			refund money.Msat
		}{{ann, "won", 1, 6_000_000, 6_000_000}, {bob, "won", 2, 1_200_000, 6_800_000}, {cat, "lost", 0, 0, 3_000_000}} {
			v := s.bid(c.b)
			slot := 0
			if v.Slot != nil {
				slot = *v.Slot
			}
			if v.State != c.state || slot != c.slot || v.ChargeMsat != c.charge || v.RefundPayableMsat != c.refund {
				t.Errorf("%s: %+v, want %s slot %d charge %d refund %d", c.b.Name, v, c.state, c.slot, c.charge, c.refund)
			}
		}

		// Bob's raise, paid after the period cleared, is his to take back
		// whole; the cleared period does not change.
		e.pay(ctx, bobRaise.PaymentRequest)
		s.waitSettled(bobRaise.PaymentHash)
		received = append(received, bobRaise.PaymentHash)
		if v := s.bid(bob); v.State != "won" || v.AmountMsat != 8_000_000 || v.RefundPayableMsat != 6_800_000+1_000_000 {
			t.Errorf("Bob after paying his raise late: %+v, want won, 8,000,000 bid, 7,800,000 refund", v)
		}
		if again, _ := s.periodRecord(slug, start); !slices.Equal(again.Bids, rec.Bids) {
			t.Errorf("the record changed after a late payment: %+v", again.Bids)
		}

		// The money: 1% platform fee, then half of the rest to the
		// investors 3:1, the other half (and nothing else) to the runway.
		fees := money.Msat(60_000 + 12_000)
		revenue := 6_000_000 + 1_200_000 - fees
		toInvestors := map[int]money.Msat{0: 2_227_500 + 445_500, 1: 742_500 + 148_500}
		if got := e.account(ledger.PlatformFees).Balance(); got != fees {
			t.Errorf("platform fees %d, want %d", got, fees)
		}
		if got := e.account(ledger.OfferingEscrow(id)).Balance(); got != 0 {
			t.Errorf("escrow keeps %d after clearing", got)
		}
		if got := e.account(ledger.OfferingRunway(id)).CreditsPosted - runwayBefore; got != revenue-toInvestors[0]-toInvestors[1] || got != revenue/2 {
			t.Errorf("runway credited %d by the sponsorship, want %d", got, revenue/2)
		}
		for i, inv := range investors {
			var v struct {
				PayableMsat money.Msat `json:"payable_msat"`
			}
			s.must(http.StatusOK, http.MethodGet, fmt.Sprintf("/api/v1/investments/%d", inv.InvestmentID), inv.ClaimKey, nil, &v)
			if v.PayableMsat != toInvestors[i] {
				t.Errorf("investor %d: payable %d, want %d", i+1, v.PayableMsat, toInvestors[i])
			}
		}
		for _, w := range []*sponsorBid{ann, bob} {
			k := clearKey(id, start, w)
			for _, key := range []string{k + ":fee", k + ":refund", k + "/runway",
				fmt.Sprintf("%s/investment/%d", k, investors[0].InvestmentID), fmt.Sprintf("%s/investment/%d", k, investors[1].InvestmentID)} {
				if n := e.transfers(key); n != 1 {
					t.Errorf("%d transfers %s, want 1", n, key)
				}
			}
		}
		if n := e.transfers(clearKey(id, start, cat)); n != 1 {
			t.Errorf("%d refunds of the losing bid", n)
		}

		// Shown now (by the sponsorship clock): the winners, in slot order.
		page := s.call(http.MethodGet, "/o/"+slug, "", nil)
		html := string(page.Body)
		iAnn, iBob := strings.Index(html, ">Ann<"), strings.Index(html, ">Bob<")
		if page.Status != http.StatusOK || iAnn < 0 || iBob < iAnn || strings.Contains(html, ">Cat<") || !strings.Contains(html, `rel="sponsored`) {
			t.Errorf("the offering page does not show Ann then Bob as sponsors (HTTP %d)", page.Status)
		}

		// Only sponsorship is skewed: the runway runs out and invoices
		// expire by the wall clock. A bid now, for the next period open by
		// the skewed clock, gets an invoice payable until that period
		// starts (by that clock) and no longer than an hour: from now.
		if st := s.status(slug); st.FundedUntil == nil ||
			st.FundedUntil.Sub(time.Now().Add(time.Duration(st.RunwayMsat)*time.Millisecond)).Abs() > 30*time.Second {
			t.Errorf("funded until %v with %d msat of runway at 1 msat/ms: not by the wall clock", st.FundedUntil, st.RunwayMsat)
		}
		nextStart := sponsor.Hour.Floor(time.Now().Add(skew)).Add(time.Hour)
		var late struct {
			bidPlacedJSON
			ExpiresAt time.Time `json:"expires_at"`
		}
		s.must(http.StatusCreated, http.MethodPost, "/api/v1/offerings/"+slug+"/periods/"+sponsor.FormatStart(nextStart)+"/bids", "", map[string]any{
			"amount_msat": reserve, "display": map[string]string{"name": "Dan", "url": "https://example.com/dan"},
		}, &late)
		wantExpiry := time.Now().Add(min(time.Hour, nextStart.Sub(time.Now().Add(skew))))
		if late.ExpiresAt.Sub(wantExpiry).Abs() > 30*time.Second {
			t.Errorf("a bid invoice made under the skew expires at %v, want about %v", late.ExpiresAt, wantExpiry)
		}
		if inv := e.dbInvoice(late.PaymentHash); inv.ExpiresAt.Sub(wantExpiry).Abs() > 30*time.Second {
			t.Errorf("the bid invoice expires at %v in the database, want about %v", inv.ExpiresAt, wantExpiry)
		}

		// The loser's whole bid and the winner's change go back to the
		// payer node, to the msat.
		for _, c := range []struct {
			b      *sponsorBid
			refund money.Msat
		}{{cat, 3_000_000}, {ann, 6_000_000}} {
			amount := funding.MaxPayable(c.refund)
			bolt11, hash := e.payerInvoice(ctx, &lnrpc.Invoice{ValueMsat: int64(amount), Memo: "refund " + c.b.Name})
			var p payoutJSON
			s.must(http.StatusAccepted, http.MethodPost, "/api/v1/bids/"+c.b.ID+"/withdrawals", c.b.ClaimKey, map[string]string{"destination": bolt11}, &p)
			eventually(t, 60*time.Second, c.b.Name+"'s refund paid", func() bool {
				return e.payerInvoiceState(ctx, hash).State == lnrpc.Invoice_SETTLED
			})
			if inv := e.payerInvoiceState(ctx, hash); money.Msat(inv.AmtPaidMsat) != amount {
				t.Errorf("%s's refund: the payer received %d msat, want %d", c.b.Name, inv.AmtPaidMsat, amount)
			}
			// The view reads the refund's balance and the withdrawals one
			// after the other, so it may catch the payout finished but its
			// fee budget not yet released: wait for both.
			var v bidView
			eventually(t, 30*time.Second, c.b.Name+"'s withdrawal succeeded and its balance settled", func() bool {
				v = s.bid(c.b)
				return len(v.Withdrawals) == 1 && v.Withdrawals[0].State == string(funding.PayoutSucceeded) &&
					v.RefundPayableMsat == c.refund-amount-v.Withdrawals[0].FeeMsat
			})
			if got := e.account(ledger.BidRefund(c.b.DBID)); got.Balance() != c.refund-amount-v.Withdrawals[0].FeeMsat || got.DebitsPending != 0 {
				t.Errorf("%s: refund account balance %d, pending %d; want %d − %d − fee %d", c.b.Name, got.Balance(), got.DebitsPending, c.refund, amount, v.Withdrawals[0].FeeMsat)
			}
			e.checkInvariants()
		}
		// Bob's change and late raise are still his to take.
		if v := s.bid(bob); v.RefundPayableMsat != 7_800_000 || len(v.Withdrawals) != 0 {
			t.Errorf("Bob: %+v", v)
		}

		// The ledger's Lightning account is what lnd says moved.
		e.checkLightningAgainstLND(ctx, received)
		e.checkInvariants()
	})
}

// checkLightningAgainstLND compares the ledger's Lightning account with
// what the site node says it received (the invoices named) and paid.
func (e *env) checkLightningAgainstLND(ctx context.Context, received []string) {
	e.t.Helper()
	var in money.Msat
	for _, hash := range received {
		h, _ := hex.DecodeString(hash)
		inv, err := e.site.LookupInvoice(ctx, &lnrpc.PaymentHash{RHash: h})
		if err != nil || inv.State != lnrpc.Invoice_SETTLED {
			e.t.Fatalf("site's invoice %s: %v, %v", hash, inv.GetState(), err)
		}
		in += money.Msat(inv.AmtPaidMsat)
		if n := e.transfers("invoice:" + hash); n != 1 {
			e.t.Errorf("invoice %s credited %d times", hash, n)
		}
	}
	lndPayments, err := e.site.ListPayments(ctx, &lnrpc.ListPaymentsRequest{IncludeIncomplete: true, MaxPayments: 100_000})
	if err != nil {
		e.t.Fatal(err)
	}
	byHash := map[string][]*lnrpc.Payment{}
	for _, p := range lndPayments.Payments {
		byHash[p.PaymentHash] = append(byHash[p.PaymentHash], p)
	}
	var out money.Msat
	for _, p := range e.payouts() {
		lp := byHash[p.PaymentHash]
		if p.State != funding.PayoutSucceeded || len(lp) != 1 || lp[0].Status != lnrpc.Payment_SUCCEEDED ||
			money.Msat(lp[0].ValueMsat) != p.AmountMsat || money.Msat(lp[0].FeeMsat) != p.FeeMsat {
			e.t.Errorf("payout %s is %s; lnd has %d payments for it: %v", p.PaymentHash, p.State, len(lp), lp)
			continue
		}
		out += p.AmountMsat
	}
	if got := e.account(ledger.Lightning).Balance(); got != out-in {
		e.t.Errorf("lightning account %d, want paid out − paid in = %d − %d", got, out, in)
	}
}

// sponsoredPeriod is one offering's period with bids, as the test made it.
type sponsoredPeriod struct {
	slug       string
	offeringID int64
	start      time.Time
	slots      int
	weights    []int
	bids       []*sponsorBid // paid
	unpaid     *sponsorBid   // placed and never paid, or nil
}

var sponsorReserve = money.MustSats(1000)

// sponsorPeriods lists offerings that take sponsors (one, two or three
// slots) and, on each of their first periods open, three bids paid by the
// payer node; the first period of each also gets a bid never paid. It
// returns the periods' starts, and the offering-periods by start.
func (s *site) sponsorPeriods(ctx context.Context, offerings, periods int) ([]time.Time, map[time.Time][]*sponsoredPeriod) {
	s.e.t.Helper()
	terms := [][]int{{10000}, {10000, 5000}, {10000, 6000, 3000}}
	var starts []time.Time
	byStart := map[time.Time][]*sponsoredPeriod{}
	for o := range offerings {
		slug, key, id := s.createOffering(slowBurn)
		weights := terms[o%len(terms)]
		open := s.enableSponsorship(slug, key, len(weights), weights, sponsorReserve, periods+2)
		if starts == nil {
			starts = open[:periods]
		}
		for j, start := range starts {
			p := &sponsoredPeriod{slug: slug, offeringID: id, start: start, slots: len(weights), weights: weights}
			for k := range 3 {
				amount := money.MustSats(int64(2000 + 1000*k + 100*o + 10*j))
				p.bids = append(p.bids, s.placeBid(ctx, slug, start, amount, fmt.Sprintf("S%d-%d-%d", o, j, k), true))
			}
			if j == 0 {
				p.unpaid = s.placeBid(ctx, slug, start, money.MustSats(50_000), fmt.Sprintf("U%d", o), false)
			}
			byStart[start] = append(byStart[start], p)
		}
	}
	return starts, byStart
}

// clearedCount counts the clearing records of the periods.
func (e *env) clearedCount(ps []*sponsoredPeriod) int {
	e.t.Helper()
	n := 0
	for _, p := range ps {
		var c int64
		if err := e.db.Gorm(context.Background()).Table("sponsor_periods").Where("offering_id = ? AND period_start = ?", p.offeringID, p.start.UTC()).
			Count(&c).Error; err != nil {
			e.t.Fatal(err)
		}
		n += int(c)
	}
	return n
}

// checkClearedOnce checks that every period was cleared exactly once:
// one record, the engine's outcome, one transfer per effect, each refund
// credited once, the escrow empty, the unpaid bid marked so.
func (s *site) checkClearedOnce(ps []*sponsoredPeriod) {
	t := s.e.t
	t.Helper()
	e := s.e
	for _, p := range ps {
		what := fmt.Sprintf("%s at %s", p.slug, sponsor.FormatStart(p.start))
		if n := e.clearedCount([]*sponsoredPeriod{p}); n != 1 {
			t.Errorf("%s: %d records", what, n)
			continue
		}
		rec, _ := s.periodRecord(p.slug, p.start)
		want := expectedOutcome(t, p.slots, p.weights, sponsorReserve, p.bids, rec)
		sameOutcome(t, what, rec.Outcome, want)
		byID := map[string]*sponsorBid{}
		for _, b := range p.bids {
			byID[b.ID] = b
		}
		keys := 0
		refund := func(b *sponsorBid, amount money.Msat) {
			if got := e.account(ledger.BidRefund(b.DBID)).CreditsPosted; got != amount {
				t.Errorf("%s: bid %s refunded %d, want %d", what, b.Name, got, amount)
			}
		}
		for _, w := range want.Winners {
			b, k := byID[w.Bid], clearKey(p.offeringID, p.start, byID[w.Bid])
			if n := e.transfers(k + "/runway"); n != 1 {
				t.Errorf("%s: the charge of %s reached the runway %d times", what, b.Name, n)
			}
			var events int64
			if err := e.db.Gorm(context.Background()).Table("revenue_events").Where("key = ?", k).Count(&events).Error; err != nil || events != 1 {
				t.Errorf("%s: %d revenue events for %s (%v)", what, events, b.Name, err)
			}
			keys++
			if w.Refund > 0 {
				if n := e.transfers(k + ":refund"); n != 1 {
					t.Errorf("%s: %d change transfers to %s", what, n, b.Name)
				}
				keys++
			}
			refund(b, w.Refund)
		}
		for _, l := range want.Losers {
			b := byID[l.Bid]
			if n := e.transfers(clearKey(p.offeringID, p.start, b)); n != 1 {
				t.Errorf("%s: %d refunds of %s", what, n, b.Name)
			}
			keys++
			refund(b, l.Refund)
		}
		var all int64
		prefix := fmt.Sprintf("clear:%d:%s:", p.offeringID, sponsor.FormatStart(p.start))
		if err := e.db.Gorm(context.Background()).Model(&ledger.Transfer{}).Where("key LIKE ?", prefix+"%").Count(&all).Error; err != nil || all != int64(keys) {
			t.Errorf("%s: %d transfers keyed %s…, want %d (%v)", what, all, prefix, keys, err)
		}
		if p.unpaid != nil {
			if v := s.bid(p.unpaid); v.State != "unpaid" || v.RefundPayableMsat != 0 {
				t.Errorf("%s: the bid never paid is %+v", what, v)
			}
		}
	}
	seen := map[int64]bool{}
	for _, p := range ps {
		if !seen[p.offeringID] {
			seen[p.offeringID] = true
			if got := e.account(ledger.OfferingEscrow(p.offeringID)).Balance(); got != 0 {
				t.Errorf("%s: escrow keeps %d", p.slug, got)
			}
		}
	}
}

// TestSponsorClearingSurvivesSIGKILL: periods with paid bids on several
// offerings become due while the site runs, and the site is SIGKILLed at
// moments around the one clearing runs (before it, as soon as a first
// period's record appears, and at delays after), then restarted; period
// after period. In the end every period is cleared exactly once, as the
// engine says, and the ledger holds its invariants after every kill.
func TestSponsorClearingSurvivesSIGKILL(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		ctx := testCtx(t, 6*time.Minute)
		base := []string{"KEEPALIVE_CLEARING_INTERVAL=100ms"}
		s := e.startSite(base...)
		starts, byStart := s.sponsorPeriods(ctx, 4, 3)
		var all []*sponsoredPeriod
		for _, start := range starts {
			all = append(all, byStart[start]...)
		}
		s.stop()
		e.checkInvariants()

		// onFirstRecord is the kill that waits for the first period of a
		// round to be cleared, so that it lands while the others are.
		const onFirstRecord = time.Duration(-1)
		delays := []time.Duration{-20 * time.Millisecond, onFirstRecord, 0, 30 * time.Millisecond, onFirstRecord,
			60 * time.Millisecond, 100 * time.Millisecond, 150 * time.Millisecond, 250 * time.Millisecond, 400 * time.Millisecond}
		landed := map[string]int{}
		for round, start := range starts {
			due := byStart[start]
			// Each round tries the delays from another place in the list,
			// until its periods are cleared (six kills at most).
			for try := 0; try < 6 && e.clearedCount(due) < len(due); try++ {
				d := delays[(3*round+try)%len(delays)]
				dueAt := time.Now().Add(1500 * time.Millisecond)
				s.restartWith(base, skewFor(start, dueAt))
				before := e.clearedCount(all)
				when := d.String() + " after the due moment"
				if d == onFirstRecord {
					when = "on the first record"
					deadline := time.Now().Add(10 * time.Second)
					for e.clearedCount(all) == before && time.Now().Before(deadline) {
						time.Sleep(time.Millisecond)
					}
				} else {
					time.Sleep(time.Until(dueAt.Add(d)))
				}
				s.kill()
				after := e.clearedCount(all)
				switch {
				case after == before:
					landed["before any clearing"]++
				case e.clearedCount(due) < len(due):
					landed["amid clearing"]++
				default:
					landed["after the round's clearing"]++
				}
				t.Logf("round %d, kill %s: %d → %d of %d periods cleared", round, when, before, after, len(all))
				e.checkInvariants()
			}
		}
		t.Logf("kills: %v", landed)
		if landed["amid clearing"] == 0 {
			t.Error("no kill landed while a round's periods were being cleared")
		}

		// Whatever is left clears on the next start, once.
		s.restartWith(base, skewFor(starts[len(starts)-1], time.Now()))
		eventually(t, 60*time.Second, "every period cleared", func() bool { return e.clearedCount(all) == len(all) })
		s.checkClearedOnce(all)
		e.checkInvariants()
	})
}

// TestSponsorClearingTwoReplicas: two replicas on one PostgreSQL schema
// both find the same periods due at the same moment; in each round the
// replica holding the clearing lease is SIGKILLed as soon as a first
// period is cleared, and the other finishes the work. Every period is
// cleared exactly once.
func TestSponsorClearingTwoReplicas(t *testing.T) {
	if os.Getenv("DATABASE_URL") == "" {
		t.Skip("DATABASE_URL is not set: replicas need PostgreSQL")
	}
	e := newEnv(t, db.Postgres)
	ctx := testCtx(t, 6*time.Minute)
	replicaBase := func(i int) []string {
		return []string{"KEEPALIVE_CLEARING_INTERVAL=100ms", fmt.Sprintf("DATABASE_URL=%s&application_name=replica-%d", e.dbURL, i)}
	}
	replicas := []*site{e.startSite(replicaBase(0)...), e.startSite(replicaBase(1)...)}
	starts, byStart := replicas[0].sponsorPeriods(ctx, 4, 2)
	var all []*sponsoredPeriod
	for _, start := range starts {
		all = append(all, byStart[start]...)
	}
	for round, start := range starts {
		dueAt := time.Now().Add(3 * time.Second)
		for i, r := range replicas {
			r.restartWith(replicaBase(i), skewFor(start, dueAt))
		}
		before := e.clearedCount(all)
		eventually(t, 20*time.Second, "a first period cleared", func() bool { return e.clearedCount(all) > before })
		victim := e.leaseHolder(ctx, "sponsor-clearing")
		if victim < 0 {
			victim = round % 2
		}
		replicas[victim].kill()
		t.Logf("round %d: killed replica %d at %d of %d periods cleared", round, victim, e.clearedCount(all), len(all))
		e.checkInvariants()
		eventually(t, 30*time.Second, "the other replica to clear the round", func() bool {
			return e.clearedCount(byStart[start]) == len(byStart[start])
		})
		e.checkInvariants()
	}
	// The killed one comes back to find nothing left to do.
	for _, r := range replicas {
		if !r.running() {
			r.start()
		}
	}
	time.Sleep(500 * time.Millisecond) // a few clearing rounds
	replicas[0].checkClearedOnce(all)
	e.checkInvariants()
}

// TestSponsorBidPaidWhileSiteIsDown: a bid is paid (the site's node
// settles it) while the site is down, before the period starts; the site
// comes back after the start and clears the period. The bid counts: it
// was paid in time, whenever the site heard of it.
func TestSponsorBidPaidWhileSiteIsDown(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		ctx := testCtx(t, 2*time.Minute)
		base := []string{"KEEPALIVE_CLEARING_INTERVAL=100ms"}
		s := e.startSite(base...)
		slug, key, id := s.createOffering(slowBurn)
		start := s.enableSponsorship(slug, key, 1, []int{10000}, sponsorReserve, 3)[0]
		early := s.placeBid(ctx, slug, start, money.MustSats(4000), "Early", true)
		down := s.placeBid(ctx, slug, start, money.MustSats(6000), "Down", false)
		var pr string
		if err := e.db.Gorm(ctx).Table("invoices").Select("payment_request").Where("payment_hash = ?", down.Hashes[0]).Scan(&pr).Error; err != nil || pr == "" {
			t.Fatalf("the bid's invoice: %v", err)
		}
		s.stop()
		e.pay(ctx, pr)
		paidAt := time.Now()
		down.Amount = money.MustSats(6000)
		if inv := e.dbInvoice(down.Hashes[0]); inv.State != funding.InvoiceOpen {
			t.Fatalf("the site credited a payment while down: %s", inv.State)
		}
		// The period starts (by the sponsorship clock) a second after the
		// payment, and clears ClearDelay later.
		time.Sleep(time.Until(paidAt.Add(sponsor.DefaultClearDelay + 2*time.Second)))
		s.restartWith(base, skewFor(start, paidAt.Add(time.Second).Add(sponsor.DefaultClearDelay)))
		rec, raw := s.periodRecord(slug, start)
		if len(rec.Bids) != 2 || len(rec.Winners) != 1 || rec.Winners[0].Bid != down.ID || rec.Winners[0].Charge != money.MustSats(4000) {
			t.Fatalf("the bid paid while the site was down did not count: %s", raw)
		}
		sameOutcome(t, "engine", rec.Outcome, expectedOutcome(t, 1, []int{10000}, sponsorReserve, []*sponsorBid{early, down}, rec))
		if v := s.bid(down); v.State != "won" || v.RefundPayableMsat != money.MustSats(2000) {
			t.Errorf("the bid paid while the site was down: %+v", v)
		}
		if n := e.transfers("invoice:" + down.Hashes[0]); n != 1 {
			t.Errorf("its payment credited %d times", n)
		}
		if got := e.account(ledger.OfferingEscrow(id)).Balance(); got != 0 {
			t.Errorf("escrow keeps %d", got)
		}
		e.checkLightningAgainstLND(ctx, append(slices.Clone(early.Hashes), down.Hashes...))
	})
}

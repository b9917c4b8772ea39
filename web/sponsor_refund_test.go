package web_test

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/funding"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/lightning"
	"github.com/keepalive/keepalive/internal/lightning/demo"
	"github.com/keepalive/keepalive/internal/lnurl"
	"github.com/keepalive/keepalive/internal/money"
)

// sponsorTerms turns sponsorship on for my-site: three weekly slots,
// weights 10000/6000/3000, reserve 1,000 sats (the example).
func (s *site) sponsorTerms(t *testing.T, manageKey string) {
	t.Helper()
	status, body, _ := s.do(t, "PUT", "/api/v1/offerings/my-site/sponsorship",
		`{"enabled":true,"slots":3,"period":"week","reserve_msat":1000000,"weights_bps":[10000,6000,3000],"open_periods":4}`,
		"Authorization", "Bearer "+manageKey)
	if status != 200 {
		t.Fatalf("sponsorship terms: %d %s", status, body)
	}
}

func (s *site) withdrawLinks(t *testing.T) int64 {
	t.Helper()
	var n int64
	if err := s.db.Gorm(context.Background()).Table("withdraw_links").Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSponsorRefundLNURLWithdraw: a bid's refund is taken with a one-time
// LNURL-withdraw code, from the API or the sponsor's page: only with the
// bid's own claim key, only once, only before it expires, to the msat,
// from that bid's refund alone.
func TestSponsorRefundLNURLWithdraw(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s, sp := newSponsorSite(t, d)
		ctx := context.Background()
		_, key := createOffering(t, s, createBody)
		s.sponsorTerms(t, key)
		winner := s.placeBid(t, 10000, "Alpha")
		s.placeBid(t, 8000, "Beta")
		third := s.placeBid(t, 2000, "Gamma")
		bearer := func(b placedBid) []string { return []string{"Authorization", "Bearer " + b.ClaimKey} }
		linkPath := func(b placedBid) string { return "/api/v1/bids/" + b.BidID + "/lnurl-withdraw" }

		// Before clearing an active bid has nothing to refund; other keys
		// are refused; nothing is written.
		for _, bad := range []struct {
			name   string
			header []string
			status int
		}{
			{"nothing to refund yet", bearer(third), 409},
			{"another bid's claim key", bearer(winner), 403},
			{"forged claim key", []string{"Authorization", "Bearer ka_ck_" + strings.Repeat("Z", 43)}, 401},
			{"no claim key", nil, 401},
		} {
			before, links := s.sponsorCounts(t), s.withdrawLinks(t)
			if status, body, _ := s.do(t, "POST", linkPath(third), "", bad.header...); status != bad.status {
				t.Errorf("%s: %d %s, want %d", bad.name, status, body, bad.status)
			}
			if s.sponsorCounts(t) != before || s.withdrawLinks(t) != links {
				t.Errorf("%s wrote", bad.name)
			}
		}

		s.clock.Advance(5 * 24 * time.Hour)
		if n, err := sp.ClearDue(ctx); err != nil || n != 1 {
			t.Fatalf("ClearDue = %d, %v", n, err)
		}
		// Three bids for three slots: all win. Alpha pays
		// 0.4×8,000 + 0.3×2,000 + 0.3×1,000 (reserve) = 4,100 sats; Gamma
		// 0.3×1,000 = 300 sats.
		refunds := map[string]money.Msat{}
		for _, b := range []placedBid{winner, third} {
			bid, err := sp.Authorize(ctx, b.BidID, b.ClaimKey)
			if err != nil {
				t.Fatal(err)
			}
			a, err := s.ledger.Account(ctx, ledger.BidRefund(bid.ID))
			if err != nil {
				t.Fatal(err)
			}
			refunds[b.BidID] = a.Available()
		}
		if refunds[winner.BidID] != 10_000_000-4_100_000 || refunds[third.BidID] != 2_000_000-300_000 {
			t.Fatalf("refunds %v", refunds)
		}

		status, body, _ := s.do(t, "POST", linkPath(third), "", bearer(third)...)
		if status != 201 {
			t.Fatalf("link: %d %s", status, body)
		}
		link := decode(t, body)
		if code, _ := link["lnurl"].(string); !strings.HasPrefix(strings.ToLower(code), "lnurl1") {
			t.Fatalf("link: %s", body)
		}
		path := strings.TrimPrefix(link["url"].(string), s.URL)
		status, body, _ = s.do(t, "GET", path, "")
		params := decode(t, body)
		max := funding.MaxPayable(refunds[third.BidID])
		if status != 200 || params["tag"] != "withdrawRequest" || money.Msat(params["maxWithdrawable"].(float64)) != max ||
			params["defaultDescription"] != "Keepalive: sponsor bid refund" {
			t.Fatalf("params: %d %s", status, body)
		}
		wallet := demo.New(demo.WithClock(s.clock.Now))
		invoice := func(amount money.Msat) string {
			inv, err := wallet.CreateInvoice(ctx, lightning.CreateInvoiceRequest{AmountMsat: amount, Expiry: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			return inv.PaymentRequest
		}
		callback := func(pr string) (int, string) {
			st, b, _ := s.do(t, "GET", path+"/callback?k1="+params["k1"].(string)+"&pr="+url.QueryEscape(pr), "")
			return st, b
		}
		// More than the refund is refused and leaves the code usable.
		if st, b := callback(invoice(max + 1)); st != 409 {
			t.Fatalf("too large: %d %s", st, b)
		}
		pr := invoice(max)
		if st, b := callback(pr); st != 200 || decode(t, b)["status"] != "OK" {
			t.Fatalf("callback: %d %s", st, b)
		}
		if st, b := callback(invoice(1_000)); st != 409 {
			t.Fatalf("replayed code: %d %s", st, b)
		}
		decoded, err := s.node.DecodePaymentRequest(ctx, pr)
		if err != nil {
			t.Fatal(err)
		}
		s.payOut(t, decoded.PaymentHash.String())
		p, err := s.funding.Payout(ctx, decoded.PaymentHash.String())
		if err != nil || p.State != funding.PayoutSucceeded || p.AmountMsat != max || p.OfferingID != nil {
			t.Fatalf("payout: %+v %v", p, err)
		}
		// Gamma's refund paid, to the msat; Alpha's untouched.
		for _, b := range []struct {
			bid  placedBid
			want money.Msat
		}{{third, refunds[third.BidID] - max - p.FeeMsat}, {winner, refunds[winner.BidID]}} {
			_, body, _ := s.do(t, "GET", "/api/v1/bids/"+b.bid.BidID, "", bearer(b.bid)...)
			var got struct {
				Refund money.Msat `json:"refund_payable_msat"`
			}
			decodeInto(t, body, &got)
			if got.Refund != b.want {
				t.Fatalf("bid %s refund payable %d, want %d", b.bid.BidID, got.Refund, b.want)
			}
		}
		// The owner's withdrawals list is the owner's own.
		if list, _ := s.funding.Payouts(ctx, 1, 10); len(list) != 0 {
			t.Fatalf("owner's payouts list a sponsor's refund: %+v", list)
		}

		// The winner's code from its page; it lapses unused.
		br := newBrowser(t, s)
		_, page, _ := br.post("/sponsor", "/sponsor", url.Values{"claim_key": {winner.ClaimKey}})
		if !strings.Contains(page, `data-testid="lnurl-withdraw-button"`) {
			t.Fatalf("no QR button on the winner's page:\n%s", page)
		}
		_, page, _ = br.post("/sponsor", "/sponsor/lnurl-withdraw", url.Values{"claim_key": {winner.ClaimKey}, "bid": {third.BidID}})
		if strings.Contains(page, `data-testid="lnurl-withdraw"`) || !strings.Contains(page, "form-error") {
			t.Fatalf("a code for another bid's refund:\n%s", page)
		}
		status, page, _ = br.post("/sponsor", "/sponsor/lnurl-withdraw", url.Values{"claim_key": {winner.ClaimKey}, "bid": {winner.BidID}})
		m := lnurlInPage.FindStringSubmatch(page)
		if status != 200 || m == nil || !strings.Contains(page, "<svg") {
			t.Fatalf("winner's QR: %d\n%s", status, page)
		}
		u, err := lnurl.Decode(m[1])
		if err != nil {
			t.Fatal(err)
		}
		k1 := u[strings.LastIndex(u, "/")+1:]
		s.clock.Advance(funding.WithdrawLinkTTL)
		if st, b, _ := s.do(t, "GET", "/lnurlw/"+k1+"/callback?k1="+k1+"&pr="+invoice(1_000_000), ""); st != 409 || !strings.Contains(b, "expired") {
			t.Fatalf("expired code: %d %s", st, b)
		}
		s.checkLedger(t)
	})
}

// lnurlInPage finds a page's LNURL-withdraw code in its wallet link.
var lnurlInPage = regexp.MustCompile(`(?i)href="lightning:(lnurl1[0-9a-z]+)"`)

package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/lightning"
	"github.com/keepalive/keepalive/internal/lightning/demo"
	"github.com/keepalive/keepalive/internal/money"
)

// fractionOfSat matches an amount with a sub-sat part as pages used to
// show it ("34,999.941 sats").
var fractionOfSat = regexp.MustCompile(`\d\.\d+\s*sats?\b`)

// People see and enter whole sats; the exact msat stay in the API.
func TestPeopleSeeAndGiveWholeSats(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newSite(t, d)
		_, key := createOffering(t, s, createBody) // 1,000 sats an hour
		payDonation(t, s, `{"amount_msat":777777777,"name":"Big","public":true}`)
		s.clock.Advance(time.Hour + time.Second) // 1,000.277 sats earned
		if _, err := s.offerings.AccrueAll(context.Background()); err != nil {
			t.Fatal(err)
		}
		_, page, _ := s.do(t, "GET", "/o/my-site", "")
		if m := fractionOfSat.FindString(page); m != "" {
			t.Fatalf("the offering page shows %q", m)
		}
		for _, want := range []string{"777,777 sats", "1,000 sats"} {
			if !strings.Contains(page, want) {
				t.Fatalf("the offering page lacks %q", want)
			}
		}
		_, api, _ := s.do(t, "GET", "/api/v1/offerings/my-site", "")
		if !strings.Contains(api, "msat") {
			t.Fatalf("the API lost its msat: %s", api)
		}

		// A custom amount of "1234.5" is refused, and nothing is asked of
		// the node.
		b := newBrowser(t, s)
		var before, after int64
		s.db.Gorm(context.Background()).Table("invoices").Count(&before)
		status, body, _ := b.post("/o/my-site", "/o/my-site/donate", url.Values{"amount": {"custom"}, "custom_amount": {"1234.5"}})
		s.db.Gorm(context.Background()).Table("invoices").Count(&after)
		if status != http.StatusUnprocessableEntity || !strings.Contains(body, "whole number of sats") || after != before {
			t.Fatalf("custom 1234.5: %d, %d→%d invoices", status, before, after)
		}

		// A withdrawal to an invoice without an amount pays whole sats and
		// leaves the remainder.
		wallet := demo.New()
		inv, err := wallet.CreateInvoice(context.Background(), lightning.CreateInvoiceRequest{Memo: "payout", Expiry: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		status, body, _ = s.do(t, "POST", "/api/v1/offerings/my-site/withdrawals", `{"destination":"`+inv.PaymentRequest+`"}`, "Authorization", "Bearer "+key)
		if status != http.StatusAccepted {
			t.Fatalf("withdraw: %d %s", status, body)
		}
		var p map[string]any
		decodeInto(t, body, &p)
		if amount := msatOf(p["amount_msat"]); amount <= 0 || amount%money.MsatPerSat != 0 {
			t.Fatalf("withdrew %d msat, not whole sats", amount)
		}
	})
}

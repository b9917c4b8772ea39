package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/funding"
	"github.com/keepalive/keepalive/internal/lightning"
	"github.com/keepalive/keepalive/internal/notify"
	"github.com/keepalive/keepalive/web"
)

// TestInvoicePageTurnsPaidWhenAnotherReplicaSettles: the page's event
// stream on one replica says "paid" when another replica credits the
// invoice — at once when the notice arrives, and within the re-check
// interval when the notice is lost.
func TestInvoicePageTurnsPaidWhenAnotherReplicaSettles(t *testing.T) {
	defer web.SetInvoiceRecheck(500 * time.Millisecond)()
	for _, c := range []struct {
		name      string
		sharedHub bool
		within    time.Duration
		notAtOnce bool
	}{
		{"notice delivered", true, 400 * time.Millisecond, false},
		{"notice lost", false, 3 * time.Second, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newSite(t, dbtest.SQLite(t))
			hub := notify.Local()
			s.funding.SetHub(hub)
			// The other replica: its own funding service on the same
			// database and node, sharing the hub or not.
			other := funding.New(s.db, s.ledger, s.node, s.offerings, funding.Limits{MinDonation: 1_000, MaxDonation: 10_000_000_000}, nil, s.clock.Now)
			if c.sharedHub {
				other.SetHub(hub)
			}
			createOffering(t, s, createBody)
			_, body, _ := s.do(t, "POST", "/api/v1/offerings/my-site/donations", `{"amount_msat":24000000}`)
			var inv struct {
				PaymentHash string `json:"payment_hash"`
			}
			if err := json.Unmarshal([]byte(body), &inv); err != nil || inv.PaymentHash == "" {
				t.Fatalf("donation: %s", body)
			}

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", s.URL+"/invoices/"+inv.PaymentHash+"/events", nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("event stream: %v %v", resp, err)
			}
			defer resp.Body.Close()
			events := make(chan string, 4)
			go func() {
				sc := bufio.NewScanner(resp.Body)
				for sc.Scan() {
					if ev, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
						events <- ev
					}
				}
				close(events)
			}()
			time.Sleep(100 * time.Millisecond) // the stream is listening

			h, _ := lightning.ParseHash(inv.PaymentHash)
			ni, err := s.node.Pay(ctx, h)
			if err != nil {
				t.Fatal(err)
			}
			settled := time.Now()
			if err := other.Settle(ctx, ni); err != nil {
				t.Fatal(err)
			}
			select {
			case ev := <-events:
				took := time.Since(settled)
				if ev != "paid" || took > c.within {
					t.Fatalf("event %q after %v, want paid within %v", ev, took, c.within)
				}
				if c.notAtOnce && took < 100*time.Millisecond {
					t.Fatalf("paid after %v with no notice: the re-check is not what found it", took)
				}
			case <-ctx.Done():
				t.Fatal("the page never turned paid")
			}
		})
	}
}

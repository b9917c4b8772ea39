package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/keepalive/keepalive/internal/clocktest"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/funding"
	"github.com/keepalive/keepalive/internal/hooks"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/lightning"
	"github.com/keepalive/keepalive/internal/lightning/demo"
	"github.com/keepalive/keepalive/internal/lnurl"
	"github.com/keepalive/keepalive/internal/offering"
	"github.com/keepalive/keepalive/web"
)

// newHookSite is newSite with webhooks, which may call loopback (the
// receivers are httptest servers).
func newHookSite(t testing.TB, d *db.DB) (*site, *hooks.Service) {
	t.Helper()
	c := clocktest.New(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	l := ledger.New(d, c.Now)
	svc := offering.New(d, l, nil, offering.WithClock(c.Now), offering.WithStatusTTL(0))
	node := demo.New(demo.WithClock(c.Now))
	fund := funding.New(d, l, node, svc, funding.Limits{MinDonation: 1_000, MaxDonation: 10_000_000_000}, nil, c.Now)
	wh := hooks.New(d, svc, fund, lnurl.PublicHTTPClient(true), nil, c.Now, hooks.WithAllowPrivate(true))
	s := &site{db: d, offerings: svc, funding: fund, node: node, ledger: l, clock: c}
	s.Server = httptest.NewUnstartedServer(nil)
	srv := web.New(web.Deps{BaseURL: "http://" + s.Listener.Addr().String(), Demo: true, CookieKey: []byte("0123456789abcdef0123456789abcdef"),
		Offerings: svc, Funding: fund, DemoPayer: node, MinDonation: 1_000, MaxDonation: 10_000_000_000,
		InvoiceRate: web.RateLimits{PerClient: 1000, PerClientBurst: 1000, Total: 1000, TotalBurst: 1000},
		Webhooks:    wh})
	s.Config.Handler = srv
	s.Start()
	t.Cleanup(s.Close)
	return s, wh
}

func (s *site) countWebhooks(t *testing.T) int64 {
	t.Helper()
	var n int64
	if err := s.db.Gorm(context.Background()).Table("webhooks").Where("disabled_at IS NULL").Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// payInvoice donates and settles through the node, as a wallet would.
func (s *site) payInvoice(t *testing.T, slug string, amount int64) {
	t.Helper()
	ctx := context.Background()
	inv, err := s.funding.Donate(ctx, funding.DonationRequest{Slug: slug, Amount: moneyMsat(amount)})
	if err != nil {
		t.Fatal(err)
	}
	h, err := lightning.ParseHash(inv.PaymentHash)
	if err != nil {
		t.Fatal(err)
	}
	ni, err := s.node.Pay(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.funding.Settle(ctx, ni); err != nil {
		t.Fatal(err)
	}
}

type webhookResp struct {
	ID               int64    `json:"id"`
	Secret           string   `json:"secret"`
	URL              string   `json:"url"`
	Events           []string `json:"events"`
	RunwayLowSeconds int64    `json:"runway_low_seconds"`
	Deliveries       []struct {
		ID         string          `json:"id"`
		Event      string          `json:"event"`
		State      string          `json:"state"`
		Attempts   int             `json:"attempts"`
		LastStatus int             `json:"last_status"`
		Payload    json.RawMessage `json:"payload"`
		AttemptLog []struct {
			StatusCode int    `json:"status_code"`
			Error      string `json:"error"`
		} `json:"attempt_log"`
	} `json:"deliveries"`
}

func TestAPIWebhooks(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s, wh := newHookSite(t, d)
		_, key := createOffering(t, s, createBody)
		_, otherKey := createOffering(t, s, strings.Replace(createBody, `"my-site"`, `"other-site"`, 1))
		hits := 0
		receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits++
			if hits == 1 {
				w.WriteHeader(http.StatusBadGateway)
			}
		}))
		defer receiver.Close()
		auth := func(k string) []string { return []string{"Authorization", "Bearer " + k} }
		const path = "/api/v1/offerings/my-site/webhooks"

		bad := []struct {
			name   string
			body   string
			key    string
			status int
			field  string
		}{
			{"no key", `{"url":"https://example.org/h","events":["funded"]}`, "", 401, ""},
			{"another owner's key", `{"url":"https://example.org/h","events":["funded"]}`, otherKey, 401, ""},
			{"bad url", `{"url":"not a url","events":["funded"]}`, key, 422, "url"},
			{"plain http", `{"url":"http://example.org/h","events":["funded"]}`, key, 422, "url"},
			{"unknown event", `{"url":"https://example.org/h","events":["funded","exploded"]}`, key, 422, "events"},
			{"no events", `{"url":"https://example.org/h","events":[]}`, key, 422, "events"},
			{"threshold", `{"url":"https://example.org/h","events":["runway_low"],"runway_low_seconds":-5}`, key, 422, "runway_low_seconds"},
			{"unknown field", `{"url":"https://example.org/h","events":["funded"],"secret":"mine"}`, key, 400, ""},
			{"not json", `{"url":`, key, 400, ""},
		}
		for _, c := range bad {
			t.Run(c.name, func(t *testing.T) {
				var hdr []string
				if c.key != "" {
					hdr = auth(c.key)
				}
				status, body, _ := s.do(t, "POST", path, c.body, hdr...)
				if status != c.status {
					t.Fatalf("%d %s, want %d", status, body, c.status)
				}
				var e struct {
					Error struct {
						Fields map[string]string `json:"fields"`
					} `json:"error"`
				}
				json.Unmarshal([]byte(body), &e)
				if c.field != "" && e.Error.Fields[c.field] == "" {
					t.Fatalf("no problem reported for %s: %s", c.field, body)
				}
			})
		}
		if n := s.countWebhooks(t); n != 0 {
			t.Fatalf("bad requests wrote %d webhooks", n)
		}

		status, body, hdr := s.do(t, "POST", path, fmt.Sprintf(`{"url":%q,"events":["funded","expired"],"runway_low_seconds":7200}`, receiver.URL+"/hook"), auth(key)...)
		var created webhookResp
		json.Unmarshal([]byte(body), &created)
		if status != 201 || hdr.Get("Cache-Control") != "no-store" || created.ID == 0 || !strings.HasPrefix(created.Secret, "whsec_") ||
			created.URL != receiver.URL+"/hook" || strings.Join(created.Events, ",") != "funded,expired" || created.RunwayLowSeconds != 7200 {
			t.Fatalf("create: %d %v %s", status, hdr, body)
		}

		s.payInvoice(t, "my-site", 1_000_000)
		ctx := context.Background()
		for range 2 { // the first attempt gets a 502, the retry is due 5 s later
			if err := wh.Detect(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := wh.SendDue(ctx); err != nil {
				t.Fatal(err)
			}
			s.clock.Advance(5 * time.Second)
		}

		status, body, _ = s.do(t, "GET", path, "", auth(key)...)
		var list struct{ Webhooks []webhookResp }
		json.Unmarshal([]byte(body), &list)
		if status != 200 || len(list.Webhooks) != 1 || list.Webhooks[0].Secret != "" || len(list.Webhooks[0].Deliveries) != 1 {
			t.Fatalf("list: %d %s", status, body)
		}
		dl := list.Webhooks[0].Deliveries[0]
		if dl.Event != "funded" || dl.State != "delivered" || dl.Attempts != 2 || dl.LastStatus != 200 || !strings.HasPrefix(dl.ID, "msg_") ||
			len(dl.AttemptLog) != 2 || dl.AttemptLog[1].StatusCode != 502 || dl.AttemptLog[1].Error == "" || !strings.Contains(string(dl.Payload), `"type":"funded"`) {
			t.Fatalf("delivery: %s", body)
		}
		if status, body, _ := s.do(t, "GET", path, "", auth(otherKey)...); status != 401 {
			t.Fatalf("list with another owner's key: %d %s", status, body)
		}
		if status, body, _ := s.do(t, "GET", "/api/v1/offerings/other-site/webhooks", "", auth(otherKey)...); status != 200 || !strings.Contains(body, `"webhooks":[]`) {
			t.Fatalf("the other owner sees none of it: %d %s", status, body)
		}

		id := fmt.Sprint(created.ID)
		if status, body, _ := s.do(t, "DELETE", "/api/v1/offerings/other-site/webhooks/"+id, "", auth(otherKey)...); status != 404 {
			t.Fatalf("delete another owner's webhook: %d %s", status, body)
		}
		if status, body, _ := s.do(t, "DELETE", "/api/v1/offerings/my-site/webhooks/nope", "", auth(key)...); status != 404 {
			t.Fatalf("delete a malformed id: %d %s", status, body)
		}
		if status, body, _ := s.do(t, "DELETE", "/api/v1/offerings/my-site/webhooks/"+id, "", auth(key)...); status != 204 {
			t.Fatalf("delete: %d %s", status, body)
		}
		if n := s.countWebhooks(t); n != 0 {
			t.Fatalf("%d webhooks after delete", n)
		}

		for i := range hooks.MaxPerOffering + 1 {
			status, body, _ := s.do(t, "POST", path, `{"url":"https://example.org/h","events":["funded"]}`, auth(key)...)
			want := 201
			if i == hooks.MaxPerOffering {
				want = 409
			}
			if status != want {
				t.Fatalf("webhook %d: %d %s, want %d", i+1, status, body, want)
			}
		}
	})
}

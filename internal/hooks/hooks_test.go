package hooks_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"github.com/keepalive/keepalive/internal/clocktest"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/funding"
	"github.com/keepalive/keepalive/internal/hooks"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/lightning"
	"github.com/keepalive/keepalive/internal/lightning/demo"
	"github.com/keepalive/keepalive/internal/lnurl"
	"github.com/keepalive/keepalive/internal/money"
	"github.com/keepalive/keepalive/internal/offering"
)

// env is a site without HTTP: offerings, funding on the demo node, and a
// webhook service, all on one fake clock.
type env struct {
	d         *db.DB
	clock     *clocktest.Clock
	offerings *offering.Service
	funding   *funding.Service
	node      *demo.Node
	hooks     *hooks.Service
	offering  offering.Offering
}

const (
	burnRate = 1_000_000 // msat an hour: 1,000 sats
	grace    = time.Hour
)

func newEnv(t *testing.T, d *db.DB) *env {
	t.Helper()
	c := clocktest.New(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	l := ledger.New(d, c.Now)
	svc := offering.New(d, l, nil, offering.WithClock(c.Now), offering.WithStatusTTL(0))
	node := demo.New(demo.WithClock(c.Now))
	fund := funding.New(d, l, node, svc, funding.Limits{MinDonation: 1_000, MaxDonation: 10_000_000_000}, nil, c.Now)
	name, slug, u, rate, g := "My site", "my-site", "https://example.org", money.Msat(burnRate), int64(grace/time.Second)
	o, _, err := svc.Create(context.Background(), offering.Input{Name: &name, Slug: &slug, URL: &u, BurnRateMsatPerHour: &rate, GraceSeconds: &g})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{d: d, clock: c, offerings: svc, funding: fund, node: node, offering: o}
	e.hooks = e.restart()
	return e
}

// restart returns a new webhook service on the same database, as after
// the site restarts.
func (e *env) restart(opts ...hooks.Option) *hooks.Service {
	opts = append([]hooks.Option{hooks.WithAllowPrivate(true)}, opts...)
	return hooks.New(e.d, e.offerings, e.funding, lnurl.PublicHTTPClient(true), nil, e.clock.Now, opts...)
}

// settle pays an invoice the site issued, as the settlement stream
// would report it.
func (e *env) settle(t *testing.T, paymentHash string) {
	t.Helper()
	ctx := context.Background()
	h, err := lightning.ParseHash(paymentHash)
	if err != nil {
		t.Fatal(err)
	}
	ni, err := e.node.Pay(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.funding.Settle(ctx, ni); err != nil {
		t.Fatal(err)
	}
}

// pay donates amount and settles it as the node reports it.
func (e *env) pay(t *testing.T, amount money.Msat) funding.Invoice {
	t.Helper()
	ctx := context.Background()
	inv, err := e.funding.Donate(ctx, funding.DonationRequest{Slug: e.offering.Slug, Amount: amount})
	if err != nil {
		t.Fatal(err)
	}
	e.settle(t, inv.PaymentHash)
	inv, err = e.funding.Invoice(ctx, inv.PaymentHash)
	if err != nil || inv.State != funding.InvoiceSettled {
		t.Fatalf("invoice after settle: %+v %v", inv, err)
	}
	return inv
}

// round is one turn of Run: detect, then send what is due.
func round(t *testing.T, s *hooks.Service) int {
	t.Helper()
	ctx := context.Background()
	if err := s.Detect(ctx); err != nil {
		t.Fatal(err)
	}
	n, err := s.SendDue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// message is what the receiver got, after checking the signature itself.
type message struct {
	id, timestamp string
	payload       hooks.Payload
	raw           map[string]any
}

// receiver is a host's endpoint. It verifies the Standard Webhooks
// signature with its own code, not the package's, and answers 500 to the
// first failures requests.
type receiver struct {
	*httptest.Server
	t        *testing.T
	mu       sync.Mutex
	secret   string
	failures int
	got      []message // accepted messages
	requests int
	ids      []string // webhook-id of every request
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{t: t}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests++
	id, ts, sig := req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp"), req.Header.Get("webhook-signature")
	r.ids = append(r.ids, id)
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(r.secret, "whsec_"))
	if err != nil || len(key) < 24 {
		r.t.Errorf("receiver: secret %q is not whsec_<base64> of at least 24 bytes", r.secret)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "." + string(body)))
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if !strings.HasPrefix(id, "msg_") || sig != want || req.Method != http.MethodPost ||
		req.Header.Get("Content-Type") != "application/json" {
		r.t.Errorf("receiver: bad message %s %q ts %q sig %q, want %q", req.Method, id, ts, sig, want)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if r.failures > 0 {
		r.failures--
		http.Error(w, "down", http.StatusInternalServerError)
		return
	}
	m := message{id: id, timestamp: ts}
	if err := json.Unmarshal(body, &m.payload); err != nil {
		r.t.Errorf("receiver: payload %s: %v", body, err)
	}
	json.Unmarshal(body, &m.raw)
	r.got = append(r.got, m)
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) messages() []message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]message(nil), r.got...)
}

func types(ms []message) string {
	var s []string
	for _, m := range ms {
		s = append(s, string(m.payload.Type))
	}
	return strings.Join(s, ",")
}

func subscribe(t *testing.T, e *env, s *hooks.Service, r *receiver, events []string, lowSeconds *int64) hooks.Webhook {
	t.Helper()
	w, secret, err := s.Create(context.Background(), e.offering.ID, hooks.CreateRequest{URL: r.URL + "/hook", Events: events, RunwayLowSeconds: lowSeconds})
	if err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	r.secret = secret
	r.mu.Unlock()
	return w
}

var allEvents = []string{"funded", "runway_low", "expired", "revived"}

func TestLifecycle(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		r := newReceiver(t)
		low := int64(2 * 3600)
		subscribe(t, e, e.hooks, r, allEvents, &low)

		if n := round(t, e.hooks); n != 0 || r.requests != 0 {
			t.Fatalf("never funded: %d sent, %d requests", n, r.requests)
		}

		start := e.clock.Now()
		inv := e.pay(t, 24*burnRate) // a day of runway
		fundedUntil := start.Add(24 * time.Hour)
		if err := e.hooks.Credited(context.Background(), inv); err != nil {
			t.Fatal(err)
		}
		if n, err := e.hooks.SendDue(context.Background()); err != nil || n != 1 {
			t.Fatalf("funded: %d sent, %v", n, err)
		}
		ms := r.messages()
		if types(ms) != "funded" {
			t.Fatalf("after the first payment got %q, want funded only (nothing was revived)", types(ms))
		}
		f := ms[0].payload
		if f.Data.Offering != "my-site" || f.Data.State != "alive" || f.Data.AmountMsat == nil || *f.Data.AmountMsat != 24*burnRate ||
			f.Data.PaymentHash != inv.PaymentHash || f.Data.FundedUntil == nil || *f.Data.FundedUntil != fundedUntil.Format(time.RFC3339) ||
			f.Data.RunwaySeconds != 24*3600 || f.Timestamp != start.Format(time.RFC3339) {
			t.Fatalf("funded payload %+v %+v", f, f.Data)
		}
		if ms[0].timestamp != strconv.FormatInt(start.Unix(), 10) {
			t.Fatalf("webhook-timestamp %s, want %d", ms[0].timestamp, start.Unix())
		}

		step := func(name string, advance time.Duration, want string) {
			t.Helper()
			e.clock.Advance(advance)
			round(t, e.hooks)
			round(t, e.hooks) // a second run changes nothing
			if got := types(r.messages()); got != want {
				t.Fatalf("%s: got %q, want %q", name, got, want)
			}
		}
		step("a day of runway is not low", 12*time.Hour, "funded")
		step("runway below 2 h", 10*time.Hour+time.Minute, "funded,runway_low")
		step("runway_low is sent once", 30*time.Minute, "funded,runway_low")
		step("grace sends nothing", 2*time.Hour, "funded,runway_low")
		step("past the grace period", time.Hour, "funded,runway_low,expired")

		exp := r.messages()[2].payload
		if exp.Data.State != "expired" || exp.Data.RunwaySeconds != 0 || exp.Timestamp != fundedUntil.Add(grace).Format(time.RFC3339) {
			t.Fatalf("expired payload %+v %+v, want timestamp %s", exp, exp.Data, fundedUntil.Add(grace))
		}
		st, err := e.offerings.Status(context.Background(), "my-site")
		if err != nil || st.State != offering.Expired {
			t.Fatalf("status %+v %v", st, err)
		}

		// Paid again; the credit is not fed to Credited: the detector's
		// catch-up finds it.
		second := e.pay(t, 10*burnRate)
		step("paid again", 0, "funded,runway_low,expired,funded,revived")
		ms = r.messages()
		if ms[3].payload.Data.PaymentHash != second.PaymentHash || ms[4].payload.Data.State != "alive" || ms[4].payload.Data.RunwaySeconds != 10*3600 {
			t.Fatalf("revival payloads %+v / %+v", ms[3].payload.Data, ms[4].payload.Data)
		}
		seen := map[string]bool{}
		for _, m := range ms {
			if seen[m.id] {
				t.Fatalf("message id %s used twice", m.id)
			}
			seen[m.id] = true
		}

		list, err := e.hooks.List(context.Background(), e.offering.ID, 20)
		if err != nil || len(list) != 1 || len(list[0].Deliveries) != 5 {
			t.Fatalf("list %+v %v", list, err)
		}
		for _, dl := range list[0].Deliveries {
			if dl.State != hooks.Delivered || dl.Attempts != 1 || len(dl.Log) != 1 || dl.Log[0].StatusCode != 204 || dl.LastStatus != 204 {
				t.Fatalf("delivery %+v", dl)
			}
		}
		if list[0].Deliveries[0].Event != hooks.Revived {
			t.Fatalf("newest delivery first: %s", list[0].Deliveries[0].Event)
		}
	})
}

func TestRetriesAreLogged(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		r := newReceiver(t)
		subscribe(t, e, e.hooks, r, []string{"funded"}, nil)
		r.failures = 2
		e.pay(t, burnRate)

		steps := []struct {
			advance   time.Duration
			requests  int
			delivered int
		}{
			{0, 1, 0},
			{4 * time.Second, 1, 0}, // not due yet: the first wait is 5 s
			{time.Second, 2, 0},
			{29 * time.Second, 2, 0},
			{time.Second, 3, 1},
			{48 * time.Hour, 3, 0}, // delivered: never sent again
		}
		for i, s := range steps {
			e.clock.Advance(s.advance)
			n := round(t, e.hooks)
			if r.requests != s.requests || n != s.delivered {
				t.Fatalf("step %d: %d requests, %d delivered; want %d, %d", i, r.requests, n, s.requests, s.delivered)
			}
		}
		if len(r.messages()) != 1 || r.ids[0] != r.ids[1] || r.ids[1] != r.ids[2] {
			t.Fatalf("accepted %d messages, ids %v: want one message retried under one id", len(r.messages()), r.ids)
		}
		recent, err := e.hooks.Recent(context.Background(), e.offering.ID, 10)
		if err != nil || len(recent) != 1 {
			t.Fatalf("recent %+v %v", recent, err)
		}
		dl := recent[0]
		if dl.State != hooks.Delivered || dl.Attempts != 3 || dl.LastStatus != 204 || dl.LastError != "" || dl.DeliveredAt == nil || len(dl.Log) != 3 {
			t.Fatalf("delivery %+v", dl)
		}
		for i, want := range []int{204, 500, 500} { // newest first
			if dl.Log[i].StatusCode != want || (want == 500) != strings.Contains(dl.Log[i].Error, "500") {
				t.Fatalf("attempt %d: %+v, want status %d", i, dl.Log[i], want)
			}
		}
	})
}

func TestGivesUpAfterADay(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		r := newReceiver(t)
		subscribe(t, e, e.hooks, r, []string{"funded"}, nil)
		r.failures = 1 << 30
		e.pay(t, burnRate)
		start := e.clock.Now()
		round(t, e.hooks)
		for _, wait := range hooks.Backoff {
			e.clock.Advance(wait)
			round(t, e.hooks)
		}
		e.clock.Advance(48 * time.Hour)
		round(t, e.hooks)
		recent, err := e.hooks.Recent(context.Background(), e.offering.ID, 10)
		if err != nil || len(recent) != 1 {
			t.Fatal(recent, err)
		}
		span := e.clock.Now().Sub(start) - 48*time.Hour
		if r.requests != len(hooks.Backoff)+1 || recent[0].State != hooks.Failed || recent[0].Attempts != r.requests ||
			span < 23*time.Hour || span > 25*time.Hour {
			t.Fatalf("%d requests over %s, delivery %+v", r.requests, span, recent[0])
		}
	})
}

func TestExpiryWhileDownIsDeliveredOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		r := newReceiver(t)
		subscribe(t, e, e.hooks, r, []string{"expired", "revived"}, nil)
		e.pay(t, 2*burnRate) // two hours
		round(t, e.hooks)
		if r.requests != 0 {
			t.Fatalf("%d requests before expiry", r.requests)
		}

		// The site is down for a day; the offering expires meanwhile. Two
		// replicas come back at once.
		e.clock.Advance(24 * time.Hour)
		a, b := e.restart(), e.restart()
		var wg sync.WaitGroup
		for _, s := range []*hooks.Service{a, b, a, b} {
			wg.Go(func() {
				if err := s.Detect(context.Background()); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		round(t, a)
		round(t, b)
		if got := types(r.messages()); got != "expired" {
			t.Fatalf("after restart got %q, want one expired", got)
		}
	})
}

// TestRunFollowsCredits wires the service as main.go does: Run with
// funding's Subscribe channel.
func TestRunFollowsCredits(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		r := newReceiver(t)
		s := e.restart(hooks.WithPollInterval(time.Hour)) // only the credit can wake it
		subscribe(t, e, s, r, []string{"funded"}, nil)
		ctx, cancel := context.WithCancel(context.Background())
		credited, stop := e.funding.Subscribe()
		defer stop()
		done := make(chan struct{})
		go func() { s.Run(ctx, credited); close(done) }()
		defer func() { cancel(); <-done }()

		time.Sleep(50 * time.Millisecond) // let the first round pass
		inv := e.pay(t, burnRate)
		deadline := time.Now().Add(5 * time.Second)
		for len(r.messages()) == 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		ms := r.messages()
		if len(ms) != 1 || ms[0].payload.Data.PaymentHash != inv.PaymentHash {
			t.Fatalf("got %+v", ms)
		}
	})
}

func TestCreateValidates(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		public := hooks.New(d, e.offerings, e.funding, lnurl.PublicHTTPClient(false), nil, e.clock.Now)
		n := func(v int64) *int64 { return &v }
		bad := []struct {
			name  string
			req   hooks.CreateRequest
			field string
		}{
			{"no url", hooks.CreateRequest{Events: []string{"funded"}}, "url"},
			{"not a url", hooks.CreateRequest{URL: "hook me", Events: []string{"funded"}}, "url"},
			{"ftp", hooks.CreateRequest{URL: "ftp://example.org/x", Events: []string{"funded"}}, "url"},
			{"plain http", hooks.CreateRequest{URL: "http://example.org/x", Events: []string{"funded"}}, "url"},
			{"credentials", hooks.CreateRequest{URL: "https://a:b@example.org/x", Events: []string{"funded"}}, "url"},
			{"loopback", hooks.CreateRequest{URL: "http://127.0.0.1:8080/x", Events: []string{"funded"}}, "url"},
			{"localhost", hooks.CreateRequest{URL: "https://localhost/x", Events: []string{"funded"}}, "url"},
			{"private", hooks.CreateRequest{URL: "https://10.1.2.3/x", Events: []string{"funded"}}, "url"},
			{"metadata", hooks.CreateRequest{URL: "https://169.254.169.254/latest", Events: []string{"funded"}}, "url"},
			{"no events", hooks.CreateRequest{URL: "https://example.org/x"}, "events"},
			{"unknown event", hooks.CreateRequest{URL: "https://example.org/x", Events: []string{"funded", "exploded"}}, "events"},
			{"threshold too small", hooks.CreateRequest{URL: "https://example.org/x", Events: []string{"runway_low"}, RunwayLowSeconds: n(1)}, "runway_low_seconds"},
			{"threshold too large", hooks.CreateRequest{URL: "https://example.org/x", Events: []string{"runway_low"}, RunwayLowSeconds: n(1 << 40)}, "runway_low_seconds"},
		}
		for _, c := range bad {
			t.Run(c.name, func(t *testing.T) {
				_, _, err := public.Create(ctx, e.offering.ID, c.req)
				if !apperr.Is(err, apperr.Unprocessable) || apperr.FieldsOf(err)[c.field] == "" {
					t.Fatalf("%v (fields %v), want a problem with %s", err, apperr.FieldsOf(err), c.field)
				}
			})
		}
		var count int64
		if err := d.Gorm(context.Background()).Table("webhooks").Count(&count).Error; err != nil || count != 0 {
			t.Fatalf("%d webhooks written by bad requests (%v)", count, err)
		}

		w, secret, err := public.Create(ctx, e.offering.ID, hooks.CreateRequest{URL: "https://example.org/x", Events: []string{"expired", "funded", "expired"}})
		if err != nil || !strings.HasPrefix(secret, hooks.SecretPrefix) || strings.Join([]string{string(w.Events[0]), string(w.Events[1])}, ",") != "expired,funded" ||
			len(w.Events) != 2 || w.RunwayLowSeconds != hooks.DefaultRunwayLowSeconds || w.LastState != "none" {
			t.Fatalf("%+v %q %v", w, secret, err)
		}
		for i := 1; i < hooks.MaxPerOffering; i++ {
			if _, _, err := public.Create(ctx, e.offering.ID, hooks.CreateRequest{URL: "https://example.org/x", Events: []string{"funded"}}); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := public.Create(ctx, e.offering.ID, hooks.CreateRequest{URL: "https://example.org/y", Events: []string{"funded"}}); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("sixth webhook: %v", err)
		}
		if err := public.Delete(ctx, e.offering.ID+1, w.ID); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("delete through another offering: %v", err)
		}
		if err := public.Delete(ctx, e.offering.ID, w.ID); err != nil {
			t.Fatal(err)
		}
		if err := public.Delete(ctx, e.offering.ID, w.ID); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("second delete: %v", err)
		}
		if _, _, err := public.Create(ctx, e.offering.ID, hooks.CreateRequest{URL: "https://example.org/y", Events: []string{"funded"}}); err != nil {
			t.Fatalf("after a delete there is room again: %v", err)
		}
	})
}

// TestDeletedWebhookStopsSending: pending messages of a deleted webhook
// are not sent.
func TestDeletedWebhookStopsSending(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		r := newReceiver(t)
		w := subscribe(t, e, e.hooks, r, []string{"funded"}, nil)
		r.failures = 1
		e.pay(t, burnRate)
		round(t, e.hooks)
		if err := e.hooks.Delete(context.Background(), e.offering.ID, w.ID); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Minute)
		round(t, e.hooks)
		if r.requests != 1 {
			t.Fatalf("%d requests, want only the one before the delete", r.requests)
		}
	})
}

// TestPublicClientRefusesLoopback: with private addresses refused, a URL
// that reaches loopback anyway (say, a name pointing at 127.0.0.1) is not
// called; the attempt is logged as failed.
func TestPublicClientRefusesLoopback(t *testing.T) {
	d := dbtest.SQLite(t)
	e := newEnv(t, d)
	r := newReceiver(t)
	subscribe(t, e, e.hooks, r, []string{"funded"}, nil)
	s := hooks.New(d, e.offerings, e.funding, lnurl.PublicHTTPClient(false), nil, e.clock.Now)
	e.pay(t, burnRate)
	if n := round(t, s); n != 0 || r.requests != 0 {
		t.Fatalf("%d delivered, %d requests to loopback", n, r.requests)
	}
	recent, err := s.Recent(context.Background(), e.offering.ID, 10)
	if err != nil || len(recent) != 1 || recent[0].Attempts != 1 || !strings.Contains(recent[0].LastError, "not public") {
		t.Fatalf("%+v %v", recent, err)
	}
}

func TestVerify(t *testing.T) {
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	body := []byte(`{"type":"funded"}`)
	now := time.Unix(1_700_000_000, 0)
	sig, err := hooks.Sign(secret, "msg_1", now.Unix(), body)
	if err != nil {
		t.Fatal(err)
	}
	header := func(id string, ts int64, sig string) http.Header {
		h := http.Header{}
		h.Set("webhook-id", id)
		h.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
		h.Set("webhook-signature", sig)
		return h
	}
	cases := []struct {
		name  string
		h     http.Header
		body  []byte
		later time.Duration
		ok    bool
	}{
		{"good", header("msg_1", now.Unix(), sig), body, 0, true},
		{"one of several", header("msg_1", now.Unix(), "v1,AAAA "+sig), body, 0, true},
		{"other body", header("msg_1", now.Unix(), sig), []byte(`{"type":"expired"}`), 0, false},
		{"other id", header("msg_2", now.Unix(), sig), body, 0, false},
		{"replayed later", header("msg_1", now.Unix(), sig), body, 10 * time.Minute, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := hooks.Verify(secret, c.h, c.body, now.Add(c.later), 5*time.Minute); (err == nil) != c.ok {
				t.Fatalf("verify: %v, want ok=%v", err, c.ok)
			}
		})
	}
}

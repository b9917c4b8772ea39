package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keepalive/keepalive/internal/money"
)

// receiver is the host's webhook endpoint. It verifies Standard Webhooks
// signatures with its own code, as a host would, not the site's.
type receiver struct {
	*httptest.Server
	t      *testing.T
	secret []byte
	mu     sync.Mutex
	got    []webhookEvent
}

type webhookEvent struct {
	Type string `json:"type"`
	Data struct {
		Offering    string  `json:"offering"`
		State       string  `json:"state"`
		FundedUntil *string `json:"funded_until"`
	} `json:"data"`
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{t: t}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		id, ts, sigs := req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp"), req.Header.Get("webhook-signature")
		r.mu.Lock()
		defer r.mu.Unlock()
		mac := hmac.New(sha256.New, r.secret)
		mac.Write([]byte(id + "." + ts + "." + string(body)))
		want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
		ok := false
		for _, s := range strings.Fields(sigs) {
			ok = ok || hmac.Equal([]byte(s), []byte(want))
		}
		if !ok || id == "" || ts == "" {
			t.Errorf("webhook %s: signature %q does not verify", id, sigs)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var ev webhookEvent
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Errorf("webhook body: %v: %s", err, body)
		}
		r.got = append(r.got, ev)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) types() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, ev := range r.got {
		out = append(out, ev.Type)
	}
	return out
}

func (r *receiver) has(typ string) bool {
	for _, t := range r.types() {
		if t == typ {
			return true
		}
	}
	return false
}

// TestWebhooksOnRealLightning: a donation paid on regtest delivers
// "funded"; when the runway runs out "expired" is delivered and the status
// and the signed token say expired; paying again delivers "revived".
func TestWebhooksOnRealLightning(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		ctx := testCtx(t, 2*time.Minute)
		s := e.startSite()
		// 1 sat a second, no grace: 4 sats of runway last 4 seconds.
		slug, key, _ := s.createOffering(3_600_000)
		s.must(http.StatusOK, http.MethodPatch, "/api/v1/offerings/"+slug, key, map[string]any{"grace_seconds": 0}, nil)
		rcv := newReceiver(t)
		var hook struct {
			ID     any    `json:"id"`
			Secret string `json:"secret"`
		}
		s.must(http.StatusCreated, http.MethodPost, "/api/v1/offerings/"+slug+"/webhooks", key,
			map[string]any{"url": rcv.URL, "events": []string{"funded", "expired", "revived"}}, &hook)
		secret, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(hook.Secret, "whsec_"))
		if err != nil || len(secret) == 0 {
			t.Fatalf("webhook secret %q: %v", hook.Secret, err)
		}
		rcv.mu.Lock()
		rcv.secret = secret
		rcv.mu.Unlock()

		t.Cleanup(func() {
			if t.Failed() {
				r := s.call(http.MethodGet, "/api/v1/offerings/"+slug+"/webhooks", key, nil)
				t.Logf("webhooks and deliveries: %s", r)
			}
		})
		inv := s.donate(slug, money.Msat(4_000), "")
		e.pay(ctx, inv.PaymentRequest)
		s.waitSettled(inv.PaymentHash)
		eventually(t, 30*time.Second, "the funded webhook", func() bool { return rcv.has("funded") })

		eventually(t, 40*time.Second, "the expired webhook", func() bool { return rcv.has("expired") })
		if st := s.status(slug); st.State != "expired" || st.Alive {
			t.Fatalf("status after expiry: %+v", st)
		}
		var tok struct{ Token string }
		s.must(http.StatusOK, http.MethodGet, "/api/v1/offerings/"+slug+"/token", "", nil, &tok)
		parts := strings.Split(tok.Token, ".")
		if len(parts) != 3 {
			t.Fatalf("token %q", tok.Token)
		}
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		if !strings.Contains(string(payload), `"state":"expired"`) {
			t.Fatalf("token claims after expiry: %s", payload)
		}

		again := s.donate(slug, money.Msat(60_000), "")
		e.pay(ctx, again.PaymentRequest)
		eventually(t, 30*time.Second, "the revived webhook", func() bool { return rcv.has("revived") })
		if st := s.status(slug); st.State != "alive" {
			t.Fatalf("status after paying again: %+v", st)
		}
		t.Logf("webhooks delivered: %v", rcv.types())
	})
}

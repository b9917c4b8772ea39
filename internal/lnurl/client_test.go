package lnurl

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/money"
)

// fakeService is an LNURL service on loopback, scripted per test.
type fakeService struct {
	srv *httptest.Server
	mux *http.ServeMux

	mu        sync.Mutex
	callbacks []string // raw query of each pay/withdraw/auth callback hit
}

func newFakeService(t *testing.T) *fakeService {
	t.Helper()
	f := &fakeService{mux: http.NewServeMux()}
	f.srv = httptest.NewServer(f.mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeService) handleJSON(path string, body func(r *http.Request) any) {
	f.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.callbacks = append(f.callbacks, r.URL.RawQuery)
		f.mu.Unlock()
		// A status code that means nothing: LUD-01 says ignore them.
		w.WriteHeader(http.StatusTeapot)
		_ = json.NewEncoder(w).Encode(body(r))
	})
}

func (f *fakeService) hits() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.callbacks...)
}

func (f *fakeService) payParams(mod func(*PayParams)) PayParams {
	p := PayParams{
		Callback:       f.srv.URL + "/cb/alice?token=a%2Fb",
		MinSendable:    1000,
		MaxSendable:    5_000_000,
		Metadata:       BuildMetadata("Keep alice alive", "alice@"+f.srv.Listener.Addr().String(), ""),
		Tag:            TagPayRequest,
		CommentAllowed: 10,
	}
	if mod != nil {
		mod(&p)
	}
	return p
}

func TestPayFlow(t *testing.T) {
	f := newFakeService(t)
	params := f.payParams(nil)
	f.handleJSON("/.well-known/lnurlp/alice", func(*http.Request) any { return params })
	f.handleJSON("/cb/alice", func(r *http.Request) any {
		if r.URL.Query().Get("token") != "a/b" {
			return NewErrorResponse("lost token")
		}
		sa, _ := URLAction("Your receipt", f.srv.URL+"/receipt/1")
		return PayCallbackResponse{PR: "lnbcrt50u1fake", SuccessAction: sa}
	})

	addr, err := ParseAddress("alice@" + f.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := &Client{}
	ctx := context.Background()
	got, err := c.FetchPayParams(ctx, addr.URL())
	if err != nil {
		t.Fatalf("FetchPayParams: %v", err)
	}
	if got != params {
		t.Fatalf("FetchPayParams = %+v, want %+v", got, params)
	}
	pr, sa, err := c.FetchInvoice(ctx, got, 5000, "thanks ✓")
	if err != nil {
		t.Fatalf("FetchInvoice: %v", err)
	}
	if pr != "lnbcrt50u1fake" || sa == nil || sa.Tag != "url" {
		t.Errorf("FetchInvoice = %q, %+v", pr, sa)
	}
	hits := f.hits()
	if last := hits[len(hits)-1]; last != "token=a%2Fb&amount=5000&comment=thanks+%E2%9C%93" {
		t.Errorf("callback query = %q; the service's token must survive verbatim", last)
	}
	hash := DescriptionHash(got.Metadata)
	if err := CheckInvoice(5000, hash[:], got, 5000); err != nil {
		t.Errorf("CheckInvoice(matching) = %v", err)
	}
}

func TestCheckInvoice(t *testing.T) {
	p := validPayParams()
	good := DescriptionHash(p.Metadata)
	other := DescriptionHash(p.Metadata + " ")
	tests := []struct {
		name   string
		amount money.Msat
		hash   []byte
		ok     bool
	}{
		{"match", 2000, good[:], true},
		{"amount differs", 2001, good[:], false},
		{"hash differs", 2000, other[:], false},
		{"no hash (plain description)", 2000, nil, false},
		{"truncated hash", 2000, good[:31], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckInvoice(tt.amount, tt.hash, p, 2000)
			if (err == nil) != tt.ok {
				t.Fatalf("CheckInvoice = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !apperr.Is(err, apperr.Unprocessable) {
				t.Errorf("code = %s, want unprocessable", apperr.CodeOf(err))
			}
		})
	}
}

func TestFetchPayParamsFailures(t *testing.T) {
	f := newFakeService(t)
	f.mux.HandleFunc("/garbage", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("<html>502 Bad Gateway</html>"))
	})
	f.handleJSON("/error", func(*http.Request) any { return NewErrorResponse("user\nunknown") })
	f.handleJSON("/error-empty", func(*http.Request) any { return map[string]string{"status": "error"} })
	f.handleJSON("/wrongtag", func(*http.Request) any { return f.payParams(func(p *PayParams) { p.Tag = TagWithdrawRequest }) })
	f.handleJSON("/notag", func(*http.Request) any { return map[string]any{"callback": f.srv.URL} })
	f.handleJSON("/httpcb", func(*http.Request) any {
		return f.payParams(func(p *PayParams) { p.Callback = "http://evil.example/cb" })
	})
	f.handleJSON("/badrange", func(*http.Request) any { return f.payParams(func(p *PayParams) { p.MinSendable = 10_000_000 }) })
	f.handleJSON("/floatamount", func(*http.Request) any {
		return map[string]any{"tag": "payRequest", "callback": f.srv.URL, "minSendable": 1.5, "maxSendable": 2, "metadata": `[["text/plain","x"]]`}
	})
	f.mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://insecure.example/p", http.StatusFound)
	})

	tests := []struct {
		path  string
		check func(error) bool
	}{
		{"/garbage", func(err error) bool {
			return apperr.Is(err, apperr.Invalid) && strings.Contains(err.Error(), "did not answer with LNURL JSON")
		}},
		{"/error", func(err error) bool {
			var se *ServiceError
			return errors.As(err, &se) && se.Reason == "user unknown"
		}},
		{"/error-empty", func(err error) bool {
			var se *ServiceError
			return errors.As(err, &se) && se.Reason == "no reason given"
		}},
		{"/wrongtag", func(err error) bool {
			return apperr.Is(err, apperr.Invalid) && strings.Contains(err.Error(), "withdrawRequest")
		}},
		{"/notag", func(err error) bool { return apperr.Is(err, apperr.Invalid) }},
		{"/httpcb", func(err error) bool { return errors.Is(err, errNotHTTPS) }},
		{"/badrange", func(err error) bool { return apperr.Is(err, apperr.Invalid) }},
		{"/floatamount", func(err error) bool { return apperr.Is(err, apperr.Invalid) }},
		{"/redirect", func(err error) bool { return errors.Is(err, errNotHTTPS) }},
	}
	c := &Client{}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			_, err := c.FetchPayParams(context.Background(), f.srv.URL+tt.path)
			if err == nil {
				t.Fatal("FetchPayParams succeeded")
			}
			if !tt.check(err) {
				t.Errorf("unexpected error: %v", err)
			}
		})
	}
}

func TestFetchRejectsInsecureURL(t *testing.T) {
	c := &Client{}
	for _, u := range []string{"http://example.com/.well-known/lnurlp/a", "ftp://example.com/x", "/relative", "http://localhost/x"} {
		if _, err := c.FetchPayParams(context.Background(), u); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("FetchPayParams(%q) = %v, want invalid before any request", u, err)
		}
	}
}

func TestHugeBodyIsNotReadWhole(t *testing.T) {
	const limit = 64 << 10
	const serverCap = 256 << 20
	var written atomic.Int64
	done := make(chan struct{})
	f := newFakeService(t)
	f.mux.HandleFunc("/huge", func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		_, _ = w.Write([]byte(`{"tag":"payRequest","metadata":"`))
		chunk := []byte(strings.Repeat("a", 32<<10))
		for written.Load() < serverCap {
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	})
	c := &Client{MaxBody: limit}
	_, err := c.FetchPayParams(context.Background(), f.srv.URL+"/huge")
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("FetchPayParams = %v, want ErrTooLarge", err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("server kept writing: the client is still reading")
	}
	if n := written.Load(); n >= serverCap {
		t.Errorf("server wrote all %d bytes: the client read the whole body", n)
	}
}

func TestHangingServer(t *testing.T) {
	release := make(chan struct{})
	f := newFakeService(t)
	t.Cleanup(func() { close(release) }) // runs before the server closes
	f.mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Run("context deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := (&Client{HTTP: &http.Client{}}).FetchPayParams(ctx, f.srv.URL+"/hang")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("FetchPayParams = %v, want deadline exceeded", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %v to give up", d)
		}
	})
	t.Run("client timeout", func(t *testing.T) {
		start := time.Now()
		_, err := (&Client{HTTP: &http.Client{Timeout: 150 * time.Millisecond}}).FetchPayParams(context.Background(), f.srv.URL+"/hang")
		if err == nil {
			t.Fatal("FetchPayParams succeeded against a hanging server")
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %v to give up", d)
		}
	})
}

func TestFetchInvoiceChecksBeforeAsking(t *testing.T) {
	f := newFakeService(t)
	f.handleJSON("/cb/alice", func(*http.Request) any { return PayCallbackResponse{PR: "lnbc1x"} })
	tests := []struct {
		name    string
		params  PayParams
		amount  money.Msat
		comment string
	}{
		{"below min", f.payParams(nil), 999, ""},
		{"above max", f.payParams(nil), 5_000_001, ""},
		{"negative", f.payParams(nil), -1, ""},
		{"comment too long", f.payParams(nil), 2000, "eleven char"},
		{"comment not allowed", f.payParams(func(p *PayParams) { p.CommentAllowed = 0 }), 2000, "hi"},
		{"wrong tag", f.payParams(func(p *PayParams) { p.Tag = "login" }), 2000, ""},
		{"http callback", f.payParams(func(p *PayParams) { p.Callback = "http://evil.example/cb" }), 2000, ""},
	}
	c := &Client{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := c.FetchInvoice(context.Background(), tt.params, tt.amount, tt.comment)
			if !apperr.Is(err, apperr.Invalid) {
				t.Errorf("FetchInvoice = %v, want invalid", err)
			}
		})
	}
	if hits := f.hits(); len(hits) != 0 {
		t.Errorf("callback was called %d times; checks must come first", len(hits))
	}
	// Exactly at the limits is fine: 10 characters, multi-byte.
	if _, _, err := c.FetchInvoice(context.Background(), f.payParams(nil), 5_000_000, "ääääääääää"); err != nil {
		t.Errorf("FetchInvoice at the limits: %v", err)
	}
}

func TestFetchInvoiceBadAnswers(t *testing.T) {
	f := newFakeService(t)
	answers := map[string]any{
		"/no-pr":      map[string]any{"routes": []any{}},
		"/not-bolt11": PayCallbackResponse{PR: "hello"},
		"/error":      NewErrorResponse("amount too small"),
		"/aes":        PayCallbackResponse{PR: "lnbc1x", SuccessAction: &SuccessAction{Tag: "aes", Description: "d"}},
		"/long-msg":   PayCallbackResponse{PR: "lnbc1x", SuccessAction: &SuccessAction{Tag: "message", Message: strings.Repeat("m", 145)}},
		"/foreign-url": PayCallbackResponse{PR: "lnbc1x",
			SuccessAction: &SuccessAction{Tag: "url", Description: "d", URL: "https://phish.example/x"}},
	}
	for path, a := range answers {
		f.handleJSON(path, func(*http.Request) any { return a })
	}
	c := &Client{}
	for path := range answers {
		t.Run(path, func(t *testing.T) {
			params := f.payParams(func(p *PayParams) { p.Callback = f.srv.URL + path })
			_, _, err := c.FetchInvoice(context.Background(), params, 2000, "")
			if err == nil {
				t.Fatal("FetchInvoice succeeded")
			}
			var se *ServiceError
			if path == "/error" && (!errors.As(err, &se) || se.Reason != "amount too small") {
				t.Errorf("error = %v, want the service's reason", err)
			}
		})
	}
}

func TestWithdrawFlow(t *testing.T) {
	f := newFakeService(t)
	const k1 = "k1-secret"
	f.handleJSON("/w", func(*http.Request) any {
		return WithdrawParams{Tag: TagWithdrawRequest, Callback: f.srv.URL + "/w/cb?id=7", K1: k1,
			DefaultDescription: "Keepalive returns", MinWithdrawable: 1000, MaxWithdrawable: 9000}
	})
	f.handleJSON("/w/cb", func(r *http.Request) any {
		q := r.URL.Query()
		if q.Get("k1") != k1 || q.Get("id") != "7" || q.Get("pr") == "" {
			return NewErrorResponse("bad k1")
		}
		return NewOKResponse()
	})
	c := &Client{}
	ctx := context.Background()
	p, err := c.FetchWithdrawParams(ctx, f.srv.URL+"/w")
	if err != nil {
		t.Fatalf("FetchWithdrawParams: %v", err)
	}
	if p.MaxWithdrawable != 9000 || p.K1 != k1 {
		t.Errorf("params = %+v", p)
	}
	if err := c.SubmitWithdraw(ctx, p, "lnbcrt90n1fake"); err != nil {
		t.Fatalf("SubmitWithdraw: %v", err)
	}
	p.K1 = "stolen"
	var se *ServiceError
	if err := c.SubmitWithdraw(ctx, p, "lnbcrt90n1fake"); !errors.As(err, &se) || se.Reason != "bad k1" {
		t.Errorf("SubmitWithdraw(wrong k1) = %v, want the service's refusal", err)
	}
	if err := c.SubmitWithdraw(ctx, p, ""); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("SubmitWithdraw(no invoice) = %v, want invalid", err)
	}
	f.handleJSON("/w-pay", func(*http.Request) any { return f.payParams(nil) })
	if _, err := c.FetchWithdrawParams(ctx, f.srv.URL+"/w-pay"); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("FetchWithdrawParams(pay request) = %v, want invalid", err)
	}
}

func TestAuthFlow(t *testing.T) {
	f := newFakeService(t)
	var loggedIn atomic.Value
	f.handleJSON("/auth", func(r *http.Request) any {
		q := r.URL.Query()
		if err := VerifyAuth(q.Get("k1"), q.Get("sig"), q.Get("key")); err != nil {
			return NewErrorResponse(apperr.MessageOf(err))
		}
		loggedIn.Store(q.Get("key"))
		return NewOKResponse()
	})
	k1, err := NewK1(strings.NewReader(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	lnurl, err := Encode(AuthURL(f.srv.URL+"/auth", k1, "login"))
	if err != nil {
		t.Fatal(err)
	}
	authURL, err := Decode(lnurl)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := btcec.NewPrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	c := &Client{}
	if err := c.SubmitAuth(context.Background(), authURL, priv); err != nil {
		t.Fatalf("SubmitAuth: %v", err)
	}
	if got, _ := loggedIn.Load().(string); len(got) != 66 {
		t.Errorf("service saw key %q", got)
	}
	if err := c.SubmitAuth(context.Background(), f.srv.URL+"/auth?tag=withdrawRequest&k1="+k1, priv); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("SubmitAuth(not login) = %v, want invalid", err)
	}
}

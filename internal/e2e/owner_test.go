package e2e

import (
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/lightningnetwork/lnd/lnrpc"

	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/lnurl"
	"github.com/keepalive/keepalive/internal/money"
)

// TestLNURLWithdrawEndToEnd: the owner asks for a one-time LNURL-withdraw
// link; a test wallet (the payer node) reads it, hands over its own
// invoice, and is paid over real Lightning, once.
func TestLNURLWithdrawEndToEnd(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		ctx := testCtx(t, 2*time.Minute)
		s := e.startSite()
		const donated = money.Msat(40_000_000)
		slug, key, id := s.fundEarned(ctx, donated)

		var link struct{ LNURL, URL string }
		s.must(http.StatusCreated, http.MethodPost, "/api/v1/offerings/"+slug+"/lnurl-withdraw", key, nil, &link)
		if _, err := s.tryCall(http.MethodPost, "/api/v1/offerings/"+slug+"/lnurl-withdraw", "ka_mk_wrong", nil); err != nil {
			t.Fatal(err)
		}
		decoded, err := lnurl.Decode(link.LNURL)
		if err != nil || decoded != link.URL {
			t.Fatalf("the LNURL decodes to %q (%v), want %q", decoded, err, link.URL)
		}
		wallet := &lnurl.Client{}
		params, err := wallet.FetchWithdrawParams(ctx, decoded)
		if err != nil {
			t.Fatal(err)
		}
		if params.MaxWithdrawable <= 0 || params.MaxWithdrawable > donated {
			t.Fatalf("withdraw params: %+v", params)
		}
		inv, err := e.payer.AddInvoice(ctx, &lnrpc.Invoice{ValueMsat: int64(params.MaxWithdrawable), Memo: "withdraw"})
		if err != nil {
			t.Fatal(err)
		}
		if err := wallet.SubmitWithdraw(ctx, params, inv.PaymentRequest); err != nil {
			t.Fatal(err)
		}
		hash := hex.EncodeToString(inv.RHash)
		eventually(t, 30*time.Second, "the wallet to be paid", func() bool {
			return e.payerInvoiceState(ctx, hash).State == lnrpc.Invoice_SETTLED
		})
		// A replayed callback, with another invoice, pays nothing.
		again, err := e.payer.AddInvoice(ctx, &lnrpc.Invoice{ValueMsat: 1_000, Memo: "again"})
		if err != nil {
			t.Fatal(err)
		}
		var se *lnurl.ServiceError
		if err := wallet.SubmitWithdraw(ctx, params, again.PaymentRequest); !errors.As(err, &se) {
			t.Fatalf("replayed withdraw callback: %v, want the service to refuse", err)
		}
		eventually(t, 20*time.Second, "the payout to be posted", func() bool {
			return e.account(ledger.OfferingEarned(id)).DebitsPending == 0
		})
		earned := e.account(ledger.OfferingEarned(id))
		fees := e.account(ledger.RoutingFees)
		if earned.Balance() != donated-params.MaxWithdrawable-fees.Balance() {
			t.Fatalf("earned %d after paying %d with fees %d", earned.Balance(), params.MaxWithdrawable, fees.Balance())
		}
		// An unknown k1 is refused.
		if _, err := wallet.FetchWithdrawParams(ctx, s.base+"/lnurlw/"+strings.Repeat("ab", 32)); !errors.As(err, &se) {
			t.Fatalf("unknown k1: %v", err)
		}
	})
}

// browser is an HTTP client with cookies, as a person's browser.
type browser struct {
	t    *testing.T
	http *http.Client
	base string
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, http: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) get(path string) (int, string) {
	b.t.Helper()
	res, err := b.http.Get(b.base + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

var (
	csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)
	lnurlText = regexp.MustCompile(`LNURL1[0-9A-Z]+`)
)

func (b *browser) post(page, action string, form url.Values) (int, string) {
	b.t.Helper()
	_, html := b.get(page)
	return b.submit(html, action, form)
}

// submit posts a form of a page already shown, with its CSRF token.
func (b *browser) submit(html, action string, form url.Values) (int, string) {
	b.t.Helper()
	m := csrfField.FindStringSubmatch(html)
	if m == nil {
		b.t.Fatalf("no CSRF token on the page for %s", action)
	}
	form.Set("_csrf", m[1])
	res, err := b.http.PostForm(b.base+action, form)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Location") + string(body)
}

// lnurlOn returns the LNURL a page shows, decoded.
func (b *browser) lnurlOn(html string) string {
	b.t.Helper()
	code := lnurlText.FindString(html)
	if code == "" {
		b.t.Fatal("no LNURL on the page")
	}
	u, err := lnurl.Decode(code)
	if err != nil {
		b.t.Fatal(err)
	}
	return u
}

// TestLNURLAuthEndToEnd: an owner links a wallet from the dashboard, then
// signs in with it in another browser, without the manage key. Wallets
// that are not linked, and forged signatures, are refused.
func TestLNURLAuthEndToEnd(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		ctx := testCtx(t, time.Minute)
		s := e.startSite()
		slug, key, _ := s.createOffering(3_600_000)
		wallet := &lnurl.Client{}
		walletKey, _ := btcec.NewPrivateKey()
		stranger, _ := btcec.NewPrivateKey()

		owner := newBrowser(t, s.base)
		if status, body := owner.post("/signin", "/signin", url.Values{"manage_key": {key}}); status != http.StatusSeeOther {
			t.Fatalf("sign in with the manage key: %d %s", status, body)
		}
		status, page := owner.get("/offerings/" + slug + "/wallet")
		if status != http.StatusOK {
			t.Fatalf("wallet page: %d", status)
		}
		if err := wallet.SubmitAuth(ctx, owner.lnurlOn(page), walletKey); err != nil {
			t.Fatalf("link the wallet: %v", err)
		}
		if _, page = owner.get("/offerings/" + slug + "/wallet"); !strings.Contains(page, hex.EncodeToString(walletKey.PubKey().SerializeCompressed())[:6]) {
			t.Fatal("the wallet page does not list the linked key")
		}

		// Another browser signs in with the wallet alone.
		visitor := newBrowser(t, s.base)
		_, page = visitor.get("/signin")
		challenge := visitor.lnurlOn(page)
		// A wallet nobody linked is refused, and so is a forged signature.
		var se *lnurl.ServiceError
		if err := wallet.SubmitAuth(ctx, challenge, stranger); !errors.As(err, &se) {
			t.Fatalf("unlinked wallet: %v", err)
		}
		u, _ := url.Parse(challenge)
		sig, _, _ := lnurl.SignAuth(stranger, u.Query().Get("k1"))
		forged := challenge + "&sig=" + sig + "&key=" + hex.EncodeToString(walletKey.PubKey().SerializeCompressed())
		res, err := http.Get(forged)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if !strings.Contains(string(body), `"ERROR"`) {
			t.Fatalf("forged signature: %s", body)
		}
		// Finishing before the wallet signs does not sign in.
		if status, _ := visitor.submit(page, "/signin/wallet", url.Values{}); status == http.StatusSeeOther {
			t.Fatal("signed in before the wallet approved")
		}
		_, page = visitor.get("/signin")
		if err := wallet.SubmitAuth(ctx, visitor.lnurlOn(page), walletKey); err != nil {
			t.Fatalf("sign in with the wallet: %v", err)
		}
		if status, where := visitor.submit(page, "/signin/wallet", url.Values{}); status != http.StatusSeeOther || !strings.HasPrefix(where, "/dashboard") {
			t.Fatalf("finish the wallet sign-in: %d %s", status, where)
		}
		if status, page := visitor.get("/dashboard"); status != http.StatusOK || !strings.Contains(page, "/offerings/"+slug+"/edit") {
			t.Fatalf("dashboard after the wallet sign-in: %d", status)
		}
	})
}

package lnurl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/btcsuite/btcd/btcec/v2"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/money"
)

const (
	// DefaultMaxBody bounds every LNURL response read; real answers are a few
	// KiB (a base64 thumbnail in the metadata is the biggest thing allowed).
	DefaultMaxBody = 256 << 10
	// DefaultTimeout bounds each request when Client.HTTP is nil.
	DefaultTimeout = 15 * time.Second
	maxRedirects   = 5
)

// ErrTooLarge is returned when a service's answer exceeds Client.MaxBody.
var ErrTooLarge = errors.New("lnurl: response body too large")

// ServiceError is a service's {"status":"ERROR","reason":…} answer. Reason is
// the remote party's text, truncated: show it as theirs, never as ours.
type ServiceError struct {
	Reason string
}

func (e *ServiceError) Error() string { return "lnurl: service refused: " + e.Reason }

// Client talks to LNURL services as a wallet does: to pay Lightning
// Addresses and LNURL-pay links, and in tests to withdraw and sign in.
//
// Every URL it is given or told about must pass the transport rule, and every
// answer is read through a size limit. It does not stop a user-supplied
// address from pointing at the operator's own network: give it an HTTP client
// whose dialer refuses private addresses when that matters.
type Client struct {
	// HTTP does the requests; nil means a client with DefaultTimeout that
	// follows at most 5 redirects and only to URLs the transport rule allows.
	HTTP *http.Client
	// MaxBody bounds each response body in bytes; 0 means DefaultMaxBody.
	MaxBody int64
}

// FetchPayParams fetches and validates LNURL-pay parameters from rawURL (a
// decoded LNURL or Address.URL()).
func (c *Client) FetchPayParams(ctx context.Context, rawURL string) (PayParams, error) {
	var p PayParams
	if err := c.getJSON(ctx, rawURL, &p); err != nil {
		return PayParams{}, fmt.Errorf("lnurl: fetching pay params: %w", err)
	}
	if err := p.Validate(); err != nil {
		return PayParams{}, fmt.Errorf("lnurl: pay params from %s: %w", hostOf(rawURL), err)
	}
	return p, nil
}

// FetchInvoice asks the pay callback for an invoice of amount, with comment
// if not empty. It checks the amount and comment against params before
// asking, and the answer's shape after; the caller must still decode the
// invoice with its node and run CheckInvoice before paying it.
func (c *Client) FetchInvoice(ctx context.Context, params PayParams, amount money.Msat, comment string) (string, *SuccessAction, error) {
	if err := params.Validate(); err != nil {
		return "", nil, err
	}
	if amount < params.MinSendable || amount > params.MaxSendable {
		return "", nil, apperr.New(apperr.Invalid, "The amount must be between %d and %d msat for this recipient.", params.MinSendable, params.MaxSendable)
	}
	if n := utf8.RuneCountInString(comment); n > params.CommentAllowed {
		if params.CommentAllowed == 0 {
			return "", nil, apperr.New(apperr.Invalid, "This recipient does not accept comments.")
		}
		return "", nil, apperr.New(apperr.Invalid, "The comment is %d characters; this recipient accepts at most %d.", n, params.CommentAllowed)
	}
	q := url.Values{"amount": {strconv.FormatInt(int64(amount), 10)}}
	if comment != "" {
		q.Set("comment", comment)
	}
	var resp PayCallbackResponse
	if err := c.getJSON(ctx, withQuery(params.Callback, q), &resp); err != nil {
		return "", nil, fmt.Errorf("lnurl: fetching invoice: %w", err)
	}
	pr := strings.TrimSpace(resp.PR)
	if !strings.HasPrefix(strings.ToLower(pr), "ln") {
		return "", nil, apperr.New(apperr.Invalid, "The recipient's service returned no invoice.")
	}
	if resp.SuccessAction != nil {
		if err := resp.SuccessAction.Validate(params.Callback); err != nil {
			return "", nil, fmt.Errorf("lnurl: invoice from %s: %w", hostOf(params.Callback), err)
		}
	}
	return pr, resp.SuccessAction, nil
}

// CheckInvoice checks an invoice the caller decoded against what was asked
// for (LUD-06 steps 6–7): its amount must equal amount and its description
// hash must be sha256 of params.Metadata. A mismatch means the service (or
// someone between) is trying to get something other than this payment paid.
func CheckInvoice(decodedAmount money.Msat, decodedDescHash []byte, params PayParams, amount money.Msat) error {
	if decodedAmount != amount {
		return apperr.New(apperr.Unprocessable, "The recipient's invoice is for %d msat, not the %d msat asked for.", decodedAmount, amount)
	}
	want := DescriptionHash(params.Metadata)
	if !bytes.Equal(decodedDescHash, want[:]) {
		return apperr.New(apperr.Unprocessable, "The recipient's invoice does not commit to the payment's description.")
	}
	return nil
}

// FetchWithdrawParams fetches and validates LNURL-withdraw parameters.
func (c *Client) FetchWithdrawParams(ctx context.Context, rawURL string) (WithdrawParams, error) {
	var p WithdrawParams
	if err := c.getJSON(ctx, rawURL, &p); err != nil {
		return WithdrawParams{}, fmt.Errorf("lnurl: fetching withdraw params: %w", err)
	}
	if err := p.Validate(); err != nil {
		return WithdrawParams{}, fmt.Errorf("lnurl: withdraw params from %s: %w", hostOf(rawURL), err)
	}
	return p, nil
}

// SubmitWithdraw hands invoice pr to the withdraw callback (LUD-03 step 5).
// An OK answer only means the service accepted it; payment follows
// asynchronously.
func (c *Client) SubmitWithdraw(ctx context.Context, params WithdrawParams, pr string) error {
	if err := params.Validate(); err != nil {
		return err
	}
	if pr == "" {
		return apperr.New(apperr.Invalid, "No invoice to withdraw to.")
	}
	q := url.Values{"k1": {params.K1}, "pr": {pr}}
	if err := c.getOK(ctx, withQuery(params.Callback, q)); err != nil {
		return fmt.Errorf("lnurl: submitting withdraw: %w", err)
	}
	return nil
}

// SubmitAuth signs in at authURL (a decoded LNURL-auth) with priv, as a
// wallet does (LUD-04 step 3).
func (c *Client) SubmitAuth(ctx context.Context, authURL string, priv *btcec.PrivateKey) error {
	u, err := url.Parse(authURL)
	if err != nil {
		return apperr.Wrap(err, apperr.Invalid, "The login LNURL is not a valid URL.")
	}
	q := u.Query()
	if q.Get("tag") != TagLogin {
		return apperr.New(apperr.Invalid, "The LNURL is not a login request.")
	}
	sig, key, err := SignAuth(priv, q.Get("k1"))
	if err != nil {
		return err
	}
	if err := c.getOK(ctx, withQuery(authURL, url.Values{"sig": {sig}, "key": {key}})); err != nil {
		return fmt.Errorf("lnurl: submitting login: %w", err)
	}
	return nil
}

// withQuery appends extra to rawURL's query without re-encoding what is
// there: services put tokens in callbacks and expect them back verbatim.
func withQuery(rawURL string, extra url.Values) string {
	base, frag, _ := strings.Cut(rawURL, "#")
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
		if strings.HasSuffix(base, "?") || strings.HasSuffix(base, "&") {
			sep = ""
		}
	}
	out := base + sep + extra.Encode()
	if frag != "" {
		out += "#" + frag
	}
	return out
}

func (c *Client) getOK(ctx context.Context, rawURL string) error {
	var st struct {
		Status string `json:"status"`
	}
	if err := c.getJSON(ctx, rawURL, &st); err != nil {
		return err
	}
	if !strings.EqualFold(st.Status, StatusOK) {
		return apperr.New(apperr.Invalid, "The service did not answer OK.")
	}
	return nil
}

// getJSON GETs rawURL and decodes its JSON answer into out. Status codes
// and headers are ignored, as LUD-01 says; an ERROR status in the body
// becomes a *ServiceError.
func (c *Client) getJSON(ctx context.Context, rawURL string, out any) error {
	if err := checkTransport(rawURL); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return fmt.Errorf("building request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", hostOf(rawURL), err)
	}
	defer resp.Body.Close()
	limit := c.MaxBody
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return fmt.Errorf("reading answer from %s: %w", hostOf(rawURL), err)
	}
	if int64(len(body)) > limit {
		return fmt.Errorf("answer from %s exceeds %d bytes: %w", hostOf(rawURL), limit, ErrTooLarge)
	}
	var st struct {
		Status string `json:"status"`
		Reason string `json:"reason"`
	}
	if err := json.Unmarshal(body, &st); err != nil {
		return apperr.Wrap(fmt.Errorf("HTTP %d: %w", resp.StatusCode, err), apperr.Invalid,
			"The service at %s did not answer with LNURL JSON.", hostOf(rawURL))
	}
	if strings.EqualFold(st.Status, StatusError) {
		reason := strings.TrimSpace(strings.Map(controlToSpace, truncate(st.Reason, 300)))
		if reason == "" {
			reason = "no reason given"
		}
		return &ServiceError{Reason: reason}
	}
	if err := json.Unmarshal(body, out); err != nil {
		return apperr.Wrap(err, apperr.Invalid, "The service at %s answered with malformed LNURL JSON.", hostOf(rawURL))
	}
	return nil
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: DefaultTimeout, CheckRedirect: checkRedirect}
}

func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return errors.New("too many redirects")
	}
	return checkTransport(req.URL.String())
}

// controlToSpace keeps a remote reason on one line in logs and pages.
func controlToSpace(r rune) rune {
	if r < 0x20 || r == 0x7f {
		return ' '
	}
	return r
}

// hostOf names a URL's host in errors without echoing tokens in its query.
func hostOf(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return "(invalid URL)"
	}
	return u.Host
}

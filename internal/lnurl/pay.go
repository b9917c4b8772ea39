package lnurl

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/money"
)

// Tags and statuses the protocols put on the wire.
const (
	TagPayRequest      = "payRequest"
	TagWithdrawRequest = "withdrawRequest"
	TagLogin           = "login"

	StatusOK    = "OK"
	StatusError = "ERROR"
)

// MaxSuccessText is LUD-09's limit on a success action's message or
// description, in characters.
const MaxSuccessText = 144

// PayParams is the first LNURL-pay answer (LUD-06), with LUD-12's
// commentAllowed.
type PayParams struct {
	Callback    string     `json:"callback"`
	MaxSendable money.Msat `json:"maxSendable"`
	MinSendable money.Msat `json:"minSendable"`
	// Metadata is a JSON array serialised to a string; the invoice's
	// description hash commits to these exact bytes, so it is never
	// re-encoded.
	Metadata string `json:"metadata"`
	Tag      string `json:"tag"`
	// CommentAllowed is how many characters of comment the callback accepts;
	// 0 means none.
	CommentAllowed int `json:"commentAllowed,omitempty"`
}

// Validate checks what both the service and a paying wallet rely on.
func (p PayParams) Validate() error {
	if p.Tag != TagPayRequest {
		return apperr.New(apperr.Invalid, "The LNURL is not a pay request (tag %q).", truncate(p.Tag, 32))
	}
	if err := checkTransport(p.Callback); err != nil {
		return fmt.Errorf("lnurl: pay callback: %w", err)
	}
	if p.MinSendable < 1 || p.MinSendable > p.MaxSendable || !p.MaxSendable.Valid() {
		return apperr.New(apperr.Invalid, "The pay request's amount range [%d, %d] msat is not valid.", p.MinSendable, p.MaxSendable)
	}
	if p.CommentAllowed < 0 {
		return apperr.New(apperr.Invalid, "The pay request allows a negative comment length.")
	}
	if _, err := ParseMetadata(p.Metadata); err != nil {
		return err
	}
	return nil
}

// BuildMetadata returns the LNURL-pay metadata string: a text/plain entry,
// a text/identifier entry (LUD-16, "slug@host") when identifier is not empty,
// and a text/long-desc entry when longDesc is not empty. HTML characters are
// not escaped, so the string reads as written in wallets that show it raw.
func BuildMetadata(text, identifier, longDesc string) string {
	entries := [][2]string{{"text/plain", text}}
	if identifier != "" {
		entries = append(entries, [2]string{"text/identifier", identifier})
	}
	if longDesc != "" {
		entries = append(entries, [2]string{"text/long-desc", longDesc})
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(entries); err != nil {
		// Strings always encode (invalid UTF-8 becomes U+FFFD).
		panic(fmt.Sprintf("lnurl: encoding metadata: %v", err))
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// DescriptionHash is what an LNURL-pay invoice's description hash must be:
// sha256 of the exact metadata string.
func DescriptionHash(metadata string) [32]byte {
	return sha256.Sum256([]byte(metadata))
}

// Metadata is what Keepalive reads from an LNURL-pay metadata string.
type Metadata struct {
	Text       string // text/plain, always present
	LongDesc   string // text/long-desc
	Identifier string // text/identifier (LUD-16)
	Email      string // text/email (LUD-16)
}

// ParseMetadata checks metadata is a JSON array of arrays whose first item is
// a type string, with exactly one text/plain entry, and returns the text
// entries it knows. Other entries may hold any JSON (LUD-06) and are skipped.
func ParseMetadata(metadata string) (Metadata, error) {
	var entries []json.RawMessage
	if err := json.Unmarshal([]byte(metadata), &entries); err != nil {
		return Metadata{}, apperr.Wrap(err, apperr.Invalid, "The pay request's metadata is not a JSON array.")
	}
	var m Metadata
	plain := 0
	for _, raw := range entries {
		var entry []json.RawMessage
		if err := json.Unmarshal(raw, &entry); err != nil || len(entry) == 0 {
			return Metadata{}, apperr.New(apperr.Invalid, "The pay request's metadata holds something other than arrays.")
		}
		var kind string
		if err := json.Unmarshal(entry[0], &kind); err != nil {
			return Metadata{}, apperr.New(apperr.Invalid, "A metadata entry's type is not a string.")
		}
		var dst *string
		switch kind {
		case "text/plain":
			plain++
			dst = &m.Text
		case "text/long-desc":
			dst = &m.LongDesc
		case "text/identifier":
			dst = &m.Identifier
		case "text/email":
			dst = &m.Email
		default:
			continue
		}
		if len(entry) < 2 || json.Unmarshal(entry[1], dst) != nil {
			return Metadata{}, apperr.New(apperr.Invalid, "The metadata entry %q does not hold a string.", kind)
		}
	}
	if plain != 1 {
		return Metadata{}, apperr.New(apperr.Invalid, "The pay request's metadata must have exactly one text/plain entry.")
	}
	return m, nil
}

// PayCallbackResponse is the LNURL-pay callback's answer: the invoice and,
// optionally, what to show once it is paid.
type PayCallbackResponse struct {
	PR            string         `json:"pr"`
	Routes        []any          `json:"routes"`
	SuccessAction *SuccessAction `json:"successAction,omitempty"`
}

// MarshalJSON writes routes as [] even when unset: LUD-06 requires the empty
// array and some wallets reject null.
func (r PayCallbackResponse) MarshalJSON() ([]byte, error) {
	type plain PayCallbackResponse
	if r.Routes == nil {
		r.Routes = []any{}
	}
	return json.Marshal(plain(r))
}

// SuccessAction is what a wallet shows after paying (LUD-09): a message, or
// a description with a link on the callback's domain.
type SuccessAction struct {
	Tag         string `json:"tag"`
	Message     string `json:"message,omitempty"`
	Description string `json:"description,omitempty"`
	URL         string `json:"url,omitempty"`
}

// MessageAction returns a "message" success action.
func MessageAction(message string) (*SuccessAction, error) {
	a := &SuccessAction{Tag: "message", Message: message}
	if err := a.Validate(""); err != nil {
		return nil, err
	}
	return a, nil
}

// URLAction returns a "url" success action; link must be https (or allowed
// http) and, for wallets to accept it, on the pay callback's domain.
func URLAction(description, link string) (*SuccessAction, error) {
	a := &SuccessAction{Tag: "url", Description: description, URL: link}
	if err := a.Validate(""); err != nil {
		return nil, err
	}
	return a, nil
}

// Validate checks a success action. With callback set (wallet side) it also
// checks that a url action stays on the callback's host, as LUD-09 requires.
// Unknown tags fail: LUD-09 says a wallet must not pay if it cannot show the
// action the service promised.
func (a *SuccessAction) Validate(callback string) error {
	switch a.Tag {
	case "message":
		return checkSuccessText("message", a.Message)
	case "url":
		if err := checkSuccessText("description", a.Description); err != nil {
			return err
		}
		if err := checkTransport(a.URL); err != nil {
			return fmt.Errorf("lnurl: success action url: %w", err)
		}
		if callback == "" {
			return nil
		}
		cb, err := url.Parse(callback)
		if err != nil {
			return apperr.Wrap(err, apperr.Invalid, "The pay callback is not a valid URL.")
		}
		link, _ := url.Parse(a.URL) // checkTransport parsed it already
		if !strings.EqualFold(cb.Hostname(), link.Hostname()) {
			return apperr.New(apperr.Invalid, "The success action links to another domain than the pay callback.")
		}
		return nil
	default:
		return apperr.New(apperr.Invalid, "Unsupported success action %q.", truncate(a.Tag, 32))
	}
}

func checkSuccessText(field, s string) error {
	if s == "" {
		return apperr.New(apperr.Invalid, "The success action's %s is empty.", field)
	}
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxSuccessText {
		return apperr.New(apperr.Invalid, "The success action's %s must be at most %d characters.", field, MaxSuccessText)
	}
	return nil
}

// ErrorResponse is how every LNURL endpoint reports a failure.
type ErrorResponse struct {
	Status string `json:"status"`
	Reason string `json:"reason"`
}

// NewErrorResponse returns {"status":"ERROR","reason":reason}. The reason
// reaches the payer's wallet: it must be safe for users to read.
func NewErrorResponse(reason string) ErrorResponse {
	return ErrorResponse{Status: StatusError, Reason: reason}
}

// OKResponse is the success answer of withdraw and auth callbacks.
type OKResponse struct {
	Status string `json:"status"`
}

// NewOKResponse returns {"status":"OK"}.
func NewOKResponse() OKResponse { return OKResponse{Status: StatusOK} }

// truncate shortens untrusted text that goes into error messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

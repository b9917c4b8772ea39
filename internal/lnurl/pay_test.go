package lnurl

import (
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/keepalive/keepalive/internal/apperr"
)

func TestBuildMetadata(t *testing.T) {
	tests := []struct {
		name, text, id, long, want string
	}{
		{"text only", "Keep example alive", "", "", `[["text/plain","Keep example alive"]]`},
		{"all", "Keep <x> & y alive", "x@keepalive.example", "Line 1\nLine \"2\"",
			`[["text/plain","Keep <x> & y alive"],["text/identifier","x@keepalive.example"],["text/long-desc","Line 1\nLine \"2\""]]`},
		{"long desc without identifier", "t", "", "l", `[["text/plain","t"],["text/long-desc","l"]]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := BuildMetadata(tt.text, tt.id, tt.long)
			if got != tt.want {
				t.Errorf("BuildMetadata = %s, want %s", got, tt.want)
			}
			m, err := ParseMetadata(got)
			if err != nil {
				t.Fatalf("ParseMetadata: %v", err)
			}
			if m.Text != tt.text || m.Identifier != tt.id || m.LongDesc != tt.long {
				t.Errorf("ParseMetadata = %+v", m)
			}
		})
	}
}

func TestDescriptionHash(t *testing.T) {
	// LUD-06's example metadata; the hash is from sha256sum(1).
	meta := `[["text/plain", "lorem ipsum blah blah"]]`
	const want = "f7d6f565d86b0065d2d2af771106de4f8477f1f14b4cca4c009c0d53bb9be25f"
	got := DescriptionHash(meta)
	if hex.EncodeToString(got[:]) != want {
		t.Fatalf("DescriptionHash = %x, want %s", got, want)
	}
	// A re-encoding with different whitespace is a different commitment.
	if DescriptionHash(`[["text/plain","lorem ipsum blah blah"]]`) == got {
		t.Error("DescriptionHash ignored a byte difference")
	}
}

func TestParseMetadataRejects(t *testing.T) {
	for _, in := range []string{
		``, `{}`, `"x"`, `[]`, `[[]]`, `[["text/plain"]]`, `[[1,"x"]]`, `["text/plain","x"]`,
		`[["text/plain","a"],["text/plain","b"]]`, `[["text/plain",5]]`, `[["image/png;base64","x"]]`,
		`[["text/plain","x"]] trailing`,
	} {
		t.Run(in, func(t *testing.T) {
			if _, err := ParseMetadata(in); err == nil {
				t.Errorf("ParseMetadata(%q) succeeded", in)
			}
		})
	}
	// Unknown entries may hold any JSON.
	if _, err := ParseMetadata(`[["text/plain","x"],["x/custom",{"a":[1,2]}],["image/png;base64","AAAA"]]`); err != nil {
		t.Errorf("ParseMetadata rejected extension entries: %v", err)
	}
}

func validPayParams() PayParams {
	return PayParams{
		Callback:       "https://keepalive.example/lnurlp/x/callback",
		MinSendable:    1000,
		MaxSendable:    1_000_000_000,
		Metadata:       BuildMetadata("Keep x alive", "x@keepalive.example", ""),
		Tag:            TagPayRequest,
		CommentAllowed: 140,
	}
}

func TestPayParamsJSON(t *testing.T) {
	b, err := json.Marshal(validPayParams())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"callback", "maxSendable", "minSendable", "metadata", "tag", "commentAllowed"} {
		if _, ok := m[key]; !ok {
			t.Errorf("JSON %s lacks %q", b, key)
		}
	}
	if m["tag"] != "payRequest" || m["maxSendable"] != float64(1_000_000_000) {
		t.Errorf("JSON = %s", b)
	}
	// The metadata travels as a string, not as nested JSON.
	if _, ok := m["metadata"].(string); !ok {
		t.Errorf("metadata is %T, want string", m["metadata"])
	}
}

func TestPayParamsValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*PayParams)
		ok     bool
	}{
		{"valid", func(*PayParams) {}, true},
		{"fixed amount", func(p *PayParams) { p.MaxSendable = p.MinSendable }, true},
		{"loopback callback", func(p *PayParams) { p.Callback = "http://127.0.0.1:4567/cb" }, true},
		{"wrong tag", func(p *PayParams) { p.Tag = "withdrawRequest" }, false},
		{"http callback", func(p *PayParams) { p.Callback = "http://keepalive.example/cb" }, false},
		{"relative callback", func(p *PayParams) { p.Callback = "/cb" }, false},
		{"zero min", func(p *PayParams) { p.MinSendable = 0 }, false},
		{"min above max", func(p *PayParams) { p.MinSendable = p.MaxSendable + 1 }, false},
		{"max above 21M BTC", func(p *PayParams) { p.MaxSendable = 1 << 62 }, false},
		{"negative comment", func(p *PayParams) { p.CommentAllowed = -1 }, false},
		{"bad metadata", func(p *PayParams) { p.Metadata = "text" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := validPayParams()
			tt.modify(&p)
			err := p.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !apperr.Is(err, apperr.Invalid) {
				t.Errorf("code = %s, want invalid", apperr.CodeOf(err))
			}
		})
	}
}

func TestPayCallbackResponseJSON(t *testing.T) {
	msg, err := MessageAction("Thanks! example.com is funded for 3 more days.")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		resp PayCallbackResponse
		want string
	}{
		{"routes always present", PayCallbackResponse{PR: "lnbc1x"}, `{"pr":"lnbc1x","routes":[]}`},
		{"with message", PayCallbackResponse{PR: "lnbc1x", SuccessAction: msg},
			`{"pr":"lnbc1x","routes":[],"successAction":{"tag":"message","message":"Thanks! example.com is funded for 3 more days."}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.resp)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Errorf("JSON = %s, want %s", b, tt.want)
			}
		})
	}
	// Pointer marshalling takes the same path.
	b, _ := json.Marshal(&PayCallbackResponse{PR: "p"})
	if string(b) != `{"pr":"p","routes":[]}` {
		t.Errorf("pointer JSON = %s", b)
	}
}

func TestSuccessActions(t *testing.T) {
	if _, err := MessageAction(strings.Repeat("é", MaxSuccessText)); err != nil {
		t.Errorf("144 characters (288 bytes) rejected: %v", err)
	}
	for name, msg := range map[string]string{"empty": "", "145 chars": strings.Repeat("a", MaxSuccessText+1), "bad utf8": "\xff"} {
		t.Run("message "+name, func(t *testing.T) {
			if _, err := MessageAction(msg); !apperr.Is(err, apperr.Invalid) {
				t.Errorf("MessageAction(%q) error = %v, want invalid", msg, err)
			}
		})
	}
	a, err := URLAction("Your sponsorship", "https://keepalive.example/s/1")
	if err != nil {
		t.Fatalf("URLAction: %v", err)
	}
	if err := a.Validate("https://KeepAlive.example/cb"); err != nil {
		t.Errorf("same host rejected: %v", err)
	}
	if err := a.Validate("https://other.example/cb"); err == nil {
		t.Error("url action on another host accepted")
	}
	if _, err := URLAction("d", "http://keepalive.example/s/1"); err == nil {
		t.Error("http url action accepted")
	}
	if err := (&SuccessAction{Tag: "aes", Description: "d"}).Validate(""); err == nil {
		t.Error("unsupported tag accepted")
	}
}

func TestStatusResponses(t *testing.T) {
	b, _ := json.Marshal(NewErrorResponse("amount too small"))
	if string(b) != `{"status":"ERROR","reason":"amount too small"}` {
		t.Errorf("error JSON = %s", b)
	}
	b, _ = json.Marshal(NewOKResponse())
	if string(b) != `{"status":"OK"}` {
		t.Errorf("ok JSON = %s", b)
	}
	b, _ = json.Marshal(WithdrawParams{Tag: TagWithdrawRequest, Callback: "https://k.example/w", K1: "ab", DefaultDescription: "d", MinWithdrawable: 1, MaxWithdrawable: 2})
	want := `{"tag":"withdrawRequest","callback":"https://k.example/w","k1":"ab","defaultDescription":"d","minWithdrawable":1,"maxWithdrawable":2}`
	if string(b) != want {
		t.Errorf("withdraw JSON = %s, want %s", b, want)
	}
}

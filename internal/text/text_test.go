package text_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/text"
)

var (
	line  = text.Field{Max: 10}
	lines = text.Field{Max: 20, Multiline: true}
	name  = text.Field{Max: 10, Required: true}
)

func TestClean(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		f       text.Field
		want    string
		wantErr string // a word of the message; "" = accepted
	}{
		{"plain", "Ann", line, "Ann", ""},
		{"trimmed", "  Ann \t", line, "Ann", ""},
		{"empty optional", "   ", line, "", ""},
		{"empty required", " ", name, "", "required"},
		{"NFC", "Cafe\u0301", line, "Caf\u00e9", ""},
		{"max counts characters not bytes", "ééééééééé€", line, "ééééééééé€", ""},
		{"too long", "abcdefghijk", line, "", "At most 10"},
		{"too long after NFC still counts composed", strings.Repeat("e\u0301", 10), line, strings.Repeat("é", 10), ""},
		{"invalid UTF-8", "Ann\xff", line, "", "UTF-8"},
		{"NUL", "a\x00b", line, "", "invisible"},
		{"DEL", "a\x7fb", line, "", "invisible"},
		{"C1 control", "a\u0085b", line, "", "invisible"},
		{"tab inside", "a\tb", line, "", "invisible"},
		{"newline in one line", "a\nb", line, "", "one line"},
		{"line separator in one line", "a\u2028b", line, "", "one line"},
		{"newline in multiline", "a\nb", lines, "a\nb", ""},
		{"CRLF in multiline", "a\r\nb\rc", lines, "a\nb\nc", ""},
		{"paragraph separator in multiline", "a\u2029b", lines, "", "invisible"},
		{"RLO", "evil\u202Egpj.exe", line, "", "direction"},
		{"LRE", "a\u202Ab", line, "", "invisible"},
		{"RLI", "a\u2067b", line, "", "invisible"},
		{"PDI", "a\u2069b", line, "", "invisible"},
		{"LRM", "a\u200Eb", line, "", "invisible"},
		{"RLM", "a\u200Fb", line, "", "invisible"},
		{"ALM", "a\u061Cb", line, "", "invisible"},
		{"ZWSP", "An\u200Bn", line, "", "zero-width"},
		{"word joiner", "a\u2060b", line, "", "invisible"},
		{"invisible times", "a\u2062b", line, "", "invisible"},
		{"BOM", "\uFEFFAnn", line, "", "invisible"},
		{"soft hyphen", "a\u00ADb", line, "", "invisible"},
		{"ZWJ between letters", "a\u200Db", line, "", "invisible"},
		{"ZWJ at the end", "👩\u200D", line, "", "invisible"},
		{"emoji family", "👨\u200D👩\u200D👧", line, "👨\u200D👩\u200D👧", ""},
		{"rainbow flag", "🏳\uFE0F\u200D🌈", line, "🏳\uFE0F\u200D🌈", ""},
		{"ZWNJ in Persian", "می\u200Cخواهم", line, "می\u200Cخواهم", ""},
		{"ZWNJ after a space", "a \u200Cb", line, "", "invisible"},
		{"Scotland flag", "🏴\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F", line, "🏴\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F", ""},
		{"stray tag", "a\U000E0067", line, "", "invisible"},
		{"braille blank", "\u2800", line, "", "invisible"},
		{"hangul filler alone", "\u3164", line, "", "invisible"},
		{"hangul filler padding", "Ann\u3164", line, "", "invisible"},
		{"halfwidth hangul filler", "\uFFA0", line, "", "invisible"},
		{"choseong filler", "\u115F", line, "", "invisible"},
		{"jungseong filler", "\u1160", line, "", "invisible"},
		{"only ideographic spaces inside", "\u3000", line, "", ""},
		{"only a combining mark", "\u0301", line, "", "visible"},
		{"only variation selector", "\uFE0F", line, "", "visible"},
		{"blank lines only", "\n\n", lines, "", ""},
		{"Arabic", "مرحبا", line, "مرحبا", ""},
		{"CJK", "你好", line, "你好", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := text.Clean(tt.in, tt.f)
			if tt.wantErr == "" {
				if err != nil || got != tt.want {
					t.Fatalf("Clean(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Clean(%q) = %q, accepted; want an error about %q", tt.in, got, tt.wantErr)
			}
			if !apperr.Is(err, apperr.Invalid) || !strings.Contains(apperr.MessageOf(err), tt.wantErr) {
				t.Fatalf("Clean(%q): %v; want an Invalid error about %q", tt.in, err, tt.wantErr)
			}
		})
	}
}

func TestTooLongMatchesMax(t *testing.T) {
	if got := (text.Field{Max: 64}).TooLong(); got != "At most 64 characters." {
		t.Fatal(got)
	}
}

// FuzzClean: whatever comes in, an accepted value is valid UTF-8 in NFC,
// trimmed, within the limit, free of controls and invisible formatting
// characters, and cleaning it again changes nothing.
func FuzzClean(f *testing.F) {
	for _, s := range []string{"Ann", "a\u202Eb", "\xff\xfe", "e\u0301", "👨\u200D👩", "a\r\nb", "\u3164", " \u00a0x\u00a0 "} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, multiline bool) {
		fld := text.Field{Max: 40, Multiline: multiline}
		got, err := text.Clean(s, fld)
		if err != nil {
			if !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("Clean(%q): error without the Invalid code: %v", s, err)
			}
			return
		}
		if !utf8.ValidString(got) || !norm.NFC.IsNormalString(got) {
			t.Fatalf("Clean(%q) = %q: not valid NFC", s, got)
		}
		if utf8.RuneCountInString(got) > fld.Max || got != strings.TrimSpace(got) {
			t.Fatalf("Clean(%q) = %q: too long or untrimmed", s, got)
		}
		for _, r := range got {
			if (r < 0x20 && !(multiline && r == '\n')) || (r >= 0x7f && r < 0xa0) ||
				(r >= 0x200B && r <= 0x200F && r != 0x200C && r != 0x200D) || (r >= 0x202A && r <= 0x202E) ||
				(r >= 0x2066 && r <= 0x2069) || r == 0xFEFF || r == 0x2060 || r == 0x2800 || r == 0x3164 {
				t.Fatalf("Clean(%q) = %q: kept %U", s, got, r)
			}
		}
		again, err := text.Clean(got, fld)
		if err != nil || again != got {
			t.Fatalf("Clean is not idempotent on %q: %q, %v", got, again, err)
		}
	})
}

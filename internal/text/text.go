// Package text owns what the site accepts as text written by people:
// names, descriptions, donor messages and every such field to come. One
// function, Clean, checks and normalises a value for a Field, in web forms
// and JSON alike, so that what is stored is valid UTF-8 in NFC, shows what
// it seems to show, and fits the form's maxlength.
package text

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/keepalive/keepalive/internal/apperr"
)

// Field says what one text field may hold.
type Field struct {
	// Max is the most characters (Unicode code points, after NFC) the
	// field holds; zero is no limit. Forms use it as the input's
	// maxlength.
	Max int
	// Multiline allows line breaks ("\n"; "\r\n" and "\r" are read as
	// "\n").
	Multiline bool
	// Required refuses an empty value.
	Required bool
}

// Messages people see; one wording for each problem, wherever it happens.
const (
	msgRequired  = "This is required."
	msgEncoding  = "This text is not valid UTF-8; type or paste it again."
	msgOneLine   = "Keep this to one line."
	msgInvisible = "Remove the control or invisible characters (such as direction overrides or zero-width spaces)."
	msgBlank     = "Use visible characters, not only spaces or blank symbols."
)

// TooLong is the message for a value over f.Max characters.
func (f Field) TooLong() string { return fmt.Sprintf("At most %d characters.", f.Max) }

// Clean returns s checked and normalised for f: trimmed, NFC, with line
// breaks as "\n". It refuses, with an *apperr.Error of code Invalid whose
// message is fit for people, invalid UTF-8, control characters (other
// than line breaks in a multi-line field), bidirectional overrides and
// isolates, zero-width and other invisible formatting characters (joiners
// only where they join, as in emoji and Persian), Hangul fillers and the
// blank Braille pattern, a value that looks blank, and one longer than
// f.Max. An empty value is fine unless f.Required.
func Clean(s string, f Field) (string, error) {
	if !utf8.ValidString(s) {
		return "", invalid(msgEncoding)
	}
	if f.Multiline {
		s = strings.ReplaceAll(s, "\r\n", "\n")
		s = strings.ReplaceAll(s, "\r", "\n")
	}
	s = strings.TrimSpace(norm.NFC.String(s))
	if s == "" {
		if f.Required {
			return "", invalid(msgRequired)
		}
		return "", nil
	}
	if msg := check(s, f.Multiline); msg != "" {
		return "", invalid(msg)
	}
	if f.Max > 0 && utf8.RuneCountInString(s) > f.Max {
		return "", invalid(f.TooLong())
	}
	return s, nil
}

func invalid(msg string) error { return apperr.New(apperr.Invalid, "%s", msg) }

// check returns what is wrong with the runes of a trimmed, non-empty s,
// or "".
func check(s string, multiline bool) string {
	runes := []rune(s)
	visible := false
	for i, r := range runes {
		switch {
		case r == '\n':
			if !multiline {
				return msgOneLine
			}
			continue
		case r == '\u2028' || r == '\u2029':
			if !multiline {
				return msgOneLine
			}
			return msgInvisible
		case unicode.IsControl(r) || blankSymbol(r):
			return msgInvisible
		case unicode.Is(unicode.Cf, r):
			if !joins(runes, i) {
				return msgInvisible
			}
			continue
		}
		if !unicode.IsSpace(r) && !unicode.Is(unicode.Mn, r) && !unicode.Is(unicode.Me, r) &&
			!unicode.Is(unicode.Variation_Selector, r) {
			visible = true
		}
	}
	if !visible {
		return msgBlank
	}
	return ""
}

// blankSymbol reports characters that draw nothing yet are not spaces,
// used to make a name look empty or to pad one out: the Hangul fillers
// and the blank Braille pattern.
func blankSymbol(r rune) bool {
	switch r {
	case '\u115F', '\u1160', '\u3164', '\uFFA0', '\u2800':
		return true
	}
	return false
}

// joins reports whether the format character runes[i] is one with a
// visible purpose where it stands: a zero-width joiner inside an emoji
// sequence (👨‍👩‍👧, 🏳️‍🌈), a zero-width non-joiner between letters (Persian
// and Indic scripts need it), or a tag character of a subdivision flag
// (🏴󠁧󠁢󠁳󠁣󠁴󠁿). Every other format character (direction marks, overrides and
// isolates, zero-width spaces, word joiners, the BOM, soft hyphens) is
// refused.
func joins(runes []rune, i int) bool {
	var prev, next rune
	if i > 0 {
		prev = runes[i-1]
	}
	if i+1 < len(runes) {
		next = runes[i+1]
	}
	switch r := runes[i]; {
	case r == '\u200D':
		return emojiPart(prev) && emojiPart(next)
	case r == '\u200C':
		return letter(prev) && letter(next)
	case r >= 0xE0020 && r <= 0xE007F:
		return prev == 0x1F3F4 || (prev >= 0xE0020 && prev <= 0xE007E)
	}
	return false
}

func emojiPart(r rune) bool {
	return unicode.Is(unicode.So, r) || unicode.Is(unicode.Sk, r) || r == '\uFE0F' ||
		(r >= 0x1F3FB && r <= 0x1F3FF) || unicode.Is(unicode.Sm, r)
}

func letter(r rune) bool { return unicode.IsLetter(r) || unicode.IsMark(r) }

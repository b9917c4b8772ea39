package money

import (
	"errors"
	"strings"

	"github.com/keepalive/keepalive/internal/apperr"
)

// A unit says how many msat one of it is worth and how many decimals it may
// carry before the amount would be finer than 1 msat.
type unit struct {
	msat     Msat
	decimals int
}

var units = map[string]unit{
	"":      {MsatPerSat, 3}, // a bare number is sats: what people think in
	"sat":   {MsatPerSat, 3},
	"sats":  {MsatPerSat, 3},
	"msat":  {1, 0},
	"msats": {1, 0},
	"btc":   {msatPerBTC, 11},
}

// Parse reads an amount typed by a person or sent by an API client:
// "2100", "2,100 sats", "2100sat", "1.5 sat", "2100000 msat",
// "0.000021 BTC". Units are case-insensitive; a bare number is sats.
//
// The decimal is parsed exactly with integers. Digits beyond the unit's msat
// precision are accepted only when they are zeros ("1.5000 sat"), so
// "1.0001 sat" is an error rather than a silent rounding. Thousands
// separators must group by three ("2,100", not "21,00"). Negative amounts,
// amounts above MaxMsat and anything else are *apperr.Error with code
// apperr.Invalid.
func Parse(s string) (Msat, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errSyntax("amount is required")
	}
	if s[0] == '-' {
		// Say "negative" only about what would otherwise be an amount.
		_, err := parseUnsigned(strings.TrimSpace(s[1:]))
		if err == nil || errors.Is(err, ErrRange) {
			return 0, errNegative()
		}
		return 0, err
	}
	return parseUnsigned(s)
}

// ParseWholeSats reads an amount as Parse does and refuses one that is
// not a whole number of sats ("1234.5"): people give and see whole sats.
func ParseWholeSats(s string) (Msat, error) {
	m, err := Parse(s)
	if err != nil {
		return 0, err
	}
	if m%MsatPerSat != 0 {
		return 0, apperr.Wrap(ErrPrecision, apperr.Invalid, "Give a whole number of sats.")
	}
	return m, nil
}

// parseUnsigned is Parse for a trimmed s without a sign.
func parseUnsigned(s string) (Msat, error) {
	end := 0
	for end < len(s) && (isDigit(s[end]) || s[end] == ',' || s[end] == '.') {
		end++
	}
	num := s[:end]
	u, ok := units[strings.ToLower(strings.TrimSpace(s[end:]))]
	if !ok {
		if num == "" {
			return 0, errSyntax("amount must be a number, optionally followed by sat, msat or btc")
		}
		return 0, errSyntax("amount unit must be sat, msat or btc")
	}
	whole, frac, hasDot := strings.Cut(num, ".")
	if whole == "" || (hasDot && frac == "") || strings.ContainsAny(frac, ".,") {
		return 0, errSyntax("amount must be a number, optionally followed by sat, msat or btc")
	}
	whole, ok = stripSeparators(whole)
	if !ok {
		return 0, errSyntax("amount has misplaced thousands separators")
	}
	frac = strings.TrimRight(frac, "0")
	if len(frac) > u.decimals {
		return 0, apperr.Wrap(ErrPrecision, apperr.Invalid,
			"amount is finer than 1 msat (at most 3 decimals in sats, 11 in BTC)")
	}
	w, err := parseDigits(whole)
	if err != nil {
		return 0, err
	}
	if w > MaxMsat/u.msat {
		return 0, errTooLarge()
	}
	f := Msat(0)
	if frac != "" {
		// Each unit's decimals is log10 of its msat worth, so padding frac to
		// that many digits gives msat; it is below u.msat and cannot fail.
		f, _ = parseDigits(frac)
		for range u.decimals - len(frac) {
			f *= 10
		}
	}
	return check(w*u.msat + f)
}

// ParseMsat reads a strict integer count of millisatoshis, as API clients
// send it in query strings and JSON strings: ASCII digits only, no sign,
// separators, spaces or unit.
func ParseMsat(s string) (Msat, error) {
	if s == "" {
		return 0, errSyntax("amount is required")
	}
	if s[0] == '-' {
		return 0, errNegative()
	}
	for i := range len(s) {
		if !isDigit(s[i]) {
			return 0, errSyntax("amount in msat must be a whole number")
		}
	}
	return parseDigits(s)
}

// parseDigits reads a non-empty run of ASCII digits, failing as soon as the
// value passes MaxMsat so that no step can overflow int64.
func parseDigits(s string) (Msat, error) {
	var v Msat
	for i := range len(s) {
		if v > MaxMsat/10 {
			return 0, errTooLarge()
		}
		v = v*10 + Msat(s[i]-'0')
		if v > MaxMsat {
			return 0, errTooLarge()
		}
	}
	return v, nil
}

// stripSeparators removes thousands separators from a run of digits and
// commas, reporting false unless they sit every three digits from the right.
func stripSeparators(s string) (string, bool) {
	if !strings.Contains(s, ",") {
		return s, true
	}
	groups := strings.Split(s, ",")
	if n := len(groups[0]); n < 1 || n > 3 {
		return "", false
	}
	for _, g := range groups[1:] {
		if len(g) != 3 {
			return "", false
		}
	}
	return strings.Join(groups, ""), true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

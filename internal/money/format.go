package money

import (
	"strconv"
	"strings"
)

// String formats m for people: "2,100 sats", "1 sat", "0 sats", and with a
// sub-sat part up to three decimals, "1,234.5 sats". Parse reads it back.
// Ledger balances may be negative, so a sign is shown when there is one.
func (m Msat) String() string {
	if m == MsatPerSat || m == -MsatPerSat {
		return FormatSats(m) + " sat"
	}
	return FormatSats(m) + " sats"
}

// Display formats m as people see amounts on pages: whole sats, the
// sub-sat part dropped (rounded toward zero, so a balance is never shown
// as more than it is): "34,999 sats", "1 sat", "0 sats". The exact
// amount is String's, for the API and the ledger's detail.
func (m Msat) Display() string {
	return (m / MsatPerSat * MsatPerSat).String()
}

// FormatSats formats m as a number of sats without a unit, with thousands
// separators and, only when there is a sub-sat part, up to three decimals:
// "2,100", "1,234.5". Form fields are filled with it, so it parses back.
func FormatSats(m Msat) string {
	neg, u := magnitude(m)
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	writeGrouped(&b, u/uint64(MsatPerSat))
	writeDecimals(&b, u%uint64(MsatPerSat), 3, 0)
	return b.String()
}

// BTC formats m as an exact decimal number of bitcoin, without a unit: eight
// decimals as wallets show them ("0.00002100"), and up to three more when
// there is a sub-sat part ("0.000021005").
func (m Msat) BTC() string {
	neg, u := magnitude(m)
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	b.WriteString(strconv.FormatUint(u/uint64(msatPerBTC), 10))
	writeDecimals(&b, u%uint64(msatPerBTC), 11, 8)
	return b.String()
}

// magnitude splits m into a sign and an absolute value; unsigned so that the
// most negative int64 has one too.
func magnitude(m Msat) (neg bool, u uint64) {
	u = uint64(m)
	if m < 0 {
		u = -u
	}
	return m < 0, u
}

// writeGrouped writes n with a comma every three digits.
func writeGrouped(b *strings.Builder, n uint64) {
	digits := strconv.FormatUint(n, 10)
	lead := len(digits) % 3
	if lead == 0 {
		lead = 3
	}
	b.WriteString(digits[:lead])
	for i := lead; i < len(digits); i += 3 {
		b.WriteByte(',')
		b.WriteString(digits[i : i+3])
	}
}

// writeDecimals writes frac (< 10^width) as "." and width digits, dropping
// trailing zeros but keeping at least keep digits; nothing when no digit
// is left.
func writeDecimals(b *strings.Builder, frac uint64, width, keep int) {
	digits := strconv.FormatUint(frac, 10)
	digits = strings.Repeat("0", width-len(digits)) + digits
	n := len(strings.TrimRight(digits, "0"))
	n = max(n, keep)
	if n == 0 {
		return
	}
	b.WriteByte('.')
	b.WriteString(digits[:n])
}

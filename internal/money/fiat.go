package money

import (
	"fmt"
	"strconv"
	"strings"
)

// FiatPrice is an operator-configured price of one bitcoin in a currency,
// in whole units ("USD:95000"), for showing rough equivalents beside
// sats. The zero value means no price: Approx returns "".
type FiatPrice struct {
	Currency string // ISO 4217 code, upper case
	PerBTC   int64  // whole currency units per bitcoin
}

// ParseFiatPrice reads "CODE:PRICE" (e.g. "USD:95000"); "" is no price.
func ParseFiatPrice(s string) (FiatPrice, error) {
	if s == "" {
		return FiatPrice{}, nil
	}
	code, price, ok := strings.Cut(s, ":")
	code = strings.ToUpper(strings.TrimSpace(code))
	per, err := strconv.ParseInt(strings.TrimSpace(price), 10, 64)
	if !ok || len(code) != 3 || strings.Trim(code, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" || err != nil || per <= 0 || per > 1_000_000_000 {
		return FiatPrice{}, fmt.Errorf("money: fiat price %q: want CODE:PRICE, e.g. USD:95000", s)
	}
	return FiatPrice{Currency: code, PerBTC: per}, nil
}

var fiatSymbols = map[string]string{"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}

// Approx is m in the currency, to the cent (rounded to nearest), as
// "≈ $1.90" or "≈ 1.90 CHF"; "" without a price.
func (p FiatPrice) Approx(m Msat) string {
	if p.PerBTC <= 0 {
		return ""
	}
	// Tenths of a cent, then rounded to the nearest cent.
	tenths, err := MulDiv(m, p.PerBTC*1000, int64(msatPerBTC))
	if err != nil {
		return ""
	}
	cents := (int64(tenths) + 5) / 10
	text := groupThousands(cents/100) + fmt.Sprintf(".%02d", cents%100)
	if sym, ok := fiatSymbols[p.Currency]; ok {
		return "≈ " + sym + text
	}
	return "≈ " + text + " " + p.Currency
}

func groupThousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

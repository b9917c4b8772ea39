// Package money owns amounts: the integer millisatoshi type, its bounds,
// parsing and formatting for people, checked arithmetic and exact splits.
//
// Every Msat this package hands out is Valid: between zero and 21 million
// BTC. Range failures are *apperr.Error values with code apperr.Invalid
// (amounts usually come from people), wrapping ErrRange, ErrSyntax or
// ErrPrecision so callers can tell them apart with errors.Is.
package money

import (
	"errors"
	"math/bits"

	"github.com/keepalive/keepalive/internal/apperr"
)

// Msat is an amount in millisatoshis. It is never a float.
type Msat int64

const (
	// MsatPerSat is the number of millisatoshis in one satoshi.
	MsatPerSat Msat = 1000
	// MaxMsat is 21 million bitcoin, the most any amount may be.
	MaxMsat Msat = 21_000_000 * 100_000_000 * 1000
	// msatPerBTC is kept unexported: nothing outside should count in BTC.
	msatPerBTC Msat = 100_000_000 * 1000
)

var (
	// ErrRange is the cause of errors about negative or too large amounts.
	ErrRange = errors.New("money: amount out of range")
	// ErrSyntax is the cause of errors about input that is not an amount.
	ErrSyntax = errors.New("money: malformed amount")
	// ErrPrecision is the cause of errors about amounts finer than 1 msat.
	ErrPrecision = errors.New("money: amount finer than 1 msat")
)

func errTooLarge() error {
	return apperr.Wrap(ErrRange, apperr.Invalid, "amount must be at most 21,000,000 BTC")
}

func errNegative() error {
	return apperr.Wrap(ErrRange, apperr.Invalid, "amount must not be negative")
}

func errSyntax(msg string) error {
	return apperr.Wrap(ErrSyntax, apperr.Invalid, "%s", msg)
}

// Sats returns the amount in whole satoshis, rounded down.
func (m Msat) Sats() int64 { return int64(m / MsatPerSat) }

// Valid reports whether m is within [0, MaxMsat].
func (m Msat) Valid() bool { return m >= 0 && m <= MaxMsat }

// check returns m if it is Valid, else the matching range error.
func check(m Msat) (Msat, error) {
	switch {
	case m < 0:
		return 0, errNegative()
	case m > MaxMsat:
		return 0, errTooLarge()
	}
	return m, nil
}

// FromMsat converts a count of millisatoshis, checking its bounds.
func FromMsat(msat int64) (Msat, error) { return check(Msat(msat)) }

// FromSats converts a count of satoshis, checking its bounds before
// multiplying so that no input can overflow.
func FromSats(sats int64) (Msat, error) {
	if sats < 0 {
		return 0, errNegative()
	}
	if sats > int64(MaxMsat/MsatPerSat) {
		return 0, errTooLarge()
	}
	return Msat(sats) * MsatPerSat, nil
}

// MustSats is FromSats for constants and tests; it panics when out of range.
func MustSats(sats int64) Msat {
	m, err := FromSats(sats)
	if err != nil {
		panic(err)
	}
	return m
}

// Add returns a+b, or an error if either is not Valid or the sum exceeds
// MaxMsat. Valid inputs cannot overflow int64 (2·MaxMsat < 2^63).
func Add(a, b Msat) (Msat, error) {
	if _, err := check(a); err != nil {
		return 0, err
	}
	if _, err := check(b); err != nil {
		return 0, err
	}
	return check(a + b)
}

// Sub returns a−b, or an error if either is not Valid or b > a.
func Sub(a, b Msat) (Msat, error) {
	if _, err := check(a); err != nil {
		return 0, err
	}
	if _, err := check(b); err != nil {
		return 0, err
	}
	return check(a - b)
}

// MulDiv returns floor(a·num/den) for a Valid a, num ≥ 0 and den > 0. The
// product is kept in 128 bits, so only a result above MaxMsat is an error.
// It is how rates meet durations (rate per hour × seconds / 3600) and how
// fees in parts per million are taken.
func MulDiv(a Msat, num, den int64) (Msat, error) {
	if _, err := check(a); err != nil {
		return 0, err
	}
	if num < 0 || den <= 0 {
		return 0, apperr.Wrap(ErrRange, apperr.Invalid, "ratio must have num >= 0 and den > 0")
	}
	hi, lo := bits.Mul64(uint64(a), uint64(num))
	if hi >= uint64(den) { // the quotient would not fit in 64 bits
		return 0, errTooLarge()
	}
	q, _ := bits.Div64(hi, lo, uint64(den))
	if q > uint64(MaxMsat) {
		return 0, errTooLarge()
	}
	return Msat(q), nil
}

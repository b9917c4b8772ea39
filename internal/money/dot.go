package money

import (
	"fmt"
	"math/bits"

	"github.com/keepalive/keepalive/internal/apperr"
)

// DotDiv returns floor(Σ amounts[i]·weights[i] / den) for Valid amounts and
// den > 0. The sum of products is kept in 128 bits, so only a result above
// MaxMsat is an error (as is a sum beyond 128 bits, which would take more
// than 2^52 terms). It is how position weights in basis points meet bids in
// the sponsorship auction's VCG charges.
func DotDiv(amounts []Msat, weights []uint64, den uint64) (Msat, error) {
	if len(amounts) != len(weights) {
		return 0, fmt.Errorf("money: dot: %d amounts for %d weights", len(amounts), len(weights))
	}
	if den == 0 {
		return 0, apperr.Wrap(ErrRange, apperr.Invalid, "divisor must be positive")
	}
	var sum u128
	for i, a := range amounts {
		if _, err := check(a); err != nil {
			return 0, err
		}
		var ok bool
		if sum, ok = sum.addChecked(mul64(uint64(a), weights[i])); !ok {
			return 0, errTooLarge()
		}
	}
	if sum.hi >= den { // the quotient would not fit in 64 bits
		return 0, errTooLarge()
	}
	q, _ := sum.divMod(u128{0, den})
	return check(Msat(q))
}

// addChecked returns x+y and whether it fit in 128 bits.
func (x u128) addChecked(y u128) (u128, bool) {
	lo, carry := bits.Add64(x.lo, y.lo, 0)
	hi, carry := bits.Add64(x.hi, y.hi, carry)
	return u128{hi, lo}, carry == 0
}

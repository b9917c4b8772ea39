package money

import (
	"cmp"
	"errors"
	"fmt"
	"math/bits"
	"slices"
)

// Split divides total among parties in proportion to weights, exactly: the
// parts sum to total and each is within 1 msat of its exact share
// total·w_i/W. Each party first gets floor(total·w_i/W), computed in 128
// bits so that any weights work (their sum may exceed 64 bits); the msat
// still left go one each to the largest remainders. Ties go to the earlier
// index, so callers order parties by earlier investment, then id. A
// bigger weight never gets less, and a zero weight gets nothing.
//
// It fails if total is not Valid, weights is empty or all weights are zero:
// those are the caller's bugs, since there would be nowhere to put the money.
func Split(total Msat, weights []uint64) ([]Msat, error) {
	if !total.Valid() {
		return nil, fmt.Errorf("money: split %d: %w", total, ErrRange)
	}
	parts := make([]Msat, len(weights))
	if err := splitAmong(parts, total, weights, seq(len(weights))); err != nil {
		return nil, err
	}
	return parts, nil
}

// SplitCapped is Split with a cap on each part, by water-filling: parties
// whose share would exceed their cap get the cap, and what they leave is
// split again among the others by weight, until no share exceeds its cap.
// When every party with a weight is capped, what remains is leftover (the
// offering's runway keeps it). sum(parts)+leftover == total and
// parts[i] <= caps[i]; a party that is not capped gets at least
// floor(total·w_i/W), never less than without caps.
//
// Unlike Split, no party, or none with a weight, is fine: all of total is
// leftover. A cap of 0 means that party gets nothing; a negative cap, or
// caps not matching weights, is an error.
func SplitCapped(total Msat, weights []uint64, caps []Msat) (parts []Msat, leftover Msat, err error) {
	if !total.Valid() {
		return nil, 0, fmt.Errorf("money: split %d capped: %w", total, ErrRange)
	}
	if len(caps) != len(weights) {
		return nil, 0, fmt.Errorf("money: split capped: %d caps for %d weights", len(caps), len(weights))
	}
	active := make([]int, 0, len(weights))
	for i, c := range caps {
		if c < 0 {
			return nil, 0, fmt.Errorf("money: split capped: cap %d of party %d: %w", c, i, ErrRange)
		}
		if c > 0 && weights[i] > 0 {
			active = append(active, i)
		}
	}
	parts = make([]Msat, len(weights))
	remaining := total
	// Each round removes at least one party, so this ends. Clipping
	// everyone over their cap at once is safe: removing a capped party
	// only raises the others' shares, so a party over its cap now would
	// be over it in every later round too.
	for len(active) > 0 {
		if err := splitAmong(parts, remaining, weights, active); err != nil {
			return nil, 0, err
		}
		uncapped := active[:0]
		for _, i := range active {
			if parts[i] > caps[i] {
				parts[i] = caps[i]
				remaining -= caps[i]
			} else {
				uncapped = append(uncapped, i)
			}
		}
		if len(uncapped) == len(active) {
			return parts, 0, nil
		}
		active = uncapped
	}
	return parts, remaining, nil
}

var errZeroWeights = errors.New("money: split: no party has a weight")

// splitAmong writes into parts[i], for each i in among (ascending), the
// largest-remainder share of total by weights[i]; other parts are untouched.
func splitAmong(parts []Msat, total Msat, weights []uint64, among []int) error {
	var sum u128
	for _, i := range among {
		sum = sum.add64(weights[i])
	}
	if sum.isZero() {
		return errZeroWeights
	}
	rems := make([]u128, len(among))
	given := Msat(0)
	for k, i := range among {
		// floor(total·w/W) <= total, so the quotient fits in 64 bits.
		q, r := mul64(uint64(total), weights[i]).divMod(sum)
		parts[i] = Msat(q)
		rems[k] = r
		given += Msat(q)
	}
	// Remainders sum to (total−given)·W with each below W, so fewer msat
	// are left than parties, and only parties with a remainder get one.
	left := int(total - given)
	if left == 0 {
		return nil
	}
	order := seq(len(among))
	// Only which parties get the msat matters, not their order: select the
	// left largest remainders (ties to the earlier party) in linear time
	// instead of sorting them all.
	selectFirst(order, left, func(a, b int) bool {
		if c := rems[a].cmp(rems[b]); c != 0 {
			return c > 0
		}
		return a < b
	})
	for _, k := range order[:left] {
		parts[among[k]]++
	}
	return nil
}

// selectFirst reorders s so that its first k elements are the k smallest
// by less (a strict total order), in expected linear time (quickselect
// with a median-of-three pivot; small ranges are sorted).
func selectFirst(s []int, k int, less func(a, b int) bool) {
	lo, hi := 0, len(s) // the k-th boundary lies in s[lo:hi]
	for hi-lo > 16 {
		mid := lo + (hi-lo)/2
		// Median of three to s[hi-1] as the pivot.
		if less(s[mid], s[lo]) {
			s[mid], s[lo] = s[lo], s[mid]
		}
		if less(s[hi-1], s[lo]) {
			s[hi-1], s[lo] = s[lo], s[hi-1]
		}
		if less(s[mid], s[hi-1]) {
			s[mid], s[hi-1] = s[hi-1], s[mid]
		}
		pivot := s[hi-1]
		store := lo
		for i := lo; i < hi-1; i++ {
			if less(s[i], pivot) {
				s[i], s[store] = s[store], s[i]
				store++
			}
		}
		s[store], s[hi-1] = s[hi-1], s[store]
		switch {
		case store == k || store+1 == k:
			return
		case store > k:
			hi = store
		default:
			lo = store + 1
		}
	}
	slices.SortFunc(s[lo:hi], func(a, b int) int {
		if less(a, b) {
			return -1
		}
		return 1
	})
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// u128 is an unsigned 128-bit integer, enough for msat × weight products and
// sums of weights.
type u128 struct{ hi, lo uint64 }

func mul64(a, b uint64) u128 {
	hi, lo := bits.Mul64(a, b)
	return u128{hi, lo}
}

func (x u128) isZero() bool { return x.hi == 0 && x.lo == 0 }

// add64 panics on overflow, which would take 2^64 weights.
func (x u128) add64(y uint64) u128 {
	lo, carry := bits.Add64(x.lo, y, 0)
	hi, carry := bits.Add64(x.hi, 0, carry)
	if carry != 0 {
		panic("money: u128 overflow")
	}
	return u128{hi, lo}
}

func (x u128) sub(y u128) u128 {
	lo, borrow := bits.Sub64(x.lo, y.lo, 0)
	hi, _ := bits.Sub64(x.hi, y.hi, borrow)
	return u128{hi, lo}
}

func (x u128) cmp(y u128) int {
	if c := cmp.Compare(x.hi, y.hi); c != 0 {
		return c
	}
	return cmp.Compare(x.lo, y.lo)
}

// mulBy returns x·y modulo 2^128.
func (x u128) mulBy(y uint64) u128 {
	hi, lo := bits.Mul64(x.lo, y)
	return u128{hi + x.hi*y, lo}
}

// divMod returns x/v and x%v for v != 0, when the quotient fits in 64 bits
// (it panics otherwise, like bits.Div64). For a divisor of more than 64 bits
// it estimates the quotient from the divisor's top 64 bits, which is at
// most one too small, and corrects it (Hacker's Delight, 9-5).
func (x u128) divMod(v u128) (uint64, u128) {
	if v.hi == 0 {
		q, r := bits.Div64(x.hi, x.lo, v.lo)
		return q, u128{0, r}
	}
	n := uint(bits.LeadingZeros64(v.hi))
	vTop := v.hi<<n | v.lo>>(64-n) // in Go, v.lo>>64 is 0, which n == 0 needs
	half := u128{x.hi >> 1, x.hi<<63 | x.lo>>1}
	q1, _ := bits.Div64(half.hi, half.lo, vTop) // half.hi < 2^63 <= vTop
	q := q1 >> (63 - n)
	if q != 0 {
		q--
	}
	r := x.sub(v.mulBy(q))
	if r.cmp(v) >= 0 {
		q++
		r = r.sub(v)
	}
	return q, r
}

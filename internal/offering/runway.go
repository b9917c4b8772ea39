package offering

import (
	"math/bits"
	"time"

	"github.com/keepalive/keepalive/internal/money"
)

// State is where an offering stands in its funding.
type State string

const (
	Alive   State = "alive"   // paid for until funded_until
	Grace   State = "grace"   // past funded_until, within the grace period
	Expired State = "expired" // past the grace period, or never funded
)

const msPerHour = 3_600_000

// Status is the funding status of an offering at one instant.
type Status struct {
	Slug                string
	State               State
	FundedUntil         time.Time // zero when never funded
	RunwaySeconds       int64
	RunwayMsat          money.Msat // what is left of the runway now
	BurnRateMsatPerHour money.Msat
	At                  time.Time
}

// Alive reports whether the host should keep the offering running.
func (s Status) Alive() bool { return s.State == Alive }

// Snapshot is what the status needs from the database: the offering's
// runway as of its last posted accrual. Everything else follows from the
// clock, so reads never wait for the accrual job.
type Snapshot struct {
	Slug                string
	BurnRateMsatPerHour money.Msat
	GraceSeconds        int64
	AccruedAt           time.Time
	FundedUntil         *time.Time
	RunwayPosted        money.Msat // runway balance at AccruedAt
}

// StatusAt computes the status at now.
func (s Snapshot) StatusAt(now time.Time) Status {
	st := Status{Slug: s.Slug, BurnRateMsatPerHour: s.BurnRateMsatPerHour, At: now, State: Expired}
	consumed, _ := consumption(s.RunwayPosted, s.BurnRateMsatPerHour, now.Sub(s.AccruedAt))
	st.RunwayMsat = s.RunwayPosted - consumed
	if s.FundedUntil == nil {
		return st
	}
	st.FundedUntil = *s.FundedUntil
	left := st.FundedUntil.Sub(now)
	switch {
	case left > 0:
		st.State = Alive
		st.RunwaySeconds = int64(left / time.Second)
	case -left < time.Duration(s.GraceSeconds)*time.Second:
		st.State = Grace
	}
	return st
}

// consumption returns how much of runway the burn rate consumes over
// elapsed, and how much of elapsed that amount pays for. When the runway
// lasts, paid is at most elapsed and falls short only by the rounding of
// the last msat, so repeated accruals never lose time to rounding; when
// it runs out, consumed is the whole runway.
func consumption(runway, burnPerHour money.Msat, elapsed time.Duration) (consumed money.Msat, paid time.Duration) {
	if runway <= 0 || burnPerHour <= 0 || elapsed <= 0 {
		return 0, 0
	}
	ms := uint64(elapsed / time.Millisecond)
	c := mulDiv(uint64(burnPerHour), ms, msPerHour)
	if c >= uint64(runway) {
		return runway, elapsed
	}
	// Time the consumed amount pays for, rounded down to the millisecond.
	paidMs := mulDiv(c, msPerHour, uint64(burnPerHour))
	return money.Msat(c), time.Duration(paidMs) * time.Millisecond
}

// fundedUntil is from + how long runway lasts at the burn rate.
func fundedUntil(from time.Time, runway, burnPerHour money.Msat) time.Time {
	if burnPerHour <= 0 {
		return from
	}
	ms := mulDiv(uint64(runway), msPerHour, uint64(burnPerHour))
	const maxMs = uint64(100 * 365 * 24 * msPerHour) // beyond a century is forever enough
	if ms > maxMs {
		ms = maxMs
	}
	return from.Add(time.Duration(ms) * time.Millisecond)
}

// mulDiv returns floor(a*b/c) with a 128-bit intermediate, saturating at
// the largest uint64.
func mulDiv(a, b, c uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	if hi >= c {
		return ^uint64(0)
	}
	q, _ := bits.Div64(hi, lo, c)
	return q
}

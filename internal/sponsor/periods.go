package sponsor

import (
	"time"

	"github.com/keepalive/keepalive/internal/apperr"
)

// Period is how long a sponsorship period lasts; periods are aligned to
// UTC boundaries (weeks start on Monday).
type Period string

const (
	Hour  Period = "hour"
	Day   Period = "day"
	Week  Period = "week"
	Month Period = "month"
)

// Valid reports whether p is one of the four lengths.
func (p Period) Valid() bool {
	switch p {
	case Hour, Day, Week, Month:
		return true
	}
	return false
}

// Floor returns the start of the period holding t.
func (p Period) Floor(t time.Time) time.Time {
	t = t.UTC()
	y, m, d := t.Date()
	switch p {
	case Hour:
		return t.Truncate(time.Hour)
	case Day:
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	case Week:
		offset := (int(t.Weekday()) + 6) % 7 // days since Monday
		return time.Date(y, m, d-offset, 0, 0, 0, 0, time.UTC)
	default:
		return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
	}
}

// Next returns the start of the period after the one starting at start.
func (p Period) Next(start time.Time) time.Time {
	switch p {
	case Hour:
		return start.Add(time.Hour)
	case Day:
		return start.AddDate(0, 0, 1)
	case Week:
		return start.AddDate(0, 0, 7)
	default:
		return start.AddDate(0, 1, 0)
	}
}

// Open returns the starts of the n periods that take bids at now: those
// that have not started yet, nearest first.
func (p Period) Open(now time.Time, n int) []time.Time {
	out := make([]time.Time, 0, n)
	start := p.Floor(now)
	for len(out) < n {
		start = p.Next(start)
		out = append(out, start)
	}
	return out
}

// ParseStart reads a period's name, its start in RFC 3339 UTC
// ("2026-12-07T00:00:00Z"), and checks that a period of length p starts
// then.
func ParseStart(p Period, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil || t.Location() != time.UTC || !p.Floor(t).Equal(t) {
		return time.Time{}, apperr.New(apperr.NotFound, "No %s-long sponsorship period starts at %q: periods are named by their start in UTC, like 2026-12-07T00:00:00Z.", p, s)
	}
	return t, nil
}

// FormatStart is a period's name.
func FormatStart(t time.Time) string { return t.UTC().Format(time.RFC3339) }

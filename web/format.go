package web

import (
	"fmt"
	"time"

	"github.com/keepalive/keepalive/internal/money"
	"github.com/keepalive/keepalive/internal/offering"
	"github.com/keepalive/keepalive/templates"
)

// barScale is the runway that fills the runway bar: a month.
const barScale = 30 * 24 * time.Hour

// card turns an offering and its status into what a list or page shows.
func card(o offering.Offering, st offering.Status) templates.OfferingCard {
	pct := int(time.Duration(st.RunwaySeconds) * time.Second * 100 / barScale)
	if pct > 100 {
		pct = 100
	}
	if st.RunwaySeconds > 0 && pct == 0 {
		pct = 1 // a sliver, so alive never looks empty
	}
	return templates.OfferingCard{
		Slug: o.Slug, Name: o.Name, URL: o.URL, Description: o.Description,
		State: string(st.State), FundedUntil: st.FundedUntil, RunwaySeconds: st.RunwaySeconds,
		RunwayText: humanDuration(time.Duration(st.RunwaySeconds) * time.Second),
		BurnPerDay: perDay(o.BurnRateMsatPerHour), RunwayPercent: pct,
		GraceEndsAt: graceEnds(st.FundedUntil, o.GraceSeconds),
	}
}

// perDay shows a burn rate as sats a day, rounded to the nearest sat.
func perDay(perHour money.Msat) string {
	day := perHour * 24
	return roundSats(day).String() + "/day"
}

func roundSats(m money.Msat) money.Msat {
	return (m + money.MsatPerSat/2) / money.MsatPerSat * money.MsatPerSat
}

// humanDuration says how long, rounded to the nearest of the largest
// unit that reads well: a week bought just now is "7 days", not the
// "6 days" that flooring 6 days 23:59:59 would say.
func humanDuration(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d <= 0:
		return "no runway"
	case d < time.Minute:
		return "less than a minute"
	case d < time.Hour-30*time.Second:
		return plural(int64((d+30*time.Second)/time.Minute), "minute")
	case d < 47*time.Hour+30*time.Minute:
		return plural(int64((d+30*time.Minute)/time.Hour), "hour")
	case d < 730*day:
		return plural(int64((d+12*time.Hour)/day), "day")
	}
	return plural(int64((d+day*365/2)/(365*day)), "year")
}

func plural(n int64, unit string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", unit)
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

func secondsDuration(sec int64) time.Duration { return time.Duration(sec) * time.Second }

// graceEnds is when an offering funded until fundedUntil stops running.
func graceEnds(fundedUntil time.Time, graceSeconds int64) time.Time {
	if fundedUntil.IsZero() {
		return time.Time{}
	}
	return fundedUntil.Add(secondsDuration(graceSeconds))
}

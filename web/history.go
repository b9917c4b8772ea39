package web

import (
	"context"
	"math/bits"
	"net/http"
	"net/url"
	"strconv"
	"sync"

	"golang.org/x/sync/singleflight"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/money"
	"github.com/keepalive/keepalive/internal/offering"
	"github.com/keepalive/keepalive/templates"
)

const (
	historyWindow   = 30 * 24 * time.Hour
	wallSize        = 20
	ledgerPageSize  = 50
	chartPlotWidth  = 1000 // the chart's viewBox is 1000 × 100
	chartPlotHeight = 100
)

// historyRoutes adds the public ledger page. The offering page's chart and
// donor wall come from historyView, called by offeringView.
func (s *Server) historyRoutes(e *echo.Echo) {
	e.GET("/o/:slug/ledger", s.publicLedger)
}

// historyView is the offering page's funding history: runway over the
// last 30 days, payments, and the donor wall.
func (s *Server) historyView(ctx context.Context, o offering.Offering, st offering.Status) (templates.HistoryView, error) {
	// Every payment moves funded_until, so keying on it shows a new
	// payment (and its name on the wall) at once; the TTL redraws the
	// draining runway. The offering page is read far more than it changes.
	key := o.Slug + "|" + strconv.FormatInt(st.FundedUntil.UnixMilli(), 10) + "|" + string(st.State)
	if v, ok := s.history.get(key, s.Offerings.Now()); ok {
		return v, nil
	}
	// When a busy page's history expires, every request in flight misses
	// at once: one of them draws it, the others wait for that drawing
	// (which outlives a caller that goes away) instead of each querying.
	v, err, _ := s.history.loads.Do(key, func() (any, error) {
		if v, ok := s.history.get(key, s.Offerings.Now()); ok {
			return v, nil
		}
		v, err := s.loadHistory(context.WithoutCancel(ctx), o)
		if err == nil {
			s.history.put(key, v, s.Offerings.Now())
		}
		return v, err
	})
	if err != nil {
		return templates.HistoryView{}, err
	}
	return v.(templates.HistoryView), nil
}

func (s *Server) loadHistory(ctx context.Context, o offering.Offering) (templates.HistoryView, error) {
	now := s.Offerings.Now()
	points, err := s.Offerings.History(ctx, o.ID, now.Add(-historyWindow))
	if err != nil {
		return templates.HistoryView{}, err
	}
	h := templates.HistoryView{Chart: runwayChart(o.Name, points), LedgerURL: ledgerPath(o.Slug)}
	h.Heading = "Runway, last 30 days"
	if len(points) > 0 && points[0].At.After(now.Add(-historyWindow+time.Hour)) {
		// The chart starts at the first payment, not 30 days back.
		h.Heading = "Runway since " + points[0].At.UTC().Format("2 Jan 2006 15:04") + " UTC"
	}
	if s.Funding == nil {
		return h, nil
	}
	if h.Payments, err = s.Funding.Payments(ctx, o.ID); err != nil {
		return templates.HistoryView{}, err
	}
	wall, err := s.Funding.Wall(ctx, o.ID, wallSize)
	if err != nil {
		return templates.HistoryView{}, err
	}
	for _, w := range wall {
		h.Wall = append(h.Wall, templates.WallRow{Name: w.Name, Anonymous: w.Anonymous, Message: w.Message,
			AmountText: w.Amount.Display(), When: w.SettledAt})
	}
	return h, nil
}

func ledgerPath(slug string) string { return "/o/" + url.PathEscape(slug) + "/ledger" }

// runwayChart lays the history out on the chart's 1000 × 100 plot: time
// from the first point to the last across, the runway up from zero to a
// round number of sats at or above the highest point. Coordinates are
// computed in integers (tenths of a plot unit): they come from msat.
func runwayChart(name string, points []offering.HistoryPoint) templates.RunwayChart {
	var top money.Msat
	payments := 0
	for _, p := range points {
		top = max(top, p.Runway)
		if p.Payment > 0 {
			payments++
		}
	}
	if len(points) < 2 || top == 0 {
		return templates.RunwayChart{Empty: true}
	}
	ceiling := niceCeiling(top)
	from, to := points[0].At, points[len(points)-1].At
	span := to.Sub(from)
	x := func(t time.Time) string {
		if span <= 0 {
			return "0"
		}
		return tenths(scale(uint64(t.Sub(from)/time.Millisecond), chartPlotWidth*10, uint64(span/time.Millisecond)))
	}
	y := func(m money.Msat) string {
		return tenths(chartPlotHeight*10 - scale(uint64(max(0, m)), chartPlotHeight*10, uint64(ceiling)))
	}
	c := templates.RunwayChart{
		Title:  "Runway of " + name + " from " + templates.FormatDate(from) + " to " + templates.FormatDate(to),
		YTicks: []string{ceiling.Display(), (ceiling / 2).Display(), "0"},
		XTicks: axisLabels(from, to),
	}
	line := ""
	for i, p := range points {
		cmd := "L"
		if i == 0 {
			cmd = "M"
		}
		line += cmd + x(p.At) + "," + y(p.Runway) + " "
		if p.Payment > 0 {
			c.Markers = append(c.Markers, templates.ChartMarker{X: x(p.At), Y: y(p.Runway),
				Label: p.Payment.Display() + " on " + templates.FormatDate(p.At)})
		}
	}
	c.Line = line[:len(line)-1]
	c.Area = "M" + x(from) + ",100 " + "L" + line[1:] + "L" + x(to) + ",100 Z"
	last := points[len(points)-1].Runway
	c.Desc = "The runway, in sats, from " + templates.FormatDate(from) + " to now, highest " + top.Display() +
		", now " + last.Display() + "; " + plural(int64(payments), "payment") + " in that time, each drawn as a stem."
	return c
}

// axisLabels label the time axis at its start, middle and end with the
// times themselves (UTC), as precise as the span needs: clock times
// within two days, dates beyond.
func axisLabels(from, to time.Time) []string {
	layout := "2 Jan"
	switch span := to.Sub(from); {
	case span < 3*time.Minute:
		layout = "15:04:05"
	case span < 48*time.Hour:
		layout = "15:04"
	case span < 7*24*time.Hour:
		layout = "2 Jan 15:04"
	}
	label := func(t time.Time) string { return t.UTC().Format(layout) }
	return []string{label(from), label(from.Add(to.Sub(from) / 2)), label(to) + " UTC"}
}

// niceCeiling is the smallest 1, 2 or 5 × 10ⁿ sats at or above m, so the
// axis reads in round numbers.
func niceCeiling(m money.Msat) money.Msat {
	for step := money.MsatPerSat; ; step *= 10 {
		for _, k := range []money.Msat{1, 2, 5} {
			if k*step >= m {
				return k * step
			}
		}
		if step > money.MaxMsat/10 {
			return m
		}
	}
}

// scale is a·b/c with a 128-bit intermediate, at most b.
func scale(a, b, c uint64) uint64 {
	if c == 0 {
		return 0
	}
	hi, lo := bits.Mul64(a, b)
	if hi >= c {
		return b
	}
	q, _ := bits.Div64(hi, lo, c)
	return min(q, b)
}

// tenths formats n tenths as a decimal: 1234 → "123.4".
func tenths(n uint64) string {
	return strconv.FormatUint(n/10, 10) + "." + strconv.FormatUint(n%10, 10)
}

// publicLedger is /o/{slug}/ledger: every movement of the offering's
// money, newest first, a page at a time (?before=<cursor>).
func (s *Server) publicLedger(c echo.Context) error {
	ctx := c.Request().Context()
	o, fin, err := s.Offerings.View(ctx, c.Param("slug"))
	if err != nil {
		return err
	}
	var before int64
	if raw := c.QueryParam("before"); raw != "" {
		before, err = strconv.ParseInt(raw, 10, 64)
		if err != nil || before <= 0 {
			return apperr.New(apperr.Invalid, "That page of the ledger does not exist.")
		}
	}
	page, err := s.Offerings.PublicLedger(ctx, o.ID, ledgerPageSize, before)
	if err != nil {
		return err
	}
	v := templates.LedgerView{Page: s.page(c, "Public ledger of "+o.Name), Offering: card(o, fin.Status), OfferingURL: pathOfOffering(o.Slug)}
	var notes map[int64]string // investments and revenue events, named by invest
	if s.Invest != nil {
		ids := make([]int64, 0, len(page.Entries))
		for _, e := range page.Entries {
			if e.Postings == 1 {
				ids = append(ids, e.ID)
			}
		}
		if notes, err = s.Invest.LedgerNotes(ctx, o.ID, ids); err != nil {
			return err
		}
	}
	for _, e := range page.Entries {
		if note, ok := notes[e.ID]; ok && e.Postings == 1 {
			e.Movement = note
		}
		v.Rows = append(v.Rows, templates.LedgerRow{When: e.At, Since: e.Since, Movement: e.Movement, Direction: string(e.Direction), AmountText: e.Amount.String()})
	}
	if page.Older > 0 {
		v.OlderURL = ledgerPath(o.Slug) + "?before=" + strconv.FormatInt(page.Older, 10)
	}
	if before > 0 {
		v.NewestURL = ledgerPath(o.Slug)
	}
	return s.render(c, http.StatusOK, templates.Ledger(v))
}

func pathOfOffering(slug string) string { return "/o/" + url.PathEscape(slug) }

// historyTTL is how long a drawn history is reused.
const historyTTL = 30 * time.Second

// historyCache keeps drawn histories by offering and funding state,
// bounded by dropping everything when full.
type historyCache struct {
	mu    sync.Mutex
	m     map[string]historyEntry
	loads singleflight.Group
}

type historyEntry struct {
	v  templates.HistoryView
	at time.Time
}

func (h *historyCache) get(key string, now time.Time) (templates.HistoryView, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e, ok := h.m[key]
	if !ok || now.Sub(e.at) >= historyTTL || now.Before(e.at) {
		return templates.HistoryView{}, false
	}
	return e.v, true
}

func (h *historyCache) put(key string, v templates.HistoryView, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil || len(h.m) >= 4096 {
		h.m = map[string]historyEntry{}
	}
	h.m[key] = historyEntry{v: v, at: now}
}

package templates

import "time"

// HistoryView is the funding history shown on an offering page: the
// runway chart, the donor wall and the way to the public ledger.
type HistoryView struct {
	Chart     RunwayChart
	Wall      []WallRow // newest first
	LedgerURL string    // "/o/{slug}/ledger"; "" hides the history sections
	Heading   string    // "Runway, last 30 days", or since when when the chart starts later
	Payments  int64     // settled payments ever, for the goal line
}

// RunwayChart is a server-drawn chart of the runway over a window. The
// SVG stretches to its box (preserveAspectRatio none, strokes that do
// not scale), so every coordinate is in a fixed 1000 × 100 plot; the
// labels are HTML around it and stay legible at any width.
type RunwayChart struct {
	Empty   bool   // no runway at any time in the window: say so instead
	Title   string // the SVG's accessible name
	Desc    string // what the chart shows, in words
	Line    string // path data of the runway line
	Area    string // path data of the area under it
	Markers []ChartMarker
	YTicks  []string // labels from the top gridline down: max, half, "0"
	XTicks  []string // labels from left to right: the times at start, middle and end
}

// ChartMarker is one payment on the chart: a stem from the baseline up to
// the runway just after it.
type ChartMarker struct {
	X, Y  string // plot coordinates
	Label string // "21,000 sats on 2 Nov 2026 12:00 UTC", the marker's title
}

// WallRow is one donation on the donor wall.
type WallRow struct {
	Name       string // "Anonymous" when the donor showed none
	Anonymous  bool
	Message    string
	AmountText string // "21,000 sats"
	When       time.Time
}

// LedgerView is an offering's public ledger, at /o/{slug}/ledger.
type LedgerView struct {
	Page
	Offering    OfferingCard
	OfferingURL string
	Rows        []LedgerRow // newest first
	OlderURL    string      // next page, "" when this is the last
	NewestURL   string      // back to the first page, "" on it
}

// LedgerRow is one movement of the offering's money.
type LedgerRow struct {
	When       time.Time
	Since      time.Time // set when the row sums a day's postings: the first one's time, When the last's
	Movement   string    // "payment in", "runway consumed", …
	Direction  string    // "in" | "out" | "within"
	AmountText string
}

// ledgerDirection maps a direction to a CSS modifier, never echoing
// unknown input into a class name.
func ledgerDirection(d string) string {
	switch d {
	case "in", "out":
		return d
	}
	return "within"
}

// ledgerSign marks money in and out for the eye; the words before it are
// for screen readers.
func ledgerSign(d string) string {
	switch ledgerDirection(d) {
	case "in":
		return "+"
	case "out":
		return "−"
	}
	return ""
}

func ledgerDirectionWords(d string) string {
	switch ledgerDirection(d) {
	case "in":
		return "in:"
	case "out":
		return "out:"
	}
	return "moved within the offering:"
}

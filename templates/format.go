package templates

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
)

// dateLayout is how every date reads on the site: unambiguous across
// locales, and always UTC so owners and hosts see the same instant.
const dateLayout = "2 Jan 2006 15:04 UTC"

// FormatDate formats t for people ("2 Jan 2006 15:04 UTC").
func FormatDate(t time.Time) string { return t.UTC().Format(dateLayout) }

// FormatSpan formats the stretch of one UTC day from since to until
// ("2 Jan 2006 13:00–18:00 UTC"; as FormatDate when both are the same
// minute).
func FormatSpan(since, until time.Time) string {
	from, to := since.UTC().Format("15:04"), until.UTC().Format("15:04")
	if from == to {
		return FormatDate(until)
	}
	return until.UTC().Format("2 Jan 2006 ") + from + "–" + to + " UTC"
}

// machineDate is for <time datetime>.
func machineDate(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// stateLabel names a state for people. A never-funded offering is
// "expired" to the domain but reads better as not funded yet.
func stateLabel(o OfferingCard) string {
	switch o.State {
	case "alive":
		return "Alive"
	case "grace":
		return "In grace"
	case "expired":
		if o.FundedUntil.IsZero() {
			return "Not funded yet"
		}
		return "Expired"
	}
	return o.State
}

// stateClass maps a state to a CSS modifier, never echoing unknown input
// into a class name.
func stateClass(state string) string {
	switch state {
	case "alive", "grace":
		return state
	}
	return "expired"
}

// barWidth clamps the runway percent to the bar's 0..100 viewBox.
func barWidth(pct int) string {
	pct = max(0, min(100, pct))
	return strconv.Itoa(pct)
}

func offeringPath(slug string) string { return "/o/" + url.PathEscape(slug) }

func editPath(slug string) string { return "/offerings/" + url.PathEscape(slug) + "/edit" }

// displayURL shows a link without its scheme, as people read it.
func displayURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return raw
	}
	s := u.Host + u.EscapedPath()
	if len(s) > 1 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}

// fieldAttrs are the accessibility attributes of an input with an error.
func fieldAttrs(id string, f FormField, hint bool) templ.Attributes {
	desc := ""
	if hint {
		desc = id + "-hint"
	}
	a := templ.Attributes{}
	if f.Error != "" {
		a["aria-invalid"] = "true"
		if desc != "" {
			desc += " "
		}
		desc += id + "-error"
	}
	if desc != "" {
		a["aria-describedby"] = desc
	}
	return a
}

func pageTitle(p Page) string {
	if p.Title == "" {
		return "Keepalive"
	}
	return p.Title + " · Keepalive"
}

// isCurrent says whether the nav link href is the section of path. The
// home link matches only the home page; offering pages belong to it too.
func isCurrent(path, href string) bool {
	if href == "/" {
		return path == "/" || strings.HasPrefix(path, "/o/")
	}
	return path == href || strings.HasPrefix(path, href+"/")
}

// runwayLabel is what a screen reader says for the runway bar.
func runwayLabel(o OfferingCard) string {
	if o.RunwaySeconds <= 0 {
		return "Runway: none left"
	}
	return "Runway: " + o.RunwayText + " left (bar is full at 30 days)"
}

func runwayOrNone(o OfferingCard) string {
	if o.RunwaySeconds <= 0 {
		return "none"
	}
	return o.RunwayText
}

func formAction(f OfferingForm) string {
	if f.Editing {
		return editPath(f.Slug)
	}
	return "/offerings"
}

func dashboardURL(u string) string {
	if u == "" {
		return "/dashboard"
	}
	return u
}

// donateChecked says whether the amount radio with value is the checked
// one. With nothing selected the second preset is: a middle amount is the
// usual choice, and a default keeps the form one tap from done.
func donateChecked(f DonateForm, value string) bool {
	sel := f.Selected
	if sel == "" {
		switch {
		case len(f.Presets) > 1:
			sel = strconv.FormatInt(f.Presets[1].Sats, 10)
		case len(f.Presets) == 1:
			sel = strconv.FormatInt(f.Presets[0].Sats, 10)
		default:
			sel = "custom"
		}
	}
	return sel == value
}

// invoiceState maps an invoice's state to the three the page knows;
// anything else (canceled, unknown) is shown as expired: not payable.
func invoiceState(s string) string {
	switch s {
	case "open", "settled":
		return s
	}
	return "expired"
}

// secondsLeft is how long the invoice stays payable, from v.Now (or the
// clock), never negative.
func secondsLeft(v InvoiceView) int64 {
	now := v.Now
	if now.IsZero() {
		now = time.Now()
	}
	return max(0, int64(v.ExpiresAt.Sub(now)/time.Second))
}

// countdown formats seconds as a clock: "59:12", or "1:05:00" past the
// hour. static/js/app.js ticks the same format.
func countdown(secs int64) string {
	h, m, s := secs/3600, secs/60%60, secs%60
	if h > 0 {
		return strconv.FormatInt(h, 10) + ":" + pad2(m) + ":" + pad2(s)
	}
	return strconv.FormatInt(m, 10) + ":" + pad2(s)
}

func pad2(n int64) string {
	if n < 10 {
		return "0" + strconv.FormatInt(n, 10)
	}
	return strconv.FormatInt(n, 10)
}

func fundAnchor(offeringURL string) string { return offeringURL + "#fund" }

// lightningHref makes a "lightning:" link. templ refuses schemes it does
// not know, so this checks the shape itself: the scheme and then only
// letters and digits (bech32 invoices and LNURLs), else no link at all.
func lightningHref(uri string) templ.SafeURL {
	rest, ok := strings.CutPrefix(strings.ToLower(uri), "lightning:")
	if !ok || rest == "" {
		return "#"
	}
	for _, c := range rest {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return "#"
		}
	}
	return templ.SafeURL(uri)
}

// firstDonateError names the first donate field with an error. It gets
// autofocus, so after a failed submit the browser scrolls down to the
// form, which on a phone is far below the top of the page.
func firstDonateError(f DonateForm) string {
	switch {
	case f.Custom.Error != "":
		return "custom_amount"
	case f.Name.Error != "":
		return "name"
	case f.Message.Error != "":
		return "message"
	}
	return ""
}

// payoutClass maps a payout state to a CSS modifier; anything unknown is
// shown as pending, never echoed into a class name.
func payoutClass(state string) string {
	switch state {
	case "succeeded", "failed":
		return state
	}
	return "pending"
}

func payoutLabel(state string) string {
	switch state {
	case "succeeded":
		return "Sent"
	case "failed":
		return "Failed"
	case "pending":
		return "Sending…"
	}
	return state
}

// payoutFee is the routing fee paid, or a dash when there is none to show
// (pending: not known yet; failed: nothing was paid).
func payoutFee(p PayoutRow) string {
	if p.FeeText == "" {
		return "—"
	}
	return p.FeeText
}

// maxLength is a field's maxlength attribute, when it has a limit.
func maxLength(f FormField) templ.Attributes {
	if f.Max <= 0 {
		return nil
	}
	return templ.Attributes{"maxlength": strconv.Itoa(f.Max)}
}

func historyHeading(h HistoryView) string {
	if h.Heading == "" {
		return "Runway, last 30 days"
	}
	return h.Heading
}

// textPart is a run of plain text, or a link when URL is set.
type textPart struct{ Text, URL string }

var linkPattern = regexp.MustCompile(`https?://[^\s<>"']+`)

// linkParts splits text written by an owner into plain runs and the
// http(s) links in it, so that the links can be made clickable (with
// rel="nofollow ugc"). Trailing punctuation stays text: "see
// https://x.org." links https://x.org.
func linkParts(text string) []textPart {
	var parts []textPart
	last := 0
	for _, m := range linkPattern.FindAllStringIndex(text, -1) {
		link := strings.TrimRight(text[m[0]:m[1]], ".,;:!?)]}")
		u, err := url.Parse(link)
		if err != nil || u.Host == "" {
			continue
		}
		if m[0] > last {
			parts = append(parts, textPart{Text: text[last:m[0]]})
		}
		parts = append(parts, textPart{Text: link, URL: u.String()})
		last = m[0] + len(link)
	}
	if last < len(text) {
		parts = append(parts, textPart{Text: text[last:]})
	}
	return parts
}

// widgetTheme is the widget's data-theme attribute, when one is forced.
func widgetTheme(theme string) templ.Attributes {
	if theme == "" {
		return nil
	}
	return templ.Attributes{"data-theme": theme}
}

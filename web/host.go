package web

import (
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"html"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/offering"
	"github.com/keepalive/keepalive/internal/statustoken"
	"github.com/keepalive/keepalive/templates"
)

// TokenSigner is what the host endpoints need from the status token
// signer. Issue rather than Sign: the handler knows the offering's grace
// period, which caps a "grace" token's life.
type TokenSigner interface {
	Issue(st offering.Status, grace time.Duration, now time.Time) (statustoken.Token, error)
	JWKS() []byte
}

var _ TokenSigner = (*statustoken.Signer)(nil)

// hostRoutes adds what a host wires into the thing it runs: the signed
// status token and its key, the badge and the embeddable widget.
func (s *Server) hostRoutes(e *echo.Echo) {
	if s.Tokens != nil {
		e.GET("/api/v1/offerings/:slug/token", s.apiStatusToken)
		e.GET("/.well-known/jwks.json", s.jwks)
	}
	e.GET("/badge/:file", s.badge)
	e.GET("/o/:slug/widget", s.widget)
}

// MIMEApplicationJWT is the media type of a bare token (RFC 7519).
const MIMEApplicationJWT = "application/jwt"

type tokenResponse struct {
	Token     string `json:"token"`
	ExpiresAt string `json:"expires_at"` // RFC 3339, as funded_until in the status API
}

// apiStatusToken signs the offering's status now. Every answer is a fresh
// signature, so nothing may cache it; a host keeps the last one it got.
func (s *Server) apiStatusToken(c echo.Context) error {
	o, fin, err := s.Offerings.View(c.Request().Context(), c.Param("slug"))
	if err != nil {
		return err
	}
	now := fin.Status.At
	if now.IsZero() {
		now = s.Offerings.Now()
	}
	tok, err := s.Tokens.Issue(fin.Status, secondsDuration(o.GraceSeconds), now)
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set(echo.HeaderCacheControl, "no-store")
	h.Set(echo.HeaderAccessControlAllowOrigin, "*")
	h.Add(echo.HeaderVary, echo.HeaderAccept)
	if strings.Contains(c.Request().Header.Get(echo.HeaderAccept), MIMEApplicationJWT) {
		return c.Blob(http.StatusOK, MIMEApplicationJWT, []byte(tok.Raw))
	}
	return c.JSON(http.StatusOK, tokenResponse{Token: tok.Raw, ExpiresAt: tok.ExpiresAt().Format(time.RFC3339)})
}

// jwks publishes the key tokens verify with. It changes only if the
// operator replaces the key, so hosts and caches may keep it an hour.
func (s *Server) jwks(c echo.Context) error {
	h := c.Response().Header()
	h.Set(echo.HeaderCacheControl, "public, max-age=3600")
	h.Set(echo.HeaderAccessControlAllowOrigin, "*")
	return c.Blob(http.StatusOK, "application/jwk-set+json", s.Tokens.JWKS())
}

// Badge colours: white text on each meets WCAG AA contrast.
const (
	badgeLabelColour   = "#555"
	badgeAliveColour   = "#2e7d32"
	badgeGraceColour   = "#b45309"
	badgeExpiredColour = "#6b6b6b"
)

// badge draws a shields.io-style SVG badge of an offering's state. The
// SVG uses presentation attributes only, so it renders under the strictest
// CSP. An unknown slug gets a grey "unknown" badge with a 404: a README
// shows it instead of a broken image.
func (s *Server) badge(c echo.Context) error {
	slug, ok := strings.CutSuffix(c.Param("file"), ".svg")
	if !ok || slug == "" {
		return echo.ErrNotFound
	}
	status, text, colour := http.StatusOK, "unknown", badgeExpiredColour
	var sponsors []string
	o, fin, err := s.Offerings.View(c.Request().Context(), slug)
	switch {
	case apperr.CodeOf(err) == apperr.NotFound:
		status = http.StatusNotFound
	case err != nil:
		return err
	default:
		text, colour = badgeState(o, fin.Status)
		slots, err := s.widgetSponsors(c.Request().Context(), o)
		if err != nil {
			return err
		}
		for _, w := range slots {
			sponsors = append(sponsors, w.Name)
		}
	}
	body := badgeSVG("keepalive", text, colour, sponsors)
	etag := bodyETag(body)
	h := c.Response().Header()
	dropCookies(h)
	h.Set(echo.HeaderCacheControl, "public, max-age=300")
	h.Set("Content-Security-Policy", "default-src 'none'")
	h.Set("ETag", etag)
	if status == http.StatusOK && c.Request().Header.Get("If-None-Match") == etag {
		return c.NoContent(http.StatusNotModified)
	}
	return c.Blob(status, "image/svg+xml; charset=utf-8", body)
}

// badgeState is the right half of the badge: what the state is, and for
// how long it lasts.
func badgeState(o offering.Offering, st offering.Status) (text, colour string) {
	switch {
	case st.State == offering.Alive:
		return "alive · " + humanDuration(secondsDuration(st.RunwaySeconds)), badgeAliveColour
	case st.State == offering.Grace:
		left := st.FundedUntil.Add(secondsDuration(o.GraceSeconds)).Sub(st.At)
		return "grace · " + humanDuration(left), badgeGraceColour
	case st.FundedUntil.IsZero():
		return "not funded", badgeExpiredColour
	}
	return "expired", badgeExpiredColour
}

// badgeSVG lays out a two-part badge, and under it, while a period has
// winners, a line naming the sponsors in slot order (text only: an image
// carries no links). Widths are estimated from the text (no font metrics
// on a server), and textLength makes the renderer fit the text to them
// whatever font it picks.
func badgeSVG(label, text, colour string, sponsors []string) []byte {
	lw, rw := textWidth(label)+10, textWidth(text)+10
	line := sponsorLine(sponsors)
	sw := sponsorLineWidth(line) + 10
	if line != "" && sw > lw+rw {
		rw = sw - lw // the top row widens to the line under it
	}
	w, h := lw+rw, 20
	if line != "" {
		h = 20 + sponsorLineHeight
	}
	var b strings.Builder
	b.Grow(1600)
	title := escapeXML(label + ": " + text)
	if line != "" {
		title = escapeXML(label + ": " + text + "; " + line)
	}
	b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" width="` + itoa(w) + `" height="` + itoa(h) + `" role="img" aria-label="` + title + `">`)
	b.WriteString(`<title>` + title + `</title>`)
	b.WriteString(`<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>`)
	b.WriteString(`<clipPath id="r"><rect width="` + itoa(w) + `" height="` + itoa(h) + `" rx="3" fill="#fff"/></clipPath>`)
	b.WriteString(`<g clip-path="url(#r)"><rect width="` + itoa(lw) + `" height="20" fill="` + badgeLabelColour + `"/>`)
	b.WriteString(`<rect x="` + itoa(lw) + `" width="` + itoa(rw) + `" height="20" fill="` + colour + `"/>`)
	b.WriteString(`<rect width="` + itoa(w) + `" height="20" fill="url(#s)"/>`)
	if line != "" {
		b.WriteString(`<rect y="20" width="` + itoa(w) + `" height="` + itoa(sponsorLineHeight) + `" fill="` + badgeSponsorFill + `"/>`)
	}
	b.WriteString(`</g>`)
	b.WriteString(`<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">`)
	for _, part := range []struct {
		x, width int
		text     string
	}{{lw / 2, lw - 10, label}, {lw + rw/2, textWidth(text), text}} {
		t := escapeXML(part.text)
		// The shadow first, then the text, as shields.io does.
		b.WriteString(`<text x="` + itoa(part.x) + `" y="15" fill="#010101" fill-opacity=".3" textLength="` + itoa(part.width) + `" lengthAdjust="spacingAndGlyphs" aria-hidden="true">` + t + `</text>`)
		b.WriteString(`<text x="` + itoa(part.x) + `" y="14" textLength="` + itoa(part.width) + `" lengthAdjust="spacingAndGlyphs">` + t + `</text>`)
	}
	b.WriteString(`</g>`)
	if line != "" {
		b.WriteString(`<text x="` + itoa(w/2) + `" y="` + itoa(20+sponsorLineHeight-5) + `" fill="` + badgeSponsorText + `" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="10" textLength="` +
			itoa(sponsorLineWidth(line)) + `" lengthAdjust="spacingAndGlyphs">` + escapeXML(line) + `</text>`)
	}
	b.WriteString(`</svg>`)
	return []byte(b.String())
}

// The sponsor line: dark text on light grey (AA contrast), 10px Verdana.
const (
	badgeSponsorFill   = "#eeeeee"
	badgeSponsorText   = "#333333"
	sponsorLineHeight  = 16
	maxSponsorLinePx   = 320
	sponsorLinePrefix  = "sponsored by "
	sponsorLineMoreFmt = " +%d more"
)

// sponsorLine names the sponsors in slot order, as many as fit in
// maxSponsorLinePx, then how many more there are; "" without sponsors.
func sponsorLine(names []string) string {
	if len(names) == 0 {
		return ""
	}
	line := sponsorLinePrefix + names[0]
	for i := 1; i < len(names); i++ {
		next := line + ", " + names[i]
		rest := ""
		if i+1 < len(names) {
			rest = fmt.Sprintf(sponsorLineMoreFmt, len(names)-i-1)
		}
		if sponsorLineWidth(next+rest) > maxSponsorLinePx {
			return line + fmt.Sprintf(sponsorLineMoreFmt, len(names)-i)
		}
		line = next
	}
	return line
}

// sponsorLineWidth is textWidth at 10px instead of 11.
func sponsorLineWidth(s string) int { return (textWidth(s)*10 + 10) / 11 }

// textWidth estimates the width in pixels of text in 11px Verdana from
// rough per-character classes; textLength absorbs the error.
func textWidth(s string) int {
	w := 0.0
	for _, r := range s {
		switch {
		case strings.ContainsRune("il.,:;|!'· ", r):
			w += 3.6
		case r == 'm' || r == 'w' || r == 'M' || r == 'W':
			w += 10.5
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			w += 7.5
		case r < utf8.RuneSelf:
			w += 6.6
		default:
			w += 8
		}
	}
	return int(w + 0.999)
}

func itoa(n int) string { return strconv.Itoa(n) }

var xmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#39;")

func escapeXML(s string) string { return xmlEscaper.Replace(s) }

// bodyETag is a strong validator of a response body.
func bodyETag(body []byte) string {
	h := fnv.New128a()
	h.Write(body)
	return `"` + hex.EncodeToString(h.Sum(nil)) + `"`
}

// dropCookies undoes what the CSRF middleware adds to every GET: a cookie
// on a publicly cached image or an embedded widget would be shared between
// visitors by caches, and "Vary: Cookie" defeats caching altogether. These
// responses carry no form.
func dropCookies(h http.Header) {
	h.Del("Set-Cookie")
	vary := h.Values(echo.HeaderVary)
	h.Del(echo.HeaderVary)
	for _, v := range vary {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" && !strings.EqualFold(f, echo.HeaderCookie) {
				h.Add(echo.HeaderVary, f)
			}
		}
	}
}

// widgetCSP is the site's policy, but any page may frame this one.
const widgetCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors *; base-uri 'none'; object-src 'none'"

// widget is a small page for an <iframe> on the offering's own site: its
// state, runway and a link to fund it. The security middleware forbids
// framing everywhere; this route alone allows it, and holds no form or
// session, so being framed exposes nothing to clickjacking.
func (s *Server) widget(c echo.Context) error {
	h := c.Response().Header()
	h.Del("X-Frame-Options")
	h.Set("Content-Security-Policy", widgetCSP)
	dropCookies(h)
	o, fin, err := s.Offerings.View(c.Request().Context(), c.Param("slug"))
	if err != nil {
		return err
	}
	h.Set(echo.HeaderCacheControl, "public, max-age=60")
	v := templates.WidgetView{
		Page:     templates.Page{Title: o.Name, Demo: s.Demo, BaseURL: s.BaseURL, Path: c.Request().URL.Path},
		Offering: card(o, fin.Status),
	}
	switch theme := c.QueryParam("theme"); theme {
	case "light", "dark":
		v.Theme = theme
	}
	if v.Sponsors, err = s.widgetSponsors(c.Request().Context(), o); err != nil {
		return err
	}
	return s.render(c, http.StatusOK, templates.Widget(v))
}

// hostSnippets are the URLs and markup a host copies for offering o.
func (s *Server) hostSnippets(o offering.Offering) templates.HostSnippets {
	slug := url.PathEscape(o.Slug)
	page := s.BaseURL + "/o/" + slug
	h := templates.HostSnippets{
		StatusURL: s.BaseURL + "/api/v1/offerings/" + slug + "/status",
		Badge:     "[![Keepalive: " + o.Name + "](" + s.BaseURL + "/badge/" + slug + ".svg)](" + page + ")",
		Widget: `<iframe src="` + html.EscapeString(page) + `/widget" title="Keepalive funding status" width="300" height="180" ` +
			`style="border:0" loading="lazy"></iframe>`,
	}
	if s.Tokens != nil {
		h.TokenURL = s.BaseURL + "/api/v1/offerings/" + slug + "/token"
	}
	return h
}

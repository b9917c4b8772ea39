package web_test

import (
	"context"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/web"
)

// badgeBox is a badge's size and the widths its texts are fitted to.
type badgeBox struct {
	Width  int `xml:"width,attr"`
	Height int `xml:"height,attr"`
	Texts  []struct {
		X          int    `xml:"x,attr"`
		TextLength int    `xml:"textLength,attr"`
		Text       string `xml:",chardata"`
	} `xml:"g>text"`
	Line []struct {
		X          int    `xml:"x,attr"`
		TextLength int    `xml:"textLength,attr"`
		Text       string `xml:",chardata"`
	} `xml:"text"`
}

// TestBadgeSponsorLine: while a period has winners, the badge names them
// in slot order on a line of its own, escaped, inside a badge wide enough
// for every text; before clearing there is no line.
func TestBadgeSponsorLine(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s, sp := newSponsorSite(t, d)
		_, key := createOffering(t, s, createBody)
		s.sponsorTerms(t, key)
		s.donate(t, "my-site", "d1", 72_000_000)
		s.placeBid(t, 3000, "Beta")
		s.placeBid(t, 9000, `Tom & <Jerry> "Inc"`)
		s.placeBid(t, 2000, "Gamma")

		_, body, _ := s.do(t, "GET", "/badge/my-site.svg", "")
		if strings.Contains(body, "sponsored") || !strings.Contains(body, `height="20"`) {
			t.Fatalf("a sponsor line before clearing: %s", body)
		}
		s.clock.Advance(5 * 24 * time.Hour)
		if n, err := sp.ClearDue(context.Background()); err != nil || n != 1 {
			t.Fatalf("ClearDue = %d, %v", n, err)
		}
		status, body, _ := s.do(t, "GET", "/badge/my-site.svg", "")
		if status != 200 || strings.Contains(body, "<Jerry>") || strings.Contains(body, "style") {
			t.Fatalf("badge: %d %s", status, body)
		}
		text := svgText(t, body) // well-formed XML
		want := `sponsored by Tom & <Jerry> "Inc", Beta, Gamma`
		if !strings.Contains(text, want) || !strings.HasPrefix(text, "keepalive: alive") {
			t.Fatalf("badge text %q, want the line %q", text, want)
		}
		var box badgeBox
		if err := xml.Unmarshal([]byte(body), &box); err != nil {
			t.Fatal(err)
		}
		if box.Height != 36 || len(box.Line) != 1 || box.Line[0].Text != want || box.Line[0].X != box.Width/2 {
			t.Fatalf("layout: %+v", box)
		}
		for _, tx := range append(box.Texts, box.Line...) {
			if tx.TextLength <= 0 || tx.X-tx.TextLength/2 < 4 || tx.X+tx.TextLength/2 > box.Width-4 {
				t.Fatalf("%q (x %d, %dpx) does not fit a %dpx badge", tx.Text, tx.X, tx.TextLength, box.Width)
			}
		}
		// Longer names than fit are counted, not drawn.
		long := strings.Repeat("a", 40)
		if got := web.SponsorLine([]string{long, "Beta", "Gamma"}); got != "sponsored by "+long+" +2 more" {
			t.Fatalf("long line %q", got)
		}
		if got := web.SponsorLine(nil); got != "" {
			t.Fatalf("no sponsors: %q", got)
		}
		// After the period the line is gone again.
		s.clock.Advance(7 * 24 * time.Hour)
		if _, body, _ := s.do(t, "GET", "/badge/my-site.svg", ""); strings.Contains(body, "sponsored") {
			t.Fatalf("a sponsor line after the period: %s", body)
		}
	})
}

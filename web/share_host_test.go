package web_test

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/keepalive/keepalive/internal/db/dbtest"
)

// Sharing and trust: preview tags, a goal line, clickable links in
// descriptions, a share link once paid, /favicon.ico and /robots.txt.
func TestSharingAndTrust(t *testing.T) {
	s := newSite(t, dbtest.SQLite(t))
	createOffering(t, s, strings.Replace(createBody, `"description":"hi"`, `"description":"Docs at https://docs.example.org/start. Thanks!"`, 1))
	payDonation(t, s, `{"amount_msat":144000000}`) // 144,000 of a 720,000-sat month: 20%
	_, page, _ := s.do(t, "GET", "/o/my-site", "")
	for _, want := range []string{
		`<meta property="og:title" content="My site">`, `<meta name="twitter:card" content="summary">`,
		`property="og:description" content="Docs at https://docs.example.org/start. Thanks! — Funded until`,
		`<a href="https://docs.example.org/start" rel="nofollow ugc noopener" target="_blank">https://docs.example.org/start</a>. Thanks!`,
		`Funded 20% of this month&#39;s cost · 1 payment so far`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("offering page lacks %s", want)
		}
	}
	b := newBrowser(t, s)
	_, _, hdr := b.post("/o/my-site", "/o/my-site/donate", url.Values{"amount": {"custom"}, "custom_amount": {"100"}})
	_, inv, _ := b.get(hdr.Get("Location"))
	if !strings.Contains(inv, `data-testid="share" hidden`) || !strings.Contains(inv, s.URL+"/o/my-site") {
		t.Error("the share box is missing, or shown before paying")
	}
	if status, body, _ := s.do(t, "GET", "/robots.txt", ""); status != 200 || !strings.Contains(body, "Disallow: /dashboard") {
		t.Errorf("robots.txt: %d %s", status, body)
	}
	// The client follows the redirect to the SVG.
	if status, _, hdr := s.do(t, "GET", "/favicon.ico", ""); status != 200 || !strings.Contains(hdr.Get("Content-Type"), "svg") {
		t.Errorf("favicon.ico: %d %s", status, hdr.Get("Content-Type"))
	}
}

// Hosts: HEAD is answered where GET is, the status API may be read from
// any origin, the widget takes a theme, and pagination out of range
// shows the nearest page.
func TestHostsAndPagination(t *testing.T) {
	s := newSite(t, dbtest.SQLite(t))
	createOffering(t, s, createBody)
	for _, path := range []string{"/api/v1/offerings/my-site/status", "/o/my-site", "/badge/my-site.svg", "/", "/o/my-site/widget"} {
		status, body, _ := s.do(t, "HEAD", path, "")
		if status != http.StatusOK || body != "" {
			t.Errorf("HEAD %s: %d with %d bytes", path, status, len(body))
		}
	}
	if _, _, hdr := s.do(t, "GET", "/api/v1/offerings/my-site/status", "", "Origin", "https://host.example"); hdr.Get("Access-Control-Allow-Origin") != "*" {
		t.Error("the status API does not allow cross-origin reads")
	}
	for theme, want := range map[string]string{"dark": `data-theme="dark"`, "light": `data-theme="light"`, "auto": `content="light dark"`, "<x>": `content="light dark"`} {
		_, body, _ := s.do(t, "GET", "/o/my-site/widget?theme="+url.QueryEscape(theme), "")
		if !strings.Contains(body, want) {
			t.Errorf("widget theme=%s lacks %s", theme, want)
		}
	}
	for i := range 25 {
		createOffering(t, s, strings.Replace(createBody, "my-site", "site-"+strconv.Itoa(i), 1))
	}
	for q, want := range map[string]string{"?page=0": "site-", "?page=99": "site-", "?page=x": "site-"} {
		status, body, _ := s.do(t, "GET", "/"+q, "")
		if status != 200 || !strings.Contains(body, `data-testid="offering-card"`) {
			t.Errorf("GET /%s: %d, no offerings shown (%s)", q, status, want)
		}
	}
	if _, body, _ := s.do(t, "GET", "/?page=99", ""); !strings.Contains(body, "/?before=") || strings.Contains(body, "/?after=") {
		t.Error("past the end: not the last page (a link back, none further)")
	}
	// Paging by cursor: 26 offerings, 20 and then 6, and back.
	cards := func(body string) int { return strings.Count(body, `data-testid="offering-card"`) }
	link := regexp.MustCompile(`href="(/\?(?:after|before)=[0-9]+)"`)
	_, first, _ := s.do(t, "GET", "/", "")
	next := link.FindStringSubmatch(first)
	if cards(first) != 20 || next == nil || !strings.Contains(next[1], "after=") || strings.Contains(first, "before=") {
		t.Fatalf("first page: %d cards, next %v", cards(first), next)
	}
	_, second, _ := s.do(t, "GET", html.UnescapeString(next[1]), "")
	prev := link.FindStringSubmatch(second)
	if cards(second) != 6 || prev == nil || !strings.Contains(prev[1], "before=") || strings.Contains(second, "after=") {
		t.Fatalf("second page: %d cards, prev %v", cards(second), prev)
	}
	slugs := regexp.MustCompile(`href="/o/([a-z0-9-]+)"`)
	if _, back, _ := s.do(t, "GET", html.UnescapeString(prev[1]), ""); fmt.Sprint(slugs.FindAllString(back, -1)) != fmt.Sprint(slugs.FindAllString(first, -1)) {
		t.Error("going back does not show the first page again")
	}
	for _, q := range []string{"?after=999999", "?before=999999", "?after=-1", "?after=x", "?before=0"} {
		if _, body, _ := s.do(t, "GET", "/"+q, ""); cards(body) != 20 {
			t.Errorf("GET /%s: %d cards, want the first page", q, cards(body))
		}
	}
}

package main

import (
	"fmt"
	"net/url"
	"os"
	"regexp"
	"time"
)

// seededRun compares the site on a large seeded PostgreSQL schema with the
// site on a schema holding only a few of the same offerings (issue 9: the
// cost of a page does not grow with the data). Both schemas are filled
// beforehand by internal/benchkit/seed, the small one with -keep-upto and
// -keep, so the measured offering has the same rows in both.
type seededRun struct {
	big, small string // schemas of DATABASE_URL
	slug       string // the offering whose pages are measured
	rounds     int
	d          time.Duration
	conns      int
	threads    int
}

func runSeeded(r seededRun) error {
	base := os.Getenv("DATABASE_URL")
	if base == "" {
		return fmt.Errorf("-seeded: DATABASE_URL must name the PostgreSQL database holding the schemas")
	}
	dir, err := os.MkdirTemp("", "httpbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin, err := buildSite(dir)
	if err != nil {
		return err
	}
	sites := map[string]string{} // schema → base URL
	for _, schema := range []string{r.big, r.small} {
		u, err := url.Parse(base)
		if err != nil {
			return err
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		addr := freeAddr()
		site, err := startSite(bin, addr, u.String())
		if err != nil {
			return fmt.Errorf("site on %s: %w", schema, err)
		}
		defer stopSite(site)
		sites[schema] = "http://" + addr
	}
	ledger := "/o/" + r.slug + "/ledger"
	deep, pages, err := deepLedgerPage(sites[r.small], ledger, 10)
	if err != nil {
		return err
	}
	paths := []struct{ name, path string }{
		{"home page", "/"},
		{"offering page", "/o/" + r.slug},
		{"ledger page", ledger},
		{fmt.Sprintf("ledger page %d", pages+1), deep},
		{"status API", "/api/v1/offerings/" + r.slug + "/status"},
	}
	for _, p := range paths {
		for _, s := range []string{r.big, r.small} {
			if body, _ := fetch(sites[s] + p.path); len(body) == 0 {
				return fmt.Errorf("%s on %s: no answer", p.path, s)
			}
		}
	}
	fmt.Printf("wrk --latency -t%d -c%d -d%s, loopback, GOMAXPROCS=%d cores; %s ÷ %s, %d runs each, alternating\n",
		r.threads, r.conns, r.d, numCPU(), r.big, r.small, r.rounds)
	fmt.Printf("%-16s %22s %22s %8s %8s\n", "page", "req/s seeded / empty", "p99 seeded / empty", "req/s", "p99")
	for _, p := range paths {
		got := map[string][]wrkResult{}
		for round := 0; round < r.rounds; round++ {
			order := []string{r.big, r.small}
			if round%2 == 1 {
				order = []string{r.small, r.big}
			}
			for _, s := range order {
				res, err := wrkLatency(sites[s]+p.path, r.d, r.conns, r.threads)
				if err != nil {
					return err
				}
				got[s] = append(got[s], res)
			}
		}
		bigRate, smallRate := meanRate(got[r.big]), meanRate(got[r.small])
		bigP99, smallP99 := meanP99(got[r.big]), meanP99(got[r.small])
		fmt.Printf("%-16s %10.0f / %9.0f %10s / %9s %8.2f %8.2f\n", p.name, bigRate, smallRate,
			bigP99.Round(10*time.Microsecond), smallP99.Round(10*time.Microsecond), bigRate/smallRate, float64(smallP99)/float64(bigP99))
	}
	return nil
}

var olderLink = regexp.MustCompile(`href="(/o/[^"?]+/ledger\?before=[0-9]+)"`)

// deepLedgerPage follows the ledger's "older" links up to n times and
// returns the last page reached and how many links it followed.
func deepLedgerPage(site, first string, n int) (string, int, error) {
	path := first
	followed := 0
	for ; followed < n; followed++ {
		body, _ := fetch(site + path)
		m := olderLink.FindSubmatch(body)
		if m == nil {
			break
		}
		path = string(m[1])
	}
	if followed == 0 {
		return "", 0, fmt.Errorf("%s has no older page: seed more history", first)
	}
	return path, followed, nil
}

func meanRate(rs []wrkResult) float64 {
	var s float64
	for _, r := range rs {
		s += r.perSec
	}
	return s / float64(len(rs))
}

func meanP99(rs []wrkResult) time.Duration {
	var s time.Duration
	for _, r := range rs {
		s += r.p99
	}
	return s / time.Duration(len(rs))
}

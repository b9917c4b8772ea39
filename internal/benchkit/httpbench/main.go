// Command httpbench measures the site's hot HTTP paths against their
// baselines with wrk on loopback, in one run, and prints the ratios that
// docs/benchmarks.md records:
//
//   - the status API ÷ a bare Echo handler returning the same bytes;
//   - the offering page ÷ the same HTML served as a static file.
//
// It builds and starts the real binary (SQLite, demo Lightning), seeds
// an offering through the API, and runs each pair twice, alternating.
//
//	go run ./internal/benchkit/httpbench [-d 10s] [-c 32] [-t 2]
//
// With -seeded, it compares instead the site on a large seeded PostgreSQL
// schema with the same site on a schema holding only a few of the same
// offerings (see seeded.go and internal/benchkit/seed).
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

func main() {
	duration := flag.Duration("d", 10*time.Second, "wrk duration per run")
	conns := flag.Int("c", 32, "wrk connections")
	threads := flag.Int("t", 2, "wrk threads")
	seeded := flag.String("seeded", "", "big,small: compare the site on these two seeded PostgreSQL schemas of DATABASE_URL")
	slug := flag.String("offering", "seed-105", "with -seeded: the offering whose pages are measured")
	rounds := flag.Int("rounds", 2, "with -seeded: runs of each subject per page, alternating")
	flag.Parse()
	run := func() error { return run(*duration, *conns, *threads) }
	if *seeded != "" {
		run = func() error {
			big, small, ok := strings.Cut(*seeded, ",")
			if !ok {
				return fmt.Errorf("-seeded wants two schemas: big,small")
			}
			return runSeeded(seededRun{big: big, small: small, slug: *slug, rounds: *rounds, d: *duration, conns: *conns, threads: *threads})
		}
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "httpbench:", err)
		os.Exit(1)
	}
}

func run(d time.Duration, conns, threads int) error {
	if _, err := exec.LookPath("wrk"); err != nil {
		return fmt.Errorf("wrk is not installed (apt-get install wrk)")
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
	siteAddr, bareAddr, staticAddr := freeAddr(), freeAddr(), freeAddr()
	site, err := startSite(bin, siteAddr, filepath.Join(dir, "bench.db"))
	if err != nil {
		return err
	}
	defer stopSite(site)
	base := "http://" + siteAddr
	if err := seed(base); err != nil {
		return err
	}
	time.Sleep(2 * time.Second)
	idle, _ := rssMB(site.Process.Pid)
	statusPath := "/api/v1/offerings/bench-site/status"
	statusBody, statusType := fetch(base + statusPath)
	pagePath := "/o/bench-site"
	pageBody, pageType := fetch(base + pagePath)

	// The baselines: a bare Echo handler with the status bytes, and the
	// offering page's HTML as a static file.
	bare := echo.New()
	bare.HideBanner, bare.HidePort = true, true
	bare.GET(statusPath, func(c echo.Context) error { return c.Blob(http.StatusOK, statusType, statusBody) })
	go bare.Start(bareAddr)
	defer bare.Close()
	staticDir := filepath.Join(dir, "static")
	os.MkdirAll(filepath.Join(staticDir, "o"), 0o755)
	os.WriteFile(filepath.Join(staticDir, "o", "bench-site.html"), pageBody, 0o644)
	static := &http.Server{Addr: staticAddr, Handler: http.FileServer(http.Dir(staticDir))}
	go static.ListenAndServe()
	defer static.Close()
	_ = pageType
	waitUp("http://" + bareAddr + statusPath)
	waitUp("http://" + staticAddr + "/o/bench-site.html")

	fmt.Printf("wrk -t%d -c%d -d%s, loopback, GOMAXPROCS=%d cores\n", threads, conns, d, numCPU())
	pairs := []struct {
		name, subject, baseline string
	}{
		{"status API ÷ bare Echo handler", base + statusPath, "http://" + bareAddr + statusPath},
		{"offering page ÷ static file", base + pagePath, "http://" + staticAddr + "/o/bench-site.html"},
	}
	for _, p := range pairs {
		var subj, bl []float64
		for round := 0; round < 2; round++ {
			s, err := wrk(p.subject, d, conns, threads)
			if err != nil {
				return err
			}
			b, err := wrk(p.baseline, d, conns, threads)
			if err != nil {
				return err
			}
			subj, bl = append(subj, s), append(bl, b)
		}
		s, b := mean(subj), mean(bl)
		fmt.Printf("%-34s %9.0f req/s ÷ %9.0f req/s = %.2f\n", p.name, s, b, s/b)
	}
	// Memory: idle (before any load), and while 200 connections hold the
	// offering page and the status API busy.
	done := make(chan float64)
	go func() {
		time.Sleep(d / 2)
		peak, _ := rssMB(site.Process.Pid)
		done <- peak
	}()
	if _, err := wrk(base+pagePath, d, 200, threads); err != nil {
		return err
	}
	peak := <-done
	after, _ := rssMB(site.Process.Pid)
	fmt.Printf("site RSS: idle %.1f MB; under 200 connections %.1f MB; after %.1f MB\n", idle, peak, after)
	return nil
}

// buildSite builds the site's binary into dir.
func buildSite(dir string) (string, error) {
	bin := filepath.Join(dir, "keepalive")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("build: %w", err)
	}
	return bin, nil
}

// startSite starts the binary on addr and databaseURL (demo Lightning)
// and waits until it answers.
func startSite(bin, addr, databaseURL string) (*exec.Cmd, error) {
	site := exec.Command(bin, "serve")
	// PostgreSQL asks for a key to seal the site's secrets, which are kept
	// in the schema: the same one every run, so a seeded schema can be
	// measured again. It guards nothing but benchmark data.
	key := sha256.Sum256([]byte("keepalive httpbench"))
	site.Env = append(os.Environ(), "KEEPALIVE_ADDR="+addr, "DATABASE_URL="+databaseURL,
		"KEEPALIVE_LOG_LEVEL=warn", "KEEPALIVE_LIGHTNING=demo", "KEEPALIVE_SECRET_KEY="+hex.EncodeToString(key[:]))
	site.Stdout, site.Stderr = os.Stderr, os.Stderr
	if err := site.Start(); err != nil {
		return nil, err
	}
	if err := waitUp("http://" + addr + "/healthz"); err != nil {
		stopSite(site)
		return nil, err
	}
	return site, nil
}

func stopSite(site *exec.Cmd) {
	site.Process.Signal(os.Interrupt)
	site.Wait()
}

func seed(base string) error {
	body := `{"name":"Bench site","slug":"bench-site","url":"https://example.org","description":"A site to measure.","burn_rate_msat_per_hour":1000000,"grace_seconds":3600}`
	res, err := http.Post(base+"/api/v1/offerings", "application/json", strings.NewReader(body))
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		return fmt.Errorf("seed: create offering: %s", res.Status)
	}
	res, err = http.Post(base+"/api/v1/offerings/bench-site/donations", "application/json", strings.NewReader(`{"amount_msat":50000000}`))
	if err != nil {
		return err
	}
	var inv struct {
		PaymentHash string `json:"payment_hash"`
	}
	json.NewDecoder(res.Body).Decode(&inv)
	res.Body.Close()
	res, err = http.Post(base+"/api/v1/demo/invoices/"+inv.PaymentHash+"/pay", "application/json", nil)
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("seed: pay: %s", res.Status)
	}
	return nil
}

var (
	reqPerSec = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	p99       = regexp.MustCompile(`\n\s+99%\s+([0-9.]+)(us|ms|s)\b`)
)

func wrk(url string, d time.Duration, conns, threads int) (float64, error) {
	r, err := wrkLatency(url, d, conns, threads)
	return r.perSec, err
}

// wrkResult is what one wrk run measured.
type wrkResult struct {
	perSec float64
	p99    time.Duration
}

// wrkLatency runs wrk with --latency and reads requests/s and the p99.
func wrkLatency(url string, d time.Duration, conns, threads int) (wrkResult, error) {
	out, err := exec.Command("wrk", "--latency", "-t"+strconv.Itoa(threads), "-c"+strconv.Itoa(conns), "-d"+d.String(), url).CombinedOutput()
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk %s: %w: %s", url, err, out)
	}
	if bytes.Contains(out, []byte("Non-2xx")) {
		return wrkResult{}, fmt.Errorf("wrk %s: errors: %s", url, out)
	}
	m := reqPerSec.FindSubmatch(out)
	l := p99.FindSubmatch(out)
	if m == nil || l == nil {
		return wrkResult{}, fmt.Errorf("wrk %s: no Requests/sec or 99%% latency in %s", url, out)
	}
	var r wrkResult
	r.perSec, _ = strconv.ParseFloat(string(m[1]), 64)
	v, _ := strconv.ParseFloat(string(l[1]), 64)
	unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[string(l[2])]
	r.p99 = time.Duration(v * float64(unit))
	return r, nil
}

func fetch(url string) ([]byte, string) {
	res, err := http.Get(url)
	if err != nil {
		return nil, ""
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return b, res.Header.Get("Content-Type")
}

func waitUp(url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		if res, err := http.Get(url); err == nil {
			res.Body.Close()
			if res.StatusCode < 500 {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s did not come up", url)
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

func numCPU() int {
	n, _ := strconv.Atoi(strings.TrimSpace(os.Getenv("GOMAXPROCS")))
	if n > 0 {
		return n
	}
	out, _ := exec.Command("nproc").Output()
	n, _ = strconv.Atoi(strings.TrimSpace(string(out)))
	return n
}

// rssMB reads a process's resident set size from /proc.
func rssMB(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS")
}

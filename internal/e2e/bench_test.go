package e2e

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lightningnetwork/lnd/lnrpc"
	"github.com/lightningnetwork/lnd/lnrpc/routerrpc"

	"github.com/keepalive/keepalive/internal/funding"
	"github.com/keepalive/keepalive/internal/ledger"
)

// TestLightningBenchmarks measures the site against the regtest nodes it
// runs on and prints the figures docs/benchmarks-lightning.md reports:
//
//	KEEPALIVE_REGTEST=1 KEEPALIVE_BENCH=1 go test -run TestLightningBenchmarks -v -timeout 20m ./internal/e2e/
//
// With DATABASE_URL set it measures on PostgreSQL as well.
func TestLightningBenchmarks(t *testing.T) {
	if os.Getenv("KEEPALIVE_BENCH") != "1" {
		t.Skip("benchmark: run with KEEPALIVE_BENCH=1 (and KEEPALIVE_REGTEST=1)")
	}
	eachDB(t, func(t *testing.T, e *env) {
		s := e.startSite()
		e.waitCaughtUp(t)
		t.Run("invoice creation", func(t *testing.T) { benchInvoiceCreation(t, e, s) })
		t.Run("settle to credited", func(t *testing.T) { benchSettleToCredited(t, e, s) })
		t.Run("donate end to end", func(t *testing.T) { benchDonateEndToEnd(t, e, s) })
	})
}

const benchClients = 8

// benchInvoiceCreation: donation invoices per second through the API ÷
// AddInvoice per second straight to lnd, 8 concurrent clients each, the
// same duration, in the order API, lnd, lnd, API, so that whatever drifts
// during the run (lnd's growing invoice database, a node still settling
// down after the previous test) weighs on both alike.
func benchInvoiceCreation(t *testing.T, e *env, s *site) {
	slug, _, _ := s.createOffering(slowBurn)
	const round = 5 * time.Second
	lndPID := pidOf(t, "--lnddir="+e.net.Site.LndDir)
	api := &benchSide{name: "API", call: func(client int) error { return s.benchDonate(client, slug) }}
	direct := &benchSide{name: "lnd AddInvoice", call: func(int) error {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		_, err := e.site.AddInvoice(ctx, &lnrpc.Invoice{
			ValueMsat: 1_000_000, Memo: "Keep bench alive", Expiry: 3600, RPreimage: mustRandom(32),
		})
		return err
	}}
	for _, side := range []*benchSide{api, direct, direct, api} {
		side.run(t, round, s.cmd.Process.Pid, lndPID)
	}
	secs := 2 * round.Seconds()
	apiTotal, lndTotal, apiErrors := api.ok, direct.ok, api.failed
	fmt.Printf("BENCH %s invoice creation: API %.1f/s, lnd AddInvoice %.1f/s, ratio %.3f (goal >= 0.8); API errors %d\n",
		e.dialect, float64(apiTotal)/secs, float64(lndTotal)/secs, float64(apiTotal)/float64(lndTotal), apiErrors)
	fmt.Printf("BENCH %s invoice creation CPU per invoice: site %s + its lnd %s through the API; lnd %s called directly\n",
		e.dialect, api.perCall(api.siteCPU), api.perCall(api.lndCPU), direct.perCall(direct.lndCPU))
	fmt.Printf("BENCH %s invoice creation machine: through the API %.0f%% of the cores busy, %s of CPU per invoice (the test's clients %s); "+
		"direct %.0f%% busy, %s per invoice (the test's clients %s)\n", e.dialect,
		api.machine.busyPercent(), api.perCall(api.machine.busy), api.perCall(api.testCPU),
		direct.machine.busyPercent(), direct.perCall(direct.machine.busy), direct.perCall(direct.testCPU))
	if apiErrors > 0 {
		t.Errorf("%d API calls failed", apiErrors)
	}
}

// benchSide is one of the two things compared, with what its rounds
// counted and cost.
type benchSide struct {
	name                     string
	call                     func(client int) error
	ok, failed               int64
	siteCPU, lndCPU, testCPU time.Duration
	machine                  machineCPU
}

func (b *benchSide) run(t *testing.T, d time.Duration, sitePID, lndPID int) {
	site0, lnd0, test0, m0 := cpuTime(sitePID), cpuTime(lndPID), cpuTime(os.Getpid()), readMachineCPU()
	n, errs := runFor(d, b.call)
	b.siteCPU += cpuTime(sitePID) - site0
	b.lndCPU += cpuTime(lndPID) - lnd0
	b.testCPU += cpuTime(os.Getpid()) - test0
	b.machine = b.machine.add(readMachineCPU().sub(m0))
	b.ok += n
	b.failed += errs
	t.Logf("%s: %d in %s (%.0f/s), %d errors", b.name, n, d, float64(n)/d.Seconds(), errs)
}

// perCall is cpu divided over the calls that succeeded.
func (b *benchSide) perCall(cpu time.Duration) time.Duration {
	return (cpu / time.Duration(max(b.ok, 1))).Round(time.Microsecond)
}

// clients are HTTP clients bound to different loopback source addresses
// (127.0.0.10, .11, …), as distinct donors would be, so that the per-client
// rate limit sees eight clients, not one.
var benchHTTP = sync.OnceValue(func() []*http.Client {
	out := make([]*http.Client, benchClients)
	for i := range out {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(10+i))}, Timeout: 5 * time.Second}
		out[i] = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 4}}
	}
	return out
})

func (s *site) benchDonate(client int, slug string) error {
	body, _ := json.Marshal(map[string]any{"amount_msat": 1_000_000})
	resp, err := benchHTTP()[client].Post(s.base+"/api/v1/offerings/"+slug+"/donations", "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("HTTP %d %s", resp.StatusCode, b)
	}
	return nil
}

// runFor calls fn from benchClients goroutines until d has passed and
// returns how many calls succeeded and failed.
func runFor(d time.Duration, fn func(client int) error) (ok, failed int64) {
	var wg sync.WaitGroup
	var okN, failN atomic.Int64
	end := time.Now().Add(d)
	for c := range benchClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				if err := fn(c); err != nil {
					failN.Add(1)
					continue
				}
				okN.Add(1)
			}
		}()
	}
	wg.Wait()
	return okN.Load(), failN.Load()
}

// payTimed pays bolt11 from the payer with SendPaymentV2 and returns when
// the payer learned it succeeded.
func (e *env) payTimed(ctx context.Context, bolt11 string) (time.Time, error) {
	stream, err := e.payerRouter.SendPaymentV2(ctx, &routerrpc.SendPaymentRequest{
		PaymentRequest: bolt11, FeeLimitMsat: 1_000_000, TimeoutSeconds: 30, NoInflightUpdates: true,
	})
	if err != nil {
		return time.Time{}, err
	}
	for {
		p, err := stream.Recv()
		if err != nil {
			return time.Time{}, err
		}
		switch p.Status {
		case lnrpc.Payment_SUCCEEDED:
			return time.Now(), nil
		case lnrpc.Payment_FAILED:
			return time.Time{}, fmt.Errorf("payment failed: %s", p.FailureReason)
		}
	}
}

// settleEvents follows the site node's settlements on the test's own
// connection and tells, by payment hash, when each was seen.
type settleEvents struct {
	mu   sync.Mutex
	seen map[string]chan time.Time
}

func (e *env) followSettlements(ctx context.Context) *settleEvents {
	e.t.Helper()
	ev := &settleEvents{seen: map[string]chan time.Time{}}
	stream, err := e.site.SubscribeInvoices(ctx, &lnrpc.InvoiceSubscription{})
	if err != nil {
		e.t.Fatal(err)
	}
	go func() {
		for {
			inv, err := stream.Recv()
			if err != nil {
				return
			}
			if inv.State == lnrpc.Invoice_SETTLED {
				now := time.Now()
				ev.ch(hex.EncodeToString(inv.RHash)) <- now
			}
		}
	}()
	return ev
}

func (ev *settleEvents) ch(hash string) chan time.Time {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	c, ok := ev.seen[hash]
	if !ok {
		c = make(chan time.Time, 1)
		ev.seen[hash] = c
	}
	return c
}

// benchSettleToCredited: the time from lnd's settle event (on the test's
// own subscription to the site node) to the site's API saying the invoice
// is settled, next to lnd's own figures, for 200 payments each way the
// API can be asked: a request that waits (?wait=30, sent before the
// payment) and, for comparison, polling.
func benchSettleToCredited(t *testing.T, e *env, s *site) {
	ctx := testCtx(t, 5*time.Minute)
	slug, _, _ := s.createOffering(slowBurn)
	ev := e.followSettlements(ctx)
	measureSettleToCredited(t, ctx, e, s, slug, ev, "a waiting request (?wait=30)", func(hash string) func() time.Time {
		seen := make(chan time.Time, 1)
		go func() {
			r, err := s.tryCall(http.MethodGet, "/api/v1/invoices/"+hash+"?wait=30", "", nil)
			if err != nil || r.Status != http.StatusOK || !bytes.Contains(r.Body, []byte(`"state":"settled"`)) {
				seen <- time.Time{}
				return
			}
			seen <- time.Now()
		}()
		return func() time.Time { return <-seen }
	})
	measureSettleToCredited(t, ctx, e, s, slug, ev, "polling every 200 µs", func(hash string) func() time.Time {
		return func() time.Time {
			// From lnd's event on (a tighter loop only steals CPU from
			// the site it measures).
			deadline := time.Now().Add(30 * time.Second)
			for time.Now().Before(deadline) {
				r := s.call(http.MethodGet, "/api/v1/invoices/"+hash, "", nil)
				if r.Status == http.StatusOK && bytes.Contains(r.Body, []byte(`"state":"settled"`)) {
					return time.Now()
				}
				time.Sleep(200 * time.Microsecond)
			}
			return time.Time{}
		}
	})
}

// measureSettleToCredited pays 200 donations to slug one after another.
// watch starts watching the site's API for a payment hash before the
// payment is sent and returns a function that waits for the moment the
// API said settled (the zero time if it never did).
func measureSettleToCredited(t *testing.T, ctx context.Context, e *env, s *site, slug string, ev *settleEvents, how string, watch func(hash string) func() time.Time) {
	const n = 200
	var credited, propagation, payment, written []time.Duration
	for range n {
		inv := s.donate(slug, 10_000, "")
		seen := watch(inv.PaymentHash)
		time.Sleep(5 * time.Millisecond) // a waiting request is in place
		began := time.Now()
		type result struct {
			at  time.Time
			err error
		}
		paid := make(chan result, 1)
		go func() {
			at, err := e.payTimed(ctx, inv.PaymentRequest)
			paid <- result{at, err}
		}()
		var settledAt time.Time
		select {
		case settledAt = <-ev.ch(inv.PaymentHash):
		case <-time.After(30 * time.Second):
			t.Fatal("no settle event from lnd within 30s")
		}
		seenAt := seen()
		if seenAt.IsZero() {
			t.Fatalf("invoice %s not seen settled through the API", inv.PaymentHash)
		}
		// The ledger's own clock: when the site wrote the credit.
		var tr ledger.Transfer
		if err := e.db.Gorm(context.Background()).Where("key = ?", "invoice:"+inv.PaymentHash).Take(&tr).Error; err != nil {
			t.Fatal(err)
		}
		written = append(written, tr.CreatedAt.Sub(settledAt))
		p := <-paid
		if p.err != nil {
			t.Fatal(p.err)
		}
		credited = append(credited, seenAt.Sub(settledAt))
		propagation = append(propagation, p.at.Sub(settledAt))
		payment = append(payment, p.at.Sub(began))
	}
	fmt.Printf("BENCH %s settle->credited (n=%d, %s): lnd settle event -> credit written (ledger clock) p50 %s p99 %s\n",
		e.dialect, n, how, pct(written, 50), pct(written, 99))
	fmt.Printf("BENCH %s settle->credited (n=%d, %s): lnd settle event -> site API settled p50 %s p99 %s; "+
		"lnd settle event -> payer SendPaymentV2 success p50 %s p99 %s (goal: API p99 <= this p99 + 2ms); payer payment p50 %s p99 %s\n",
		e.dialect, n, how, pct(credited, 50), pct(credited, 99), pct(propagation, 50), pct(propagation, 99),
		pct(payment, 50), pct(payment, 99))
}

// benchDonateEndToEnd: payer pays a donation → the status API shows the
// new funded_until, against the bare payment of an invoice made straight
// on the site node; 50 of each, alternated.
func benchDonateEndToEnd(t *testing.T, e *env, s *site) {
	ctx := testCtx(t, 5*time.Minute)
	slug, _, _ := s.createOffering(slowBurn)
	const n = 50
	var endToEnd, bare []time.Duration
	for range n {
		// Each donation buys 5000 s, so funded_until (in whole seconds)
		// visibly moves.
		inv := s.donate(slug, 5_000_000, "")
		before := s.statusRaw(slug)
		began := time.Now()
		errc := make(chan error, 1)
		go func() {
			_, err := e.payTimed(ctx, inv.PaymentRequest)
			errc <- err
		}()
		for {
			st := s.statusRaw(slug)
			if st.FundedUntil != before.FundedUntil {
				endToEnd = append(endToEnd, time.Since(began))
				break
			}
			if time.Since(began) > 30*time.Second {
				t.Fatal("status did not move within 30s")
			}
			time.Sleep(time.Millisecond)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}

		resp, err := e.site.AddInvoice(ctx, &lnrpc.Invoice{ValueMsat: 5_000_000, Memo: "bare", RPreimage: mustRandom(32)})
		if err != nil {
			t.Fatal(err)
		}
		began = time.Now()
		at, err := e.payTimed(ctx, resp.PaymentRequest)
		if err != nil {
			t.Fatal(err)
		}
		bare = append(bare, at.Sub(began))
	}
	m1, m2 := pct(endToEnd, 50), pct(bare, 50)
	fmt.Printf("BENCH %s donate end to end (n=%d): pay -> status moved median %s (p99 %s); bare lnd payment median %s (p99 %s); ratio %.2f (goal <= 1.2)\n",
		e.dialect, n, m1, pct(endToEnd, 99), m2, pct(bare, 99), float64(m1)/float64(m2))
}

type rawStatus struct {
	FundedUntil string `json:"funded_until"`
}

func (s *site) statusRaw(slug string) rawStatus {
	s.e.t.Helper()
	r := s.call(http.MethodGet, "/api/v1/offerings/"+slug+"/status", "", nil)
	var st rawStatus
	if r.Status != http.StatusOK || json.Unmarshal(r.Body, &st) != nil {
		s.e.t.Fatalf("status: %s", r)
	}
	return st
}

// pct is the p-th percentile (nearest rank) of ds.
func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))].Round(10 * time.Microsecond)
}

// pidOf finds the process (one the test started) whose command line
// contains arg.
func pidOf(t *testing.T, arg string) int {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	for _, d := range entries {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
		if bytes.Contains(cmdline, []byte(arg)) {
			return pid
		}
	}
	t.Fatalf("no process with %s", arg)
	return 0
}

// cpuTime is the user + system CPU a process has used (Linux /proc; the
// kernel counts in ticks of 1/100 s).
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// machineCPU is the time all cores spent busy and in all (Linux
// /proc/stat, first line), to tell whether a round was CPU-bound.
type machineCPU struct{ busy, total time.Duration }

func readMachineCPU() machineCPU {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineCPU{}
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))[1:] // user nice system idle iowait irq softirq steal ...
	var m machineCPU
	for i, v := range f[:min(len(f), 8)] {
		ticks, _ := strconv.ParseInt(v, 10, 64)
		d := time.Duration(ticks) * 10 * time.Millisecond
		m.total += d
		if i != 3 && i != 4 { // idle, iowait
			m.busy += d
		}
	}
	return m
}

func (m machineCPU) sub(o machineCPU) machineCPU {
	return machineCPU{busy: m.busy - o.busy, total: m.total - o.total}
}

func (m machineCPU) add(o machineCPU) machineCPU {
	return machineCPU{busy: m.busy + o.busy, total: m.total + o.total}
}

func (m machineCPU) busyPercent() float64 {
	if m.total == 0 {
		return 0
	}
	return 100 * float64(m.busy) / float64(m.total)
}

// waitCaughtUp waits until the site has read the settlements the node made
// before it started. A fresh database on a node that was used before (the
// PostgreSQL run comes after the SQLite one) reads the node's whole invoice
// list once: a cost of starting, not of each invoice, so it is left out of
// what is measured.
func (e *env) waitCaughtUp(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	resp, err := e.site.ListInvoices(ctx, &lnrpc.ListInvoiceRequest{Reversed: true, NumMaxInvoices: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var last uint64
	for _, inv := range resp.Invoices {
		last = max(last, inv.SettleIndex)
	}
	start := time.Now()
	for {
		idx, err := funding.SettleIndex(ctx, e.db)
		if err != nil {
			t.Fatal(err)
		}
		if idx >= last {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the site's settle cursor is at %d after %s, the node's at %d", idx, time.Since(start), last)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("the site caught up with the node's %d settlements in %s", last, time.Since(start).Round(time.Millisecond))
}

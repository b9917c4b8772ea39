package e2e

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lightningnetwork/lnd/lnrpc"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/lightning/regtest"
	"github.com/keepalive/keepalive/internal/money"
)

// TestDeploymentBehindCaddy runs the deployment of docker-compose.yml
// without Docker: three replicas of the built binary on one PostgreSQL
// schema and the real lnd, behind Caddy running the repository's own
// deploy/Caddyfile. Through the proxy: every replica serves, a donation's
// page turns paid over its event stream, the rate limit counts the client
// the proxy names (and not a header the client forges), a SIGKILLed
// replica costs no failed request, and a SIGTERMed one leaves the rotation.
//
// It needs caddy on the PATH (.ci/run installs Debian's).
func TestDeploymentBehindCaddy(t *testing.T) {
	if os.Getenv("DATABASE_URL") == "" {
		t.Skip("several replicas need PostgreSQL: set DATABASE_URL")
	}
	caddy, err := exec.LookPath("caddy")
	if err != nil {
		t.Skip("caddy is not installed (apt-get install caddy)")
	}
	e := newEnv(t, db.Postgres)
	// Loopback holds all of 127/8: the test's clients connect from
	// addresses of their own, so the replicas can tell them apart only by
	// what the proxy (127.0.0.1) says in X-Forwarded-For.
	const ann, bob = "127.0.0.5", "127.0.0.6"
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	settings := []string{
		// The README's macaroon: only the rights the site needs.
		"LND_MACAROON_PATH=" + bakeSiteMacaroon(ctx, t, e),
		"KEEPALIVE_TRUSTED_PROXIES=127.0.0.1",
		// A burst of 2 invoices per client address, refilled every 10 s.
		"KEEPALIVE_INVOICE_RATE=0.1",
		"KEEPALIVE_LOG_FORMAT=json",
	}
	var replicas []*site
	var upstreams []string
	for range 3 {
		r := e.startSite(settings...)
		replicas = append(replicas, r)
		upstreams = append(upstreams, r.addr)
	}
	proxyAddr := freeAddr(t)
	startCaddy(t, caddy, proxyAddr, upstreams)

	client := func(from string) *site {
		dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
		return &site{e: e, base: "http://" + proxyAddr, http: &http.Client{
			Timeout:   60 * time.Second,
			Transport: &http.Transport{DialContext: dialer.DialContext, DisableKeepAlives: true},
		}}
	}
	viaAnn, viaBob := client(ann), client(bob)

	// Every replica serves: round robin over three, nine requests.
	for range 9 {
		viaAnn.must(http.StatusOK, http.MethodGet, "/healthz", "", nil, nil)
	}
	for i, r := range replicas {
		if n := countLog(t, r, `"route":"/healthz"`, `"client":"`+ann+`"`); n == 0 {
			t.Errorf("replica %d served none of the proxied requests:\n%s", i+1, r.logTail(2000))
		}
	}

	// A donation made through the proxy, watched over its event stream
	// through the proxy, paid by the payer node.
	slug, _, _ := viaBob.createOffering(money.Msat(1_000_000))
	inv := viaBob.donate(slug, money.Msat(5_000_000), "through the proxy")
	listening := make(chan struct{})
	paidSeen := make(chan error, 1)
	go func() {
		_, err := watchUntilPaid(ctx, viaBob.http, viaBob.base+"/invoices/"+inv.PaymentHash+"/events", listening)
		paidSeen <- err
	}()
	select {
	case <-listening:
	case err := <-paidSeen:
		t.Fatalf("event stream through the proxy: %v", err)
	}
	e.pay(ctx, inv.PaymentRequest)
	if err := <-paidSeen; err != nil {
		t.Fatalf("the page's event stream through the proxy never said paid: %v", err)
	}
	if got := viaBob.invoice(inv.PaymentHash); got.State != "settled" {
		t.Fatalf("invoice through the proxy: %+v", got)
	}

	// An owner's withdrawal through the proxy is paid (the macaroon's
	// payment rights).
	earnedSlug, key, _ := viaBob.fundEarned(ctx, money.Msat(20_000_000))
	bolt11, hash := e.payerInvoice(ctx, &lnrpc.Invoice{ValueMsat: 10_000_000})
	if r := viaBob.withdraw(earnedSlug, key, bolt11); r.Status != http.StatusAccepted {
		t.Fatalf("withdraw through the proxy: %s", r)
	}
	eventually(t, 60*time.Second, "the owner's withdrawal paid", func() bool {
		time.Sleep(100 * time.Millisecond)
		return e.payerInvoiceState(ctx, hash).State == lnrpc.Invoice_SETTLED
	})

	// The rate limit counts the address the proxy names. Ann spends her
	// burst on every replica (each keeps its own bucket)...
	donate := func(s *site, forged string) int {
		req, _ := http.NewRequest(http.MethodPost, s.base+"/api/v1/offerings/"+slug+"/donations",
			strings.NewReader(`{"amount_msat":1000000}`))
		req.Header.Set("Content-Type", "application/json")
		if forged != "" {
			req.Header.Set("X-Forwarded-For", forged)
			req.Header.Set("X-Real-IP", forged)
		}
		resp, err := s.http.Do(req)
		if err != nil {
			t.Fatalf("donate through the proxy: %v", err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	refused := 0
	for i := 0; refused < len(replicas); i++ {
		switch code := donate(viaAnn, ""); code {
		case http.StatusCreated:
			refused = 0
		case http.StatusTooManyRequests:
			refused++
		default:
			t.Fatalf("donation %d: HTTP %d", i, code)
		}
		if i > 3*len(replicas)*3 {
			t.Fatal("the per-client limit never refused Ann: the replicas do not see her address")
		}
	}
	// ...then forging X-Forwarded-For gains her nothing on any replica,
	for i := range 2 * len(replicas) {
		if code := donate(viaAnn, fmt.Sprintf("203.0.113.%d", i+1)); code != http.StatusTooManyRequests {
			t.Fatalf("Ann with a forged X-Forwarded-For: HTTP %d, want 429", code)
		}
	}
	// ...while Bob, from another address behind the same proxy, is served.
	if code := donate(viaBob, ""); code != http.StatusCreated {
		t.Fatalf("Bob after Ann's burst: HTTP %d, want 201", code)
	}
	for i, r := range replicas {
		if countLog(t, r, `"client":"`+ann+`"`)+countLog(t, r, `"client":"`+bob+`"`) == 0 {
			t.Errorf("replica %d never logged a client's own address:\n%s", i+1, r.logTail(2000))
		}
		if n := countLog(t, r, `"client":"203.0.113.`); n != 0 {
			t.Errorf("replica %d logged a forged client address %d times", i+1, n)
		}
	}

	// A replica dies: no request through the proxy fails for it.
	replicas[1].kill()
	for i := range 12 {
		if r := viaBob.call(http.MethodGet, "/api/v1/offerings/"+slug+"/status", "", nil); r.Status != http.StatusOK {
			t.Fatalf("status %d after a replica died: %s", i, r)
		}
	}
	replicas[1].start()

	// Back, it rejoins the rotation once the proxy's health check passes
	// (the failed dial kept it out for fail_duration).
	served := func() []int {
		var n []int
		for _, r := range replicas {
			n = append(n, countLog(t, r, `"route":"/api/v1/offerings/:slug"`))
		}
		return n
	}
	eventually(t, 30*time.Second, "the restarted replica serves through the proxy again", func() bool {
		viaBob.must(http.StatusOK, http.MethodGet, "/api/v1/offerings/"+slug, "", nil, nil)
		if served()[1] > 0 {
			return true
		}
		time.Sleep(200 * time.Millisecond)
		return false
	})

	// A replica drains (SIGTERM): /readyz fails, the proxy's health check
	// takes it out, and every request is served by the other two.
	replicas[2].cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-replicas[2].done:
	case <-time.After(30 * time.Second):
		t.Fatal("replica 3 did not stop within 30 s of SIGTERM")
	}
	before := served()
	for i := range 12 {
		if r := viaBob.call(http.MethodGet, "/api/v1/offerings/"+slug, "", nil); r.Status != http.StatusOK {
			t.Fatalf("request %d while a replica is gone: %s", i, r)
		}
	}
	after := served()
	if after[0] == before[0] || after[1] == before[1] {
		t.Errorf("the two live replicas did not share the requests: before %v, after %v", before, after)
	}
	e.checkInvariants()
}

// bakeSiteMacaroon bakes, on the site's node, the macaroon the README
// tells operators to bake, and returns its file.
func bakeSiteMacaroon(ctx context.Context, t *testing.T, e *env) string {
	t.Helper()
	var perms []*lnrpc.MacaroonPermission
	for _, p := range []string{"info:read", "invoices:read", "invoices:write", "offchain:read", "offchain:write"} {
		entity, action, _ := strings.Cut(p, ":")
		perms = append(perms, &lnrpc.MacaroonPermission{Entity: entity, Action: action})
	}
	resp, err := e.site.BakeMacaroon(ctx, &lnrpc.BakeMacaroonRequest{Permissions: perms})
	if err != nil {
		t.Fatalf("bake the site's macaroon: %v", err)
	}
	mac, err := hex.DecodeString(resp.Macaroon)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "site.macaroon")
	if err := os.WriteFile(path, mac, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startCaddy runs the repository's deploy/Caddyfile in front of the given
// upstreams (its admin endpoint off, so runs do not collide) until the
// test ends, and waits for it to proxy.
func startCaddy(t *testing.T, caddy, addr string, upstreams []string) {
	t.Helper()
	root, err := regtest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "Caddyfile")
	deploy := filepath.Join(root, "deploy", "Caddyfile")
	if err := os.WriteFile(conf, []byte("{\n\tadmin off\n}\nimport "+deploy+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(caddy, "run", "--config", conf, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "KEEPALIVE_PROXY_ADDR=:"+port,
		"KEEPALIVE_UPSTREAMS="+strings.Join(upstreams, " "),
		"HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	logPath := filepath.Join(dir, "caddy.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start caddy: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("caddy log:\n%s", b)
		}
	})
	eventually(t, 20*time.Second, "caddy proxies /healthz", func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// countLog counts the lines of a replica's log holding every needle.
func countLog(t *testing.T, s *site, needles ...string) int {
	t.Helper()
	f, err := os.Open(s.logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		all := true
		for _, needle := range needles {
			all = all && strings.Contains(line, needle)
		}
		if all {
			n++
		}
	}
	return n
}

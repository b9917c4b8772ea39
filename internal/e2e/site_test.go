package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lightningnetwork/lnd/lnrpc"
	"github.com/lightningnetwork/lnd/lnrpc/invoicesrpc"
	"github.com/lightningnetwork/lnd/lnrpc/routerrpc"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/funding"
	"github.com/keepalive/keepalive/internal/keys"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/lightning/regtest"
	"github.com/keepalive/keepalive/internal/money"
	"github.com/keepalive/keepalive/internal/offering"
)

func TestMain(m *testing.M) { regtest.Main(m) }

// env is what one scenario runs on: the shared network, the site binary,
// a fresh database for the site, and gRPC clients of both nodes.
type env struct {
	t       *testing.T
	net     *regtest.Network
	bin     string
	dialect db.Dialect
	dbURL   string
	// secretKey seals the site's secrets; every start of the site on
	// this database gets the same one, as replicas would.
	secretKey string
	db        *db.DB
	ledger    *ledger.Ledger

	site          lnrpc.LightningClient
	payer         lnrpc.LightningClient
	payerInvoices invoicesrpc.InvoicesClient
	payerRouter   routerrpc.RouterClient
}

// eachDB runs fn on a fresh SQLite database and, when DATABASE_URL is
// set, on a fresh PostgreSQL schema too. The invariants are checked after
// fn, whatever it did.
func eachDB(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Helper()
	dialects := []db.Dialect{db.SQLite}
	if os.Getenv("DATABASE_URL") != "" {
		dialects = append(dialects, db.Postgres)
	}
	for _, d := range dialects {
		t.Run(string(d), func(t *testing.T) {
			e := newEnv(t, d)
			fn(t, e)
			e.checkInvariants()
		})
	}
}

func newEnv(t *testing.T, dialect db.Dialect) *env {
	t.Helper()
	n := regtest.Shared(t)
	e := &env{t: t, net: n, bin: siteBinary(t, n), dialect: dialect, dbURL: dbtest.URL(t, dialect), secretKey: randomKey(t)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := db.Open(ctx, e.dbURL, nil)
	if err != nil {
		t.Fatalf("open the site's database: %v", err)
	}
	// The site migrates on start; the test migrates first so it can read
	// tables before the first start (migrating twice is a no-op).
	if err := d.Migrate(ctx, nil); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	e.db, e.ledger = d, ledger.New(d, nil)

	siteConn, err := n.Site.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { siteConn.Close() })
	payerConn, err := n.Payer.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { payerConn.Close() })
	e.site = lnrpc.NewLightningClient(siteConn)
	e.payer = lnrpc.NewLightningClient(payerConn)
	e.payerInvoices = invoicesrpc.NewInvoicesClient(payerConn)
	e.payerRouter = routerrpc.NewRouterClient(payerConn)
	return e
}

func randomKey(t *testing.T) string {
	b := make([]byte, keys.KeySize)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

var build struct {
	sync.Mutex
	path string
	err  error
}

// EnvSiteBinary names a keepalive binary to test instead of building one
// (to test a release build, or while the working tree does not compile).
const EnvSiteBinary = "KEEPALIVE_E2E_BIN"

// siteBinary builds the keepalive binary once per package run, into the
// network's folder (removed with it when the tests pass).
func siteBinary(t *testing.T, n *regtest.Network) string {
	t.Helper()
	if p := os.Getenv(EnvSiteBinary); p != "" {
		return p
	}
	build.Lock()
	defer build.Unlock()
	if build.path == "" && build.err == nil {
		build.err = func() error {
			root, err := regtest.ModuleRoot()
			if err != nil {
				return err
			}
			out := filepath.Join(n.Dir, "e2e", "keepalive")
			cmd := exec.Command("go", "build", "-o", out, ".")
			cmd.Dir = root
			if msg, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("go build: %w\n%s", err, msg)
			}
			build.path = out
			return nil
		}()
	}
	if build.err != nil {
		t.Fatalf("building the site: %v", build.err)
	}
	return build.path
}

// site is one running keepalive process.
type site struct {
	e       *env
	addr    string // 127.0.0.1:port, kept across restarts
	base    string // http://addr
	extra   []string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{}
	http    *http.Client
}

// startSite starts the site on a free port with the scenario's database
// and waits until it answers /healthz. extra are more KEY=VALUE settings.
func (e *env) startSite(extra ...string) *site {
	e.t.Helper()
	s := &site{e: e, addr: freeAddr(e.t), extra: extra,
		logPath: filepath.Join(e.t.TempDir(), "site.log"), http: &http.Client{Timeout: 60 * time.Second}}
	s.base = "http://" + s.addr
	e.t.Cleanup(func() {
		s.kill()
		if e.t.Failed() {
			e.t.Logf("site log (tail):\n%s", s.logTail(4000))
		}
	})
	s.start()
	return s
}

func (s *site) start() {
	t := s.e.t
	t.Helper()
	if s.running() {
		t.Fatal("site already running")
	}
	cfg := s.e.net.Site.Config()
	vars := []string{
		"KEEPALIVE_LIGHTNING=lnd",
		"LND_GRPC_ADDR=" + cfg.Addr,
		"LND_TLS_CERT_PATH=" + cfg.TLSCertPath,
		"LND_MACAROON_PATH=" + cfg.MacaroonPath,
		"KEEPALIVE_ADDR=" + s.addr,
		"KEEPALIVE_BASE_URL=" + s.base,
		"KEEPALIVE_LNURL_ALLOW_PRIVATE=1",
		"KEEPALIVE_ACCRUAL_INTERVAL=1s",
		"KEEPALIVE_INVOICE_RATE=100000",
		"KEEPALIVE_INVOICE_RATE_TOTAL=100000",
		"DATABASE_URL=" + s.e.dbURL,
		"KEEPALIVE_SECRET_KEY=" + s.e.secretKey,
	}
	cmd := exec.Command(s.e.bin, "serve")
	cmd.Env = append(append(cleanEnviron(), vars...), s.extra...)
	logFile, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// If the test binary dies, the site dies with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("start site: %v", err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		logFile.Close()
		close(done)
	}()
	s.cmd, s.done = cmd, done

	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := s.http.Get(s.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-done:
			t.Fatalf("site exited at start (%v):\n%s", cmd.ProcessState, s.logTail(4000))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("site not healthy after 30s:\n%s", s.logTail(4000))
		}
	}
}

func (s *site) running() bool {
	if s.done == nil {
		return false
	}
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// stop asks the site to shut down (SIGTERM) and waits for it to exit.
func (s *site) stop() {
	s.e.t.Helper()
	if !s.running() {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		s.kill()
		s.e.t.Fatalf("site did not stop within 20s of SIGTERM:\n%s", s.logTail(2000))
	}
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		s.e.t.Errorf("site exited with %d after SIGTERM:\n%s", code, s.logTail(2000))
	}
}

// kill stops the site at once (SIGKILL), as a crash would.
func (s *site) kill() {
	if !s.running() {
		return
	}
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

func (s *site) logTail(n int) string {
	b, _ := os.ReadFile(s.logPath)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// cleanEnviron is the test's environment without the site's settings, so
// that nothing set for the test run leaks into the site.
func cleanEnviron() []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "KEEPALIVE_") || strings.HasPrefix(kv, "LND_") || strings.HasPrefix(kv, "DATABASE_URL=") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// apiResult is an HTTP answer.
type apiResult struct {
	Status int
	Body   []byte
	Took   time.Duration
}

func (r apiResult) String() string {
	return fmt.Sprintf("HTTP %d %s", r.Status, bytes.TrimSpace(r.Body))
}

// call does one request; body, when not nil, is sent as JSON.
func (s *site) call(method, path, bearer string, body any) apiResult {
	s.e.t.Helper()
	r, err := s.tryCall(method, path, bearer, body)
	if err != nil {
		s.e.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

func (s *site) tryCall(method, path, bearer string, body any) (apiResult, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return apiResult{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	if err != nil {
		return apiResult{}, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	began := time.Now()
	resp, err := s.http.Do(req)
	if err != nil {
		return apiResult{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return apiResult{Status: resp.StatusCode, Body: b, Took: time.Since(began)}, err
}

// must does a request, fails the test unless the status is want, and
// decodes the answer into out (when not nil).
func (s *site) must(want int, method, path, bearer string, body, out any) {
	s.e.t.Helper()
	r := s.call(method, path, bearer, body)
	if r.Status != want {
		s.e.t.Fatalf("%s %s: %s, want %d", method, path, r, want)
	}
	if out != nil {
		if err := json.Unmarshal(r.Body, out); err != nil {
			s.e.t.Fatalf("%s %s: decode %s: %v", method, path, r.Body, err)
		}
	}
}

type offeringCreated struct {
	Slug      string `json:"slug"`
	ManageKey string `json:"manage_key"`
}

// createOffering lists an offering through the API with the given burn
// rate and returns its slug, manage key and database id.
func (s *site) createOffering(burnRate money.Msat) (slug, key string, id int64) {
	s.e.t.Helper()
	slug = "e2e-" + randomHex(4)
	var out offeringCreated
	s.must(http.StatusCreated, http.MethodPost, "/api/v1/offerings", "", map[string]any{
		"name": "E2E " + slug, "slug": slug, "url": "https://example.com/" + slug,
		"burn_rate_msat_per_hour": burnRate,
	}, &out)
	if out.ManageKey == "" {
		s.e.t.Fatal("no manage key in the answer")
	}
	if err := s.e.db.Gorm(context.Background()).Table("offerings").Select("id").Where("slug = ?", slug).Scan(&id).Error; err != nil || id == 0 {
		s.e.t.Fatalf("offering %s not in the database (id %d): %v", slug, id, err)
	}
	return slug, out.ManageKey, id
}

type invoiceCreated struct {
	PaymentHash    string     `json:"payment_hash"`
	PaymentRequest string     `json:"payment_request"`
	AmountMsat     money.Msat `json:"amount_msat"`
}

func (s *site) donate(slug string, amount money.Msat, message string) invoiceCreated {
	s.e.t.Helper()
	var inv invoiceCreated
	s.must(http.StatusCreated, http.MethodPost, "/api/v1/offerings/"+slug+"/donations", "",
		map[string]any{"amount_msat": amount, "message": message}, &inv)
	if inv.PaymentHash == "" || !strings.HasPrefix(inv.PaymentRequest, "lnbcrt") {
		s.e.t.Fatalf("donation answer without a regtest invoice: %+v", inv)
	}
	return inv
}

type statusJSON struct {
	State       string     `json:"state"`
	Alive       bool       `json:"alive"`
	FundedUntil *time.Time `json:"funded_until"`
	RunwayMsat  money.Msat `json:"runway_msat"`
}

func (s *site) status(slug string) statusJSON {
	s.e.t.Helper()
	var st statusJSON
	s.must(http.StatusOK, http.MethodGet, "/api/v1/offerings/"+slug+"/status", "", nil, &st)
	return st
}

type invoiceJSON struct {
	State      string     `json:"state"`
	PaidMsat   money.Msat `json:"paid_msat"`
	AmountMsat money.Msat `json:"amount_msat"`
}

func (s *site) invoice(hash string) invoiceJSON {
	s.e.t.Helper()
	var inv invoiceJSON
	s.must(http.StatusOK, http.MethodGet, "/api/v1/invoices/"+hash, "", nil, &inv)
	return inv
}

type payoutJSON struct {
	PaymentHash   string     `json:"payment_hash"`
	State         string     `json:"state"`
	AmountMsat    money.Msat `json:"amount_msat"`
	FeeMsat       money.Msat `json:"fee_msat"`
	FailureReason string     `json:"failure_reason"`
}

func (s *site) withdraw(slug, key, destination string) apiResult {
	s.e.t.Helper()
	return s.call(http.MethodPost, "/api/v1/offerings/"+slug+"/withdrawals", key, map[string]string{"destination": destination})
}

// eventually polls cond every few milliseconds until it holds or timeout
// passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *env) checkInvariants() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// One snapshot: the site may be running and posting accruals, and
	// accounts and transfers read at two moments would disagree. SQLite's
	// transactions here are immediate (they hold the write lock); on
	// PostgreSQL the default isolation takes a snapshot per statement.
	err := e.db.Snapshot(ctx, func(tx db.Tx) error {
		if err := e.ledger.In(tx).CheckInvariants(ctx); err != nil {
			return err
		}
		return offering.CheckConsumption(ctx, e.ledger, tx)
	})
	if err != nil {
		e.t.Error(err)
	}
}

func (e *env) account(name string) ledger.Account {
	e.t.Helper()
	a, err := e.ledger.Account(context.Background(), name)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// transfers counts the ledger's transfers with key.
func (e *env) transfers(key string) int64 {
	e.t.Helper()
	var n int64
	if err := e.db.Gorm(context.Background()).Model(&ledger.Transfer{}).Where("key = ?", key).Count(&n).Error; err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) payouts() []funding.Payout {
	e.t.Helper()
	var ps []funding.Payout
	if err := e.db.Gorm(context.Background()).Order("id").Find(&ps).Error; err != nil {
		e.t.Fatal(err)
	}
	return ps
}

func (e *env) dbInvoice(hash string) funding.Invoice {
	e.t.Helper()
	var inv funding.Invoice
	if err := e.db.Gorm(context.Background()).Where("payment_hash = ?", hash).Take(&inv).Error; err != nil {
		e.t.Fatalf("invoice %s: %v", hash, err)
	}
	return inv
}

// pay pays bolt11 from the payer node and fails the test if it fails.
func (e *env) pay(ctx context.Context, bolt11 string) {
	e.t.Helper()
	if err := e.net.Payer.PayInvoice(ctx, bolt11); err != nil {
		e.t.Fatal(err)
	}
}

// payerInvoice adds an invoice on the payer node and returns its BOLT11
// string and payment hash (hex).
func (e *env) payerInvoice(ctx context.Context, in *lnrpc.Invoice) (string, string) {
	e.t.Helper()
	resp, err := e.payer.AddInvoice(ctx, in)
	if err != nil {
		e.t.Fatalf("payer add invoice: %v", err)
	}
	return resp.PaymentRequest, hex.EncodeToString(resp.RHash)
}

func (e *env) payerInvoiceState(ctx context.Context, hash string) *lnrpc.Invoice {
	e.t.Helper()
	h, _ := hex.DecodeString(hash)
	inv, err := e.payer.LookupInvoice(ctx, &lnrpc.PaymentHash{RHash: h})
	if err != nil {
		e.t.Fatalf("payer lookup invoice %s: %v", hash, err)
	}
	return inv
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

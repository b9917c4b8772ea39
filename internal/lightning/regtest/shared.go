package regtest

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"
)

// EnvEnable turns the real-Lightning integration tests on (`make test` sets
// it). EnvKeep keeps the network's folder after the tests, for its logs.
const (
	EnvEnable = "KEEPALIVE_REGTEST"
	EnvKeep   = "KEEPALIVE_REGTEST_KEEP"
)

// startTimeout bounds building the binaries (cold: minutes) plus starting
// the network.
const startTimeout = 15 * time.Minute

// Enabled reports whether integration tests should run.
func Enabled() bool { return os.Getenv(EnvEnable) == "1" }

var shared struct {
	sync.Mutex
	inMain  bool
	started bool
	net     *Network
	err     error
	took    time.Duration
}

// Main is a test package's TestMain when some of its tests use Shared:
//
//	func TestMain(m *testing.M) { regtest.Main(m) }
//
// It runs the tests, then stops the network if one was started. The network
// is started lazily by the first Shared call, so a run that filters out
// every integration test (or lacks KEEPALIVE_REGTEST=1) starts nothing.
func Main(m *testing.M) {
	shared.Lock()
	shared.inMain = true
	shared.Unlock()

	code := m.Run()

	shared.Lock()
	defer shared.Unlock()
	if shared.net != nil {
		if err := shared.net.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
		if code == 0 && os.Getenv(EnvKeep) == "" {
			os.RemoveAll(shared.net.Dir)
		} else {
			fmt.Fprintf(os.Stderr, "regtest: network files kept in %s\n", shared.net.Dir)
		}
	}
	os.Exit(code)
}

// Shared returns the package's one network, starting it on first use. It
// skips the test unless KEEPALIVE_REGTEST=1, and fails it if the network
// cannot start (every later caller gets the same error at once).
func Shared(t testing.TB) *Network {
	t.Helper()
	if !Enabled() {
		t.Skipf("real-Lightning test: run with %s=1 (make test does), which starts btcd and two lnd nodes", EnvEnable)
	}
	shared.Lock()
	defer shared.Unlock()
	if !shared.inMain {
		t.Fatal("regtest: the package needs func TestMain(m *testing.M) { regtest.Main(m) } so the network is stopped")
	}
	if !shared.started {
		shared.started = true
		began := time.Now()
		shared.net, shared.err = startShared()
		shared.took = time.Since(began)
		if shared.err == nil {
			t.Logf("regtest: network started in %s (%s)", shared.took.Round(time.Millisecond), shared.net.Dir)
		}
	}
	if shared.err != nil {
		t.Fatalf("regtest: %v", shared.err)
	}
	return shared.net
}

func startShared() (*Network, error) {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := EnsureBinaries(ctx); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "keepalive-regtest-")
	if err != nil {
		return nil, fmt.Errorf("regtest: %w", err)
	}
	n, err := Start(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("%w\n(logs in %s)", err, dir)
	}
	return n, nil
}

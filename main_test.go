package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keepalive/keepalive/internal/config"
	"github.com/keepalive/keepalive/internal/lightning"
)

// TestSIGTERMDrainsAndWaits: SIGTERM ends open event streams, lets the
// server finish, stops every background job and returns cleanly, leaving
// no goroutine of its own behind.
func TestSIGTERMDrainsAndWaits(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	t.Setenv("KEEPALIVE_ADDR", addr)
	t.Setenv("DATABASE_URL", filepath.Join(t.TempDir(), "site.db"))
	t.Setenv("KEEPALIVE_LIGHTNING", "demo")
	t.Setenv("KEEPALIVE_LOG_LEVEL", "error")
	t.Setenv("KEEPALIVE_SHUTDOWN_TIMEOUT", "5s")

	done := make(chan error, 1)
	go func() { done <- run([]string{"serve"}) }()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	base := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := client.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready after 20 s: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	post := func(path, body string, out any) {
		resp, err := client.Post(base+path, "application/json", strings.NewReader(body))
		if err != nil || resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST %s: %v %v", path, resp, err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	var created map[string]any
	post("/api/v1/offerings", `{"name":"Shutdown","slug":"shutdown","url":"https://example.org","burn_rate_msat_per_hour":1000000}`, &created)
	var inv struct {
		PaymentHash string `json:"payment_hash"`
	}
	post("/api/v1/offerings/shutdown/donations", `{"amount_msat":1000000}`, &inv)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/invoices/"+inv.PaymentHash+"/events", nil)
	stream, err := client.Do(req)
	if err != nil || stream.StatusCode != 200 {
		t.Fatalf("event stream: %v %v", stream, err)
	}
	streamEnded := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stream.Body)
		for sc.Scan() {
		}
		close(streamEnded)
	}()

	began := time.Now()
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run after SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("still running 10 s after SIGTERM")
	}
	took := time.Since(began)
	select {
	case <-streamEnded:
	case <-time.After(time.Second):
		t.Fatal("the open event stream was not ended")
	}
	stream.Body.Close()
	t.Logf("stopped %v after SIGTERM", took.Round(time.Millisecond))
	if took > 3*time.Second {
		t.Errorf("shutdown took %v with nothing to wait for", took)
	}
	// Every goroutine the site started has ended. (The runtime's signal
	// loop and the ORM's statement cache sweeper are not the site's.)
	var left []string
	deadline = time.Now().Add(3 * time.Second)
	for {
		left = left[:0]
		buf := make([]byte, 1<<20)
		for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
			if strings.Contains(g, "keepalive/keepalive/") && !strings.Contains(g, "TestSIGTERMDrainsAndWaits") {
				left = append(left, g)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(left) > 0 {
		t.Fatalf("%d of the site's goroutines left after shutdown:\n%s", len(left), strings.Join(left, "\n\n"))
	}
}

// networkNode is a Lightning node that only says which network it is on.
type networkNode struct {
	lightning.Node
	network string
}

func (n networkNode) Network() string { return n.network }

// TestSponsorClockSkewOnlyOnRegtest: KEEPALIVE_REGTEST_CLOCK_SKEW is
// taken, with a loud warning, with the demo node or an lnd on regtest, and
// the site refuses to start with it on any other network.
func TestSponsorClockSkewOnlyOnRegtest(t *testing.T) {
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, nil))
	const skew = 90 * time.Minute
	lndCfg := config.Config{Lightning: config.LightningLND, RegtestClockSkew: skew}
	for _, network := range []string{"mainnet", "testnet3", "testnet4", "signet", "simnet"} {
		if _, err := sponsorClockSkew(lndCfg, networkNode{network: network}, log); err == nil || !strings.Contains(err.Error(), network) {
			t.Errorf("skew on %s: err = %v, want a refusal naming the network", network, err)
		}
	}
	if _, err := sponsorClockSkew(lndCfg, struct{ lightning.Node }{}, log); err == nil {
		t.Error("skew with a node that does not say its network: accepted")
	}
	if logged.Len() != 0 {
		t.Errorf("refusals logged a skew: %s", logged.String())
	}

	for _, c := range []struct {
		cfg  config.Config
		node lightning.Node
	}{
		{lndCfg, networkNode{network: "regtest"}},
		{config.Config{Lightning: config.LightningDemo, RegtestClockSkew: skew}, nil},
	} {
		logged.Reset()
		got, err := sponsorClockSkew(c.cfg, c.node, log)
		if err != nil || got != skew {
			t.Fatalf("%s: skew %v, %v; want %v", c.cfg.Lightning, got, err, skew)
		}
		if !strings.Contains(logged.String(), "level=WARN") || !strings.Contains(logged.String(), "KEEPALIVE_REGTEST_CLOCK_SKEW") {
			t.Errorf("%s: no loud warning: %q", c.cfg.Lightning, logged.String())
		}
	}

	logged.Reset()
	if got, err := sponsorClockSkew(config.Config{Lightning: config.LightningLND}, networkNode{network: "mainnet"}, log); err != nil || got != 0 || logged.Len() != 0 {
		t.Fatalf("no skew on mainnet: %v, %v, logged %q", got, err, logged.String())
	}
}

// Command regtestnet runs a local Lightning network (btcd, a "site" lnd and
// a "payer" lnd with channels both ways) until interrupted, and prints how
// to point Keepalive at the site node and how to pay from the payer. With
// -run-site it also runs the site (`go run . serve`) against it.
//
// The network starts fresh every time: the folder is wiped first.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/keepalive/keepalive/internal/lightning/regtest"
)

func main() {
	dir := flag.String("dir", filepath.Join("data", "regtest"), "folder for the network's data and logs (wiped at start)")
	runSite := flag.Bool("run-site", false, "also run the site (go run . serve) against the site node")
	flag.Parse()
	if err := run(*dir, *runSite); err != nil {
		log.Fatal(err)
	}
}

func run(dir string, runSite bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if err := regtest.EnsureBinaries(ctx); err != nil {
		return err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(abs); err != nil {
		return fmt.Errorf("wipe %s: %w", abs, err)
	}
	began := time.Now()
	net, err := regtest.Start(ctx, abs)
	if err != nil {
		return err
	}
	defer func() {
		if err := net.Stop(); err != nil {
			log.Print(err)
		}
		log.Print("regtest network stopped")
	}()

	env := []string{
		"KEEPALIVE_LIGHTNING=lnd",
		"LND_GRPC_ADDR=" + net.Site.RPCAddr,
		"LND_TLS_CERT_PATH=" + net.Site.TLSCertPath,
		"LND_MACAROON_PATH=" + net.Site.MacaroonPath,
		// A database of its own: the node is new, so is its settle index.
		"DATABASE_URL=" + filepath.Join(abs, "site.db"),
		// Lightning Addresses on this machine are fair game on regtest.
		"KEEPALIVE_LNURL_ALLOW_PRIVATE=1",
	}
	envPath := filepath.Join(abs, "site.env")
	if err := os.WriteFile(envPath, []byte(strings.Join(env, "\n")+"\n"), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", envPath, err)
	}

	fmt.Printf("regtest network ready in %s (data and logs in %s)\n\n", time.Since(began).Round(100*time.Millisecond), abs)
	fmt.Printf("Site node environment (also in %s):\n", envPath)
	for _, e := range env {
		fmt.Println("  export " + e)
	}
	fmt.Println("\nPay an invoice from the payer node:")
	fmt.Println("  " + net.Payer.LncliCommand("payinvoice", "--force", "<bolt11>"))
	fmt.Println("\nMine blocks:")
	fmt.Println("  " + net.BtcctlCommand("generate", "6"))
	fmt.Println("\nCtrl-C stops everything.")

	if !runSite {
		<-ctx.Done()
		return nil
	}
	return serveSite(ctx, env)
}

// serveSite runs the site from the module root until it exits or ctx ends.
func serveSite(ctx context.Context, env []string) error {
	root, err := regtest.ModuleRoot()
	if err != nil {
		return err
	}
	cmd := exec.Command("go", "run", ".", "serve")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	// Its own process group, so Ctrl-C reaches it only through us and the
	// network outlives the site's shutdown.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start site: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("site exited: %w", err)
		}
		return nil
	case <-ctx.Done():
		// go run's child is the site binary: signal the whole group we made.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		return nil
	}
}

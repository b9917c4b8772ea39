// Package regtest owns the real local Lightning network the integration
// tests and `make regtest` run on: btcd and two lnd nodes ("site" and
// "payer") with channels both ways, started from binaries built out of this
// module's own dependency graph.
package regtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

// lndTags must match the Makefile's LND_TAGS: one tag set for lnd and lncli,
// or shared packages compile twice.
const lndTags = "signrpc walletrpc chainrpc invoicesrpc routerrpc peersrpc integration"

var binaries = []string{"lnd", "lncli", "btcd", "btcctl"}

// BinDir is where the binaries live: $KEEPALIVE_REGTEST_BIN, else
// $HOME/.cache/keepalive/bin.
func BinDir() string {
	if d := os.Getenv("KEEPALIVE_REGTEST_BIN"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "keepalive-bin")
	}
	return filepath.Join(home, ".cache", "keepalive", "bin")
}

func bin(name string) string { return filepath.Join(BinDir(), name) }

func haveBinaries() bool {
	for _, b := range binaries {
		if fi, err := os.Stat(bin(b)); err != nil || fi.IsDir() {
			return false
		}
	}
	return true
}

// EnsureBinaries builds lnd, lncli, btcd and btcctl into BinDir when any is
// missing (minutes the first time, with a cold Go build cache). A file lock
// keeps test packages that start at once from building side by side.
func EnsureBinaries(ctx context.Context) error {
	if haveBinaries() {
		return nil
	}
	dir := BinDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("regtest: create %s: %w", dir, err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".build.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("regtest: build lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("regtest: build lock: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if haveBinaries() { // another process built them while we waited
		return nil
	}
	root, err := ModuleRoot()
	if err != nil {
		return err
	}
	builds := [][]string{
		{"build", "-tags=" + lndTags, "-o", dir + string(filepath.Separator),
			"github.com/lightningnetwork/lnd/cmd/lnd", "github.com/lightningnetwork/lnd/cmd/lncli"},
		{"build", "-o", dir + string(filepath.Separator),
			"github.com/btcsuite/btcd", "github.com/btcsuite/btcd/cmd/btcctl"},
	}
	for _, args := range builds {
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("regtest: go %v: %w\n%s", args, err, out)
		}
	}
	if !haveBinaries() {
		return fmt.Errorf("regtest: built, but %v are still not all in %s", binaries, dir)
	}
	return nil
}

// ModuleRoot walks up from the working directory to the folder holding
// go.mod (tests run in their package's folder).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("regtest: working directory: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("regtest: look for go.mod: %w", err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("regtest: no go.mod above the working directory")
		}
		dir = parent
	}
}

package regtest

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lightningnetwork/lnd/lnrpc"
	"github.com/lightningnetwork/lnd/lnrpc/routerrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"github.com/keepalive/keepalive/internal/lightning/lnd"
)

const (
	// ChannelSats is the capacity of each channel; PushSats of it starts on
	// the far side, so both nodes can pay and be paid from the start.
	ChannelSats = 16_000_000
	PushSats    = 8_000_000

	// initialBlocks: segwit activates on this regtest at height 432 and
	// coinbase needs 100 confirmations, so 500 leaves both wallets spendable
	// coins.
	initialBlocks = 500

	rpcUser = "keepalive"
	rpcPass = "keepalive"

	stepTimeout = 90 * time.Second
	pollEvery   = 50 * time.Millisecond
)

// Network is a running btcd with two lnd nodes: Site (the node the site
// uses) and Payer (a wallet that pays the site and is paid by it). Between
// them are two channels, Payer→Site and Site→Payer, each of ChannelSats with
// PushSats pushed to the other side.
type Network struct {
	Dir   string
	Site  *Node
	Payer *Node

	btcd        *process
	btcdRPC     string
	btcdP2P     string
	miningAddrs []string
	stopOnce    sync.Once
	stopErr     error
}

// Node is one lnd node of the network.
type Node struct {
	Name         string
	RPCAddr      string // gRPC, 127.0.0.1:port
	ListenAddr   string // peer-to-peer, 127.0.0.1:port
	PubKey       string // identity key, hex
	TLSCertPath  string
	MacaroonPath string // admin macaroon
	LndDir       string

	proc   *process
	conn   *grpc.ClientConn
	ln     lnrpc.LightningClient
	router routerrpc.RouterClient
}

// Start launches a fresh network in dir, which must be empty or absent.
// Every process started is stopped again if a later step fails. Logs go to
// dir/btcd.log, dir/site.log and dir/payer.log (lnd also keeps its own under
// each node's lnddir).
func Start(ctx context.Context, dir string) (_ *Network, err error) {
	if !haveBinaries() {
		return nil, fmt.Errorf("regtest: binaries missing in %s: call EnsureBinaries first", BinDir())
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("regtest: %w", err)
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("regtest: %s is not empty: a network starts from nothing", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("regtest: %w", err)
	}
	ports, err := freePorts(6)
	if err != nil {
		return nil, err
	}
	n := &Network{
		Dir:     dir,
		btcdRPC: fmt.Sprintf("127.0.0.1:%d", ports[0]),
		btcdP2P: fmt.Sprintf("127.0.0.1:%d", ports[1]),
	}
	defer func() {
		if err != nil {
			n.Stop()
		}
	}()

	if err := n.startBtcd(ctx); err != nil {
		return nil, err
	}
	n.Site = n.newNode("site", ports[2], ports[3])
	n.Payer = n.newNode("payer", ports[4], ports[5])
	if err := both(func(nd *Node) error { return n.startLnd(ctx, nd) }, n.Site, n.Payer); err != nil {
		return nil, err
	}

	// btcd has no wallet and mines only to addresses given at start, so it
	// restarts once the nodes can give theirs; lnd reconnects by itself.
	for _, nd := range []*Node{n.Payer, n.Site} {
		addr, err := nd.newAddress(ctx)
		if err != nil {
			return nil, err
		}
		n.miningAddrs = append(n.miningAddrs, addr)
	}
	if err := n.btcd.stop(); err != nil {
		return nil, err
	}
	if err := n.startBtcd(ctx); err != nil {
		return nil, err
	}
	if err := n.Mine(ctx, initialBlocks); err != nil {
		return nil, err
	}
	if err := both(func(nd *Node) error { return nd.waitBalance(ctx) }, n.Site, n.Payer); err != nil {
		return nil, err
	}

	if err := n.Payer.connect(ctx, n.Site); err != nil {
		return nil, err
	}
	if err := n.Payer.openChannel(ctx, n.Site); err != nil {
		return nil, err
	}
	if err := n.Site.openChannel(ctx, n.Payer); err != nil {
		return nil, err
	}
	if err := n.Mine(ctx, 6); err != nil {
		return nil, err
	}
	if err := both(func(nd *Node) error { return nd.waitActiveChannels(ctx, 2) }, n.Site, n.Payer); err != nil {
		return nil, err
	}
	return n, nil
}

// both runs f for two nodes at once; the nodes are independent until they
// connect, and starting them in parallel saves seconds.
func both(f func(*Node) error, a, b *Node) error {
	errs := make(chan error, 2)
	go func() { errs <- f(a) }()
	go func() { errs <- f(b) }()
	return errors.Join(<-errs, <-errs)
}

func (n *Network) btcdArgs() []string {
	d := filepath.Join(n.Dir, "btcd")
	args := []string{
		"--regtest", "--txindex",
		"--datadir=" + filepath.Join(d, "data"), "--logdir=" + filepath.Join(d, "logs"),
		"--rpcuser=" + rpcUser, "--rpcpass=" + rpcPass,
		"--rpclisten=" + n.btcdRPC, "--listen=" + n.btcdP2P,
		"--rpccert=" + filepath.Join(d, "rpc.cert"), "--rpckey=" + filepath.Join(d, "rpc.key"),
	}
	for _, a := range n.miningAddrs {
		args = append(args, "--miningaddr="+a)
	}
	return args
}

func (n *Network) startBtcd(ctx context.Context) error {
	p, err := startProcess("btcd", filepath.Join(n.Dir, "btcd.log"), bin("btcd"), n.btcdArgs()...)
	if err != nil {
		return err
	}
	n.btcd = p
	return poll(ctx, "btcd RPC", p, func() (bool, error) {
		_, err := n.btcctl(ctx, "getblockcount")
		return err == nil, nil
	})
}

func (n *Network) btcctlFlags() []string {
	return []string{
		"--regtest", "--rpcuser=" + rpcUser, "--rpcpass=" + rpcPass,
		"--rpcserver=" + n.btcdRPC, "--rpccert=" + filepath.Join(n.Dir, "btcd", "rpc.cert"),
	}
}

// BtcctlCommand is a ready-to-paste btcctl command line for the network's
// btcd (e.g. "generate 6").
func (n *Network) BtcctlCommand(args ...string) string {
	return strings.Join(append(append([]string{bin("btcctl")}, n.btcctlFlags()...), args...), " ")
}

// btcctl runs one btcctl command against the network's btcd.
func (n *Network) btcctl(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, bin("btcctl"), append(n.btcctlFlags(), args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("regtest: btcctl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// Mine generates blocks and waits until both nodes have seen them, so a
// test can rely on confirmations as soon as Mine returns.
func (n *Network) Mine(ctx context.Context, blocks int) error {
	if _, err := n.btcctl(ctx, "generate", strconv.Itoa(blocks)); err != nil {
		return err
	}
	out, err := n.btcctl(ctx, "getblockcount")
	if err != nil {
		return err
	}
	height, err := strconv.ParseUint(strings.TrimSpace(string(out)), 10, 32)
	if err != nil {
		return fmt.Errorf("regtest: block count %q: %w", out, err)
	}
	return both(func(nd *Node) error { return nd.waitSynced(ctx, uint32(height)) }, n.Site, n.Payer)
}

// Stop stops the lnd nodes, then btcd (lnd can hang on shutdown once its
// chain backend is gone). It is safe to call more than once.
func (n *Network) Stop() error {
	n.stopOnce.Do(func() {
		var errs []error
		var wg sync.WaitGroup
		var mu sync.Mutex
		for _, nd := range []*Node{n.Site, n.Payer} {
			if nd == nil {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if nd.conn != nil {
					nd.conn.Close()
				}
				if err := nd.proc.stop(); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if err := n.btcd.stop(); err != nil {
			errs = append(errs, err)
		}
		n.stopErr = errors.Join(errs...)
	})
	return n.stopErr
}

// RestartSite stops the site's lnd and starts it again on the same data,
// ports and credentials, as an operator's restart or a crash would, and
// returns once its channels with the payer are active again. Clients of
// the old process see their calls and streams fail meanwhile.
func (n *Network) RestartSite(ctx context.Context) error {
	nd := n.Site
	if err := nd.proc.stop(); err != nil {
		return err
	}
	if err := n.startLnd(ctx, nd); err != nil {
		return err
	}
	// lnd reconnects to peers it has channels with by itself; connecting
	// from the payer side too only makes it sooner.
	_ = n.Payer.connect(ctx, nd)
	return both(func(x *Node) error { return x.waitActiveChannels(ctx, 2) }, nd, n.Payer)
}

func (n *Network) newNode(name string, rpcPort, p2pPort int) *Node {
	dir := filepath.Join(n.Dir, name)
	return &Node{
		Name:         name,
		RPCAddr:      fmt.Sprintf("127.0.0.1:%d", rpcPort),
		ListenAddr:   fmt.Sprintf("127.0.0.1:%d", p2pPort),
		LndDir:       dir,
		TLSCertPath:  filepath.Join(dir, "tls.cert"),
		MacaroonPath: filepath.Join(dir, "data", "chain", "bitcoin", "regtest", "admin.macaroon"),
	}
}

func (n *Network) startLnd(ctx context.Context, nd *Node) error {
	args := []string{
		"--lnddir=" + nd.LndDir, "--alias=" + nd.Name,
		"--bitcoin.active", "--bitcoin.regtest", "--bitcoin.node=btcd",
		"--btcd.rpchost=" + n.btcdRPC, "--btcd.rpcuser=" + rpcUser, "--btcd.rpcpass=" + rpcPass,
		"--btcd.rpccert=" + filepath.Join(n.Dir, "btcd", "rpc.cert"),
		"--rpclisten=" + nd.RPCAddr, "--listen=" + nd.ListenAddr,
		"--norest", "--noseedbackup", "--nobootstrap",
		"--trickledelay=50", "--bitcoin.defaultchanconfs=1", "--maxpendingchannels=4",
		"--gossip.sub-batch-delay=5ms", "--db.batch-commit-interval=10ms",
	}
	p, err := startProcess(nd.Name, filepath.Join(n.Dir, nd.Name+".log"), bin("lnd"), args...)
	if err != nil {
		return err
	}
	nd.proc = p
	// lnd writes tls.cert and admin.macaroon in place: a file can exist
	// and still be empty or half written. Dial reads and checks both, so
	// it succeeds only once they are whole.
	if err := poll(ctx, nd.Name+" credentials", p, func() (bool, error) {
		return nd.dial() == nil, nil
	}); err != nil {
		return err
	}
	return poll(ctx, nd.Name+" GetInfo", p, func() (bool, error) {
		info, err := nd.getInfo(ctx)
		if err != nil && strings.Contains(status.Convert(err).Message(), "macaroon") {
			// Refused credentials (lnd answers a bad macaroon with code
			// Unknown, as it does "still starting"): read them again.
			_ = nd.dial()
			return false, nil
		}
		if err != nil {
			return false, nil
		}
		nd.PubKey = info.IdentityPubkey
		return true, nil
	})
}

// dial (re)opens the node's own connection from its credential files.
func (nd *Node) dial() error {
	conn, err := lnd.Dial(nd.Config())
	if err != nil {
		return err
	}
	if nd.conn != nil {
		nd.conn.Close()
	}
	nd.conn = conn
	nd.ln = lnrpc.NewLightningClient(conn)
	nd.router = routerrpc.NewRouterClient(conn)
	return nil
}

// poll calls cond until it is true, the process exits, ctx ends or
// stepTimeout passes; failures carry the tail of the process's log.
func poll(ctx context.Context, what string, p *process, cond func() (bool, error)) error {
	deadline := time.Now().Add(stepTimeout)
	for {
		ok, err := cond()
		if err != nil {
			return fmt.Errorf("regtest: waiting for %s: %w\n%s", what, err, p.tail())
		}
		if ok {
			return nil
		}
		if p.exited() {
			return fmt.Errorf("regtest: %s exited (%v) while waiting for %s\n%s", p.name, p.err, what, p.tail())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("regtest: timed out after %s waiting for %s\n%s", stepTimeout, what, p.tail())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("regtest: waiting for %s: %w", what, ctx.Err())
		case <-time.After(pollEvery):
		}
	}
}

// Config is how the lnd package (and so the site) reaches this node.
func (nd *Node) Config() lnd.Config {
	return lnd.Config{Addr: nd.RPCAddr, TLSCertPath: nd.TLSCertPath, MacaroonPath: nd.MacaroonPath}
}

// Conn opens a new gRPC connection to the node, for tests that call lnrpc
// directly. The caller closes it.
func (nd *Node) Conn(_ context.Context) (*grpc.ClientConn, error) {
	return lnd.Dial(nd.Config())
}

// Lncli runs lncli against the node and returns its standard output.
func (nd *Node) Lncli(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, bin("lncli"), append(nd.lncliFlags(), args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("regtest: %s: lncli %s: %w: %s", nd.Name, strings.Join(args, " "), err,
			strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

func (nd *Node) lncliFlags() []string {
	return []string{"--network=regtest", "--lnddir=" + nd.LndDir, "--rpcserver=" + nd.RPCAddr}
}

// LncliCommand is a ready-to-paste lncli command line for this node.
func (nd *Node) LncliCommand(args ...string) string {
	return strings.Join(append(append([]string{bin("lncli")}, nd.lncliFlags()...), args...), " ")
}

// AddInvoice creates an invoice on this node and returns its BOLT11 string.
func (nd *Node) AddInvoice(ctx context.Context, amtMsat int64) (string, error) {
	callCtx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	resp, err := nd.ln.AddInvoice(callCtx, &lnrpc.Invoice{ValueMsat: amtMsat, Memo: "regtest"})
	if err != nil {
		return "", fmt.Errorf("regtest: %s: add invoice: %w", nd.Name, err)
	}
	return resp.PaymentRequest, nil
}

// PayInvoice pays a BOLT11 string from this node and waits until the
// payment succeeds; a failed payment is an error.
func (nd *Node) PayInvoice(ctx context.Context, bolt11 string) error {
	callCtx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	stream, err := nd.router.SendPaymentV2(callCtx, &routerrpc.SendPaymentRequest{
		PaymentRequest: bolt11,
		FeeLimitMsat:   1_000_000,
		TimeoutSeconds: 30,
	})
	if err != nil {
		return fmt.Errorf("regtest: %s: pay: %w", nd.Name, err)
	}
	for {
		p, err := stream.Recv()
		if err != nil {
			return fmt.Errorf("regtest: %s: pay: %w", nd.Name, err)
		}
		switch p.Status {
		case lnrpc.Payment_SUCCEEDED:
			return nil
		case lnrpc.Payment_FAILED:
			return fmt.Errorf("regtest: %s: payment %s failed: %s", nd.Name, p.PaymentHash, p.FailureReason)
		}
	}
}

// Lightning is an lnrpc client on the node's own connection (closed by
// Stop).
func (nd *Node) Lightning() lnrpc.LightningClient { return nd.ln }

func (nd *Node) getInfo(ctx context.Context) (*lnrpc.GetInfoResponse, error) {
	callCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return nd.ln.GetInfo(callCtx, &lnrpc.GetInfoRequest{})
}

func (nd *Node) newAddress(ctx context.Context) (string, error) {
	callCtx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	resp, err := nd.ln.NewAddress(callCtx, &lnrpc.NewAddressRequest{Type: lnrpc.AddressType_WITNESS_PUBKEY_HASH})
	if err != nil {
		return "", fmt.Errorf("regtest: %s: new address: %w\n%s", nd.Name, err, nd.proc.tail())
	}
	return resp.Address, nil
}

func (nd *Node) waitSynced(ctx context.Context, height uint32) error {
	return poll(ctx, fmt.Sprintf("%s synced to height %d", nd.Name, height), nd.proc, func() (bool, error) {
		info, err := nd.getInfo(ctx)
		if err != nil {
			return false, nil
		}
		return info.SyncedToChain && info.BlockHeight >= height, nil
	})
}

func (nd *Node) waitBalance(ctx context.Context) error {
	return poll(ctx, nd.Name+" confirmed balance", nd.proc, func() (bool, error) {
		callCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		b, err := nd.ln.WalletBalance(callCtx, &lnrpc.WalletBalanceRequest{})
		if err != nil {
			return false, nil
		}
		// Enough for a channel plus its fees.
		return b.ConfirmedBalance > ChannelSats+1_000_000, nil
	})
}

func (nd *Node) connect(ctx context.Context, peer *Node) error {
	callCtx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	_, err := nd.ln.ConnectPeer(callCtx, &lnrpc.ConnectPeerRequest{
		Addr: &lnrpc.LightningAddress{Pubkey: peer.PubKey, Host: peer.ListenAddr},
	})
	if err != nil {
		return fmt.Errorf("regtest: %s: connect to %s: %w\n%s", nd.Name, peer.Name, err, nd.proc.tail())
	}
	return nil
}

func (nd *Node) openChannel(ctx context.Context, peer *Node) error {
	key, err := hex.DecodeString(peer.PubKey)
	if err != nil {
		return fmt.Errorf("regtest: %s pubkey: %w", peer.Name, err)
	}
	callCtx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	_, err = nd.ln.OpenChannelSync(callCtx, &lnrpc.OpenChannelRequest{
		NodePubkey:         key,
		LocalFundingAmount: ChannelSats,
		PushSat:            PushSats,
	})
	if err != nil {
		return fmt.Errorf("regtest: %s: open channel to %s: %w\n%s", nd.Name, peer.Name, err, nd.proc.tail())
	}
	return nil
}

func (nd *Node) waitActiveChannels(ctx context.Context, count int) error {
	return poll(ctx, fmt.Sprintf("%s with %d active channels", nd.Name, count), nd.proc, func() (bool, error) {
		callCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		resp, err := nd.ln.ListChannels(callCtx, &lnrpc.ListChannelsRequest{ActiveOnly: true})
		if err != nil {
			return false, nil
		}
		return len(resp.Channels) >= count, nil
	})
}

// Package lnd owns the site's connection to an lnd node over gRPC: dialing
// with TLS and a macaroon, and the lightning.Node implementation on top of
// lnrpc and routerrpc. Amounts are converted to and from lnd's integers here,
// at the boundary, with range checks.
package lnd

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/lightningnetwork/lnd/lnrpc"
	"github.com/lightningnetwork/lnd/lnrpc/routerrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"gopkg.in/macaroon.v2"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/lightning"
)

// DefaultTimeout bounds every unary RPC when Config.Timeout is zero.
const DefaultTimeout = 15 * time.Second

// maxMessageSize lets ListInvoices pages and large payments through; lnd's
// own clients use 200 MiB, far above grpc's 4 MiB default.
const maxMessageSize = 200 << 20

// Config says how to reach one lnd node. The hex forms, when set, take
// precedence over the paths (for hosts where only environment variables can
// carry secrets).
type Config struct {
	Addr         string // host:port of lnd's gRPC listener
	TLSCertPath  string
	MacaroonPath string
	TLSCertHex   string // the tls.cert file (PEM) or its DER bytes, hex-encoded
	MacaroonHex  string
	Timeout      time.Duration // per unary RPC; DefaultTimeout when zero
}

// Node talks to lnd. It is safe for concurrent use.
type Node struct {
	conn    *grpc.ClientConn
	ln      lnrpc.LightningClient
	router  routerrpc.RouterClient
	params  *chaincfg.Params
	timeout time.Duration
	log     *slog.Logger
	now     func() time.Time
	pubKey  string
}

var _ lightning.Node = (*Node)(nil)

// Option sets an optional dependency of New.
type Option func(*Node)

// WithClock replaces time.Now, for tests of invoice timestamps.
func WithClock(now func() time.Time) Option { return func(n *Node) { n.now = now } }

// New connects to lnd and checks, with one GetInfo call, that the address,
// the certificate and the macaroon are all right, so a misconfigured site
// fails at start-up with a message that says which one is wrong.
func New(ctx context.Context, cfg Config, logger *slog.Logger, opts ...Option) (*Node, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	conn, err := Dial(cfg)
	if err != nil {
		return nil, err
	}
	n := &Node{
		conn:    conn,
		ln:      lnrpc.NewLightningClient(conn),
		router:  routerrpc.NewRouterClient(conn),
		timeout: cfg.Timeout,
		log:     logger,
		now:     time.Now,
	}
	if n.timeout <= 0 {
		n.timeout = DefaultTimeout
	}
	for _, o := range opts {
		o(n)
	}

	callCtx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	info, err := n.ln.GetInfo(callCtx, &lnrpc.GetInfoRequest{})
	if err != nil {
		_ = conn.Close()
		return nil, explainConnectError(cfg.Addr, err)
	}
	network := ""
	if len(info.Chains) > 0 {
		network = info.Chains[0].Network
	}
	n.params, err = chainParams(network)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	n.pubKey = info.IdentityPubkey
	logger.Info("lnd connected", "addr", cfg.Addr, "alias", info.Alias,
		"pubkey", info.IdentityPubkey, "network", network, "version", info.Version,
		"synced_to_chain", info.SyncedToChain)
	return n, nil
}

// Close closes the gRPC connection; streams in progress end with an error.
func (n *Node) Close() error { return n.conn.Close() }

// PubKey is the node's identity public key, hex.
func (n *Node) PubKey() string { return n.pubKey }

// Network is the name of the chain the node runs on, as in chaincfg
// ("mainnet", "testnet3", "regtest", "signet", "simnet", "testnet4").
func (n *Node) Network() string { return n.params.Name }

// Dial returns a gRPC connection to lnd with TLS and macaroon credentials.
// It does not talk to lnd yet (grpc connects lazily and reconnects by
// itself); New makes the first call.
func Dial(cfg Config) (*grpc.ClientConn, error) {
	if cfg.Addr == "" {
		return nil, errors.New("lnd: no gRPC address configured")
	}
	tlsCreds, err := loadTLS(cfg)
	if err != nil {
		return nil, err
	}
	mac, err := loadMacaroon(cfg)
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(cfg.Addr,
		grpc.WithTransportCredentials(tlsCreds),
		grpc.WithPerRPCCredentials(macaroonCredential(hex.EncodeToString(mac))),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMessageSize)),
		grpc.WithConnectParams(reconnect),
	)
	if err != nil {
		return nil, fmt.Errorf("lnd: dial %s: %w", cfg.Addr, err)
	}
	return conn, nil
}

// reconnect is how the connection redials a node that went away: gRPC's
// own backoff, but capped at 5 s instead of its default 2 minutes, so that
// the site is back within seconds of a node that was down for long.
var reconnect = grpc.ConnectParams{
	Backoff:           backoff.Config{BaseDelay: 250 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 5 * time.Second},
	MinConnectTimeout: 5 * time.Second,
}

func loadTLS(cfg Config) (credentials.TransportCredentials, error) {
	var raw []byte
	switch {
	case cfg.TLSCertHex != "":
		b, err := hex.DecodeString(strings.TrimSpace(cfg.TLSCertHex))
		if err != nil {
			return nil, fmt.Errorf("lnd: TLS certificate hex: %w", err)
		}
		raw = b
	case cfg.TLSCertPath != "":
		b, err := os.ReadFile(cfg.TLSCertPath)
		if err != nil {
			return nil, fmt.Errorf("lnd: read TLS certificate: %w", err)
		}
		raw = b
	default:
		return nil, errors.New("lnd: no TLS certificate configured")
	}
	pool := x509.NewCertPool()
	if block, _ := pem.Decode(raw); block != nil {
		if !pool.AppendCertsFromPEM(raw) {
			return nil, errors.New("lnd: TLS certificate: no usable certificate in PEM")
		}
	} else {
		cert, err := x509.ParseCertificate(raw)
		if err != nil {
			return nil, fmt.Errorf("lnd: TLS certificate is neither PEM nor DER: %w", err)
		}
		pool.AddCert(cert)
	}
	return credentials.NewClientTLSFromCert(pool, ""), nil
}

func loadMacaroon(cfg Config) ([]byte, error) {
	switch {
	case cfg.MacaroonHex != "":
		b, err := hex.DecodeString(strings.TrimSpace(cfg.MacaroonHex))
		if err != nil {
			return nil, fmt.Errorf("lnd: macaroon hex: %w", err)
		}
		return checkMacaroon(b)
	case cfg.MacaroonPath != "":
		b, err := os.ReadFile(cfg.MacaroonPath)
		if err != nil {
			return nil, fmt.Errorf("lnd: read macaroon: %w", err)
		}
		return checkMacaroon(b)
	}
	return nil, errors.New("lnd: no macaroon configured")
}

// checkMacaroon rejects an empty or unreadable macaroon at start, with a
// clear error, rather than letting lnd refuse every call later ("empty
// macaroon data"). lnd writes its macaroon files in place, so a file read
// while lnd is still writing it is caught here too.
func checkMacaroon(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return nil, errors.New("lnd: macaroon is empty")
	}
	var m macaroon.Macaroon
	if err := m.UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("lnd: macaroon is not a macaroon: %w", err)
	}
	return b, nil
}

// macaroonCredential sends the macaroon with every call, as lnd expects:
// metadata "macaroon" holding its hex serialization.
type macaroonCredential string

func (m macaroonCredential) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"macaroon": string(m)}, nil
}

// RequireTransportSecurity keeps the macaroon, a bearer secret, off
// plaintext connections.
func (macaroonCredential) RequireTransportSecurity() bool { return true }

// explainConnectError turns the first call's failure into a message that
// names the likely culprit; operators see it at start-up.
func explainConnectError(addr string, err error) error {
	st, _ := status.FromError(err)
	msg := strings.ToLower(st.Message())
	var what string
	switch {
	case strings.Contains(msg, "x509") || strings.Contains(msg, "certificate") ||
		strings.Contains(msg, "handshake"):
		what = "TLS certificate rejected (wrong tls.cert for this node, or the address is not in it)"
	case strings.Contains(msg, "macaroon") || strings.Contains(msg, "verification failed") ||
		strings.Contains(msg, "root key"):
		what = "macaroon rejected (wrong macaroon for this node, or it lacks permissions)"
	case strings.Contains(msg, "wallet locked") || strings.Contains(msg, "unlock") ||
		strings.Contains(msg, "starting up") || strings.Contains(msg, "in the process of starting"):
		what = "lnd is not ready (wallet locked or still starting)"
	case st.Code() == codes.Unavailable || st.Code() == codes.DeadlineExceeded:
		what = "lnd unreachable (is it running, and is the address right?)"
	default:
		what = "GetInfo failed"
	}
	return apperr.Wrap(fmt.Errorf("lnd: connect to %s: %s: %w", addr, what, err),
		apperr.Unavailable, "The Lightning node is not available.")
}

// chainParams maps lnd's network name to the parameters zpay32 needs.
func chainParams(network string) (*chaincfg.Params, error) {
	switch network {
	case "mainnet":
		return &chaincfg.MainNetParams, nil
	case "testnet", "testnet3":
		return &chaincfg.TestNet3Params, nil
	case "testnet4":
		return &chaincfg.TestNet4Params, nil
	case "regtest":
		return &chaincfg.RegressionNetParams, nil
	case "simnet":
		return &chaincfg.SimNetParams, nil
	case "signet":
		return &chaincfg.SigNetParams, nil
	}
	return nil, fmt.Errorf("lnd: node reports unknown network %q", network)
}

// rpcError wraps an RPC failure. Transport failures carry apperr.Unavailable
// so the web layer answers 503 rather than 500.
func rpcError(op string, err error) error {
	wrapped := fmt.Errorf("lnd: %s: %w", op, err)
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded:
		return apperr.Wrap(wrapped, apperr.Unavailable, "The Lightning node is not available.")
	}
	return wrapped
}

func (n *Node) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, n.timeout)
}

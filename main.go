// Command keepalive runs the Keepalive site.
//
//	keepalive [serve] [flags]   run the site (the default)
//	keepalive migrate [flags]   apply database migrations and exit
//	keepalive clearing [--verify] < record.json
//	                            clear a sponsorship period from its published
//	                            record, or check the record's result
//
// Configuration comes from the environment and flags; see README.md.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"golang.org/x/time/rate"

	"github.com/keepalive/keepalive/internal/config"
	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/funding"
	"github.com/keepalive/keepalive/internal/hooks"
	"github.com/keepalive/keepalive/internal/invest"
	"github.com/keepalive/keepalive/internal/keys"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/lightning"
	"github.com/keepalive/keepalive/internal/lightning/demo"
	"github.com/keepalive/keepalive/internal/lightning/lnd"
	"github.com/keepalive/keepalive/internal/lnurl"
	"github.com/keepalive/keepalive/internal/notify"
	"github.com/keepalive/keepalive/internal/offering"
	"github.com/keepalive/keepalive/internal/sponsor"
	"github.com/keepalive/keepalive/internal/sponsor/clearing"
	"github.com/keepalive/keepalive/internal/statustoken"
	"github.com/keepalive/keepalive/web"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "keepalive:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) > 0 && args[0] == "clearing" {
		return clearing.Command(args[1:], os.Stdin, os.Stdout)
	}
	cmd := "serve"
	if len(args) > 0 && (args[0] == "serve" || args[0] == "migrate") {
		cmd, args = args[0], args[1:]
	}
	cfg, err := config.Load(args, os.Getenv)
	if err != nil {
		return err
	}
	log := newLogger(cfg)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	database, err := db.Open(ctx, cfg.DatabaseURL, log)
	if err != nil {
		return err
	}
	defer database.Close()
	if err := database.Migrate(ctx, log); err != nil {
		return err
	}
	if cmd == "migrate" {
		log.Info("database is up to date", "dialect", database.Dialect)
		return nil
	}
	return serve(ctx, cfg, log, database)
}

func serve(ctx context.Context, cfg config.Config, log *slog.Logger, database *db.DB) error {
	sealer, err := openSealer(cfg, log, database.Dialect)
	if err != nil {
		return err
	}
	cookieKey, err := keys.Secret(ctx, database, sealer, "cookie-hmac", 32, nil)
	if err != nil {
		return err
	}
	tokenSeed, err := keys.Secret(ctx, database, sealer, "status-token-ed25519", 32, nil)
	if err != nil {
		return err
	}
	tokens, err := statustoken.NewSigner(tokenSeed, cfg.BaseURL)
	if err != nil {
		return err
	}
	led := ledger.New(database, nil)
	offerings := offering.New(database, led, log)

	node, demoNode, err := openLightning(ctx, cfg, log, database)
	if err != nil {
		return err
	}
	if c, ok := node.(interface{ Close() error }); ok {
		defer c.Close() // after every job that uses it has stopped (below)
	}
	sponsorSkew, err := sponsorClockSkew(cfg, node, log)
	if err != nil {
		return err
	}
	fund := funding.New(database, led, node, offerings, funding.Limits{MinDonation: cfg.MinDonation, MaxDonation: cfg.MaxDonation}, log, nil)
	fund.SetResolver(&funding.LNURLResolver{Client: &lnurl.Client{HTTP: lnurl.PublicHTTPClient(cfg.LNURLAllowPrivate)}, Node: node})
	funding.Register(web.Registry)
	webhooks := hooks.New(database, offerings, fund, lnurl.PublicHTTPClient(cfg.LNURLAllowPrivate), log, nil,
		hooks.WithAllowPrivate(cfg.LNURLAllowPrivate))
	investments := invest.New(database, led, offerings, fund, invest.WithLogger(log), invest.WithNotifier(webhooks))
	// Winners' charges are revenue events through the investors' one door.
	sponsors := sponsor.New(database, led, offerings, fund, sponsor.InvestorsRevenue{Investments: investments},
		sponsor.Config{PlatformFeeBps: cfg.PlatformFeeBps, ClockSkew: sponsorSkew}, log, nil)
	sponsors.SetEvents(webhooks) // sponsorship_started, enqueued in the clearing's transaction
	fund.OnSettle(funding.PurposeBid, sponsors.SettleInvoice)
	var demoPayer web.DemoPayer
	var demoWallet web.DemoWallet
	if demoNode != nil {
		demoPayer = demoNode
		// Someone else's simulated wallet, for withdrawals in demo mode;
		// its invoices are paid on paper, like any other node's.
		demoWallet = demo.New()
	}

	// Background work runs until jobsCtx ends, which is after the HTTP
	// server has drained; every goroutine is waited for before the node
	// connection and the database close.
	jobsCtx, stopJobs := context.WithCancel(context.WithoutCancel(ctx))
	var jobs sync.WaitGroup
	defer stopAndWait(log, cfg.ShutdownTimeout, stopJobs, &jobs)
	start := func(fn func(ctx context.Context)) {
		jobs.Add(1)
		go func() {
			defer jobs.Done()
			fn(jobsCtx)
		}()
	}

	// Several replicas share a PostgreSQL database: settlements and status
	// changes reach them all through LISTEN/NOTIFY. SQLite is one process.
	if database.Dialect == db.Postgres {
		hub, err := notify.PostgresOf(database, cfg.DatabaseURL, log)
		if err != nil {
			return err
		}
		start(hub.Run)
		fund.SetHub(hub)
		start(fund.FollowPayouts())
		start(offerings.ShareStatus(hub))
	}

	srv := web.New(web.Deps{
		Log:           log,
		BaseURL:       cfg.BaseURL,
		Demo:          cfg.Lightning == config.LightningDemo,
		CookieKey:     cookieKey,
		SecureCookies: cfg.SecureCookies,
		Offerings:     offerings,
		Funding:       fund,
		Tokens:        tokens,
		Webhooks:      webhooks,
		Invest:        investments,
		Sponsors:      sponsors,
		DemoPayer:     demoPayer,
		DemoWallet:    demoWallet,
		Fiat:          cfg.Fiat,
		MinDonation:   cfg.MinDonation,
		MaxDonation:   cfg.MaxDonation,
		InvoiceRate: web.RateLimits{
			PerClient: rate.Limit(cfg.InvoiceRate), PerClientBurst: max(1, int(cfg.InvoiceRate*20)),
			Total: rate.Limit(cfg.InvoiceRateTotal), TotalBurst: max(1, int(cfg.InvoiceRateTotal*2)),
		},
		TrustedProxies: cfg.TrustedProxies,
		Ready:          database.Ping,
		NodeReady:      nodeReady(node),
		Metrics:        web.MetricsHandler(),
	})

	start(func(ctx context.Context) { offerings.RunAccrual(ctx, cfg.AccrualInterval) })
	start(fund.RunSettlement)
	start(fund.RunPayouts)
	start(investments.RunStandingPayouts)
	start(func(ctx context.Context) { sponsors.RunClearing(ctx, cfg.ClearingInterval) })
	credited, unsubscribe := fund.Subscribe()
	defer unsubscribe()
	start(func(ctx context.Context) { webhooks.Run(ctx, credited) })

	httpServer := &http.Server{
		Addr:              cfg.Addr,
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	httpServer.RegisterOnShutdown(srv.Drain) // event streams end; browsers reconnect elsewhere
	listener, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	errc := make(chan error, 1)
	go func() {
		log.Info("serving", "addr", listener.Addr().String(), "base_url", cfg.BaseURL, "database", database.Dialect, "lightning", cfg.Lightning)
		errc <- httpServer.Serve(web.APIListener(listener))
	}()
	var serveErr error
	select {
	case err := <-errc:
		serveErr = fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	return shutdown(log, cfg.ShutdownTimeout, httpServer, errc, serveErr)
}

// shutdown stops accepting connections and lets in-flight requests
// finish, within timeout. Then (deferred in serve) the background jobs
// stop and are waited for, and the node connection and the database
// close.
func shutdown(log *slog.Logger, timeout time.Duration, httpServer *http.Server, errc <-chan error, serveErr error) error {
	log.Info("shutting down", "timeout", timeout)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := httpServer.Shutdown(ctx); err != nil {
		serveErr = errors.Join(serveErr, fmt.Errorf("http shutdown: %w", err))
		httpServer.Close()
	}
	if serveErr == nil {
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
			serveErr = fmt.Errorf("serve: %w", err)
		}
	}
	return serveErr
}

// stopAndWait cancels the background jobs and waits for every one of
// them, at most timeout: each job obeys its context, so one that does not
// stop in time is a bug, logged rather than waited for forever.
func stopAndWait(log *slog.Logger, timeout time.Duration, stop func(), jobs *sync.WaitGroup) {
	began := time.Now()
	stop()
	waited := make(chan struct{})
	go func() {
		jobs.Wait()
		close(waited)
	}()
	select {
	case <-waited:
		log.Info("background jobs stopped", "took", time.Since(began).Round(time.Millisecond))
	case <-time.After(timeout):
		log.Error("background jobs did not stop in time", "timeout", timeout)
	}
}

// sponsorClockSkew is how far the clock of sponsorship alone runs ahead
// of the wall clock: KEEPALIVE_REGTEST_CLOCK_SKEW, so that a test on
// regtest can clear a period without waiting for its UTC hour. Invoices,
// payouts, runway and the ledger keep the wall clock. The skew is refused
// unless the node is the demo one or an lnd on regtest: on a network
// where payments are real, periods must open and clear when they say.
func sponsorClockSkew(cfg config.Config, node lightning.Node, log *slog.Logger) (time.Duration, error) {
	skew := cfg.RegtestClockSkew
	if skew == 0 {
		return 0, nil
	}
	network := "demo"
	if cfg.Lightning != config.LightningDemo {
		n, ok := node.(interface{ Network() string })
		if !ok || n.Network() != "regtest" {
			network = "unknown"
			if ok {
				network = n.Network()
			}
			return 0, fmt.Errorf("KEEPALIVE_REGTEST_CLOCK_SKEW is a testing aid for regtest or the demo node; the Lightning node is on %s: unset it", network)
		}
		network = n.Network()
	}
	log.Warn("SPONSORSHIP CLOCK SKEWED (KEEPALIVE_REGTEST_CLOCK_SKEW): periods open, close and clear as if it were later or earlier than it is; testing only",
		"skew", skew.String(), "network", network)
	return skew, nil
}

// nodeReady tells whether the Lightning node answers, when it can say.
func nodeReady(node lightning.Node) func(ctx context.Context) error {
	if p, ok := node.(interface{ Ping(context.Context) error }); ok {
		return p.Ping
	}
	return nil
}

// openSealer loads the key that seals the site's secrets: given, read
// from its file, or (SQLite) made on first run beside the database.
func openSealer(cfg config.Config, log *slog.Logger, dialect db.Dialect) (*keys.Sealer, error) {
	key := cfg.SecretKey
	if key == nil {
		path := cfg.SecretKeyFile
		if path == "" {
			if dialect == db.Postgres {
				return nil, errors.New("with PostgreSQL, set KEEPALIVE_SECRET_KEY (32 random bytes, base64 or hex) or KEEPALIVE_SECRET_KEY_FILE, the same for every replica: it seals the site's secrets in the database")
			}
			path = filepath.Join(filepath.Dir(db.SQLiteFile(cfg.DatabaseURL)), "keepalive.secret-key")
		}
		var created bool
		var err error
		if key, created, err = keys.LoadKeyFile(path, rand.Reader); err != nil {
			return nil, err
		}
		if created {
			log.Warn("created the key that seals the site's secrets; back it up with the database, which is useless to the site without it", "path", path)
		}
	}
	return keys.NewSealer(key, nil)
}

// openLightning connects to the node the config names. The demo node is
// returned a second time, typed, for its pay button.
func openLightning(ctx context.Context, cfg config.Config, log *slog.Logger, database *db.DB) (lightning.Node, *demo.Node, error) {
	if cfg.Lightning == config.LightningDemo {
		// The demo node keeps its invoices in the database; its indexes
		// also start above what the site already credited, in case its
		// table was emptied.
		idx, err := funding.SettleIndex(ctx, database)
		if err != nil {
			return nil, nil, err
		}
		n, err := demo.Open(ctx, database, demo.WithIndexBase(idx))
		if err != nil {
			return nil, nil, err
		}
		log.Warn("Lightning is simulated (KEEPALIVE_LIGHTNING=demo): no real payments")
		return n, n, nil
	}
	connectCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	n, err := lnd.New(connectCtx, lnd.Config{
		Addr: cfg.LND.GRPCAddr, TLSCertPath: cfg.LND.TLSCertPath, MacaroonPath: cfg.LND.MacaroonPath,
		TLSCertHex: cfg.LND.TLSCertHex, MacaroonHex: cfg.LND.MacaroonHex,
	}, log)
	if err != nil {
		return nil, nil, fmt.Errorf("lnd: %w", err)
	}
	return n, nil, nil
}

func newLogger(cfg config.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stdout, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stdout, opts))
}

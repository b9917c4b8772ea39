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
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/time/rate"

	"github.com/keepalive/keepalive/internal/config"
	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/funding"
	"github.com/keepalive/keepalive/internal/hooks"
	"github.com/keepalive/keepalive/internal/keys"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/lightning"
	"github.com/keepalive/keepalive/internal/lightning/demo"
	"github.com/keepalive/keepalive/internal/lightning/lnd"
	"github.com/keepalive/keepalive/internal/lnurl"
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
	cookieKey, err := keys.Secret(ctx, database, "cookie-hmac", 32, nil)
	if err != nil {
		return err
	}
	tokenSeed, err := keys.Secret(ctx, database, "status-token-ed25519", 32, nil)
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
	fund := funding.New(database, led, node, offerings, funding.Limits{MinDonation: cfg.MinDonation, MaxDonation: cfg.MaxDonation}, log, nil)
	fund.SetResolver(&funding.LNURLResolver{Client: &lnurl.Client{HTTP: lnurl.PublicHTTPClient(cfg.LNURLAllowPrivate)}, Node: node})
	funding.Register(web.Registry)
	// Winners' charges go through the revenue door; with no investors
	// wired yet, all of it buys runway.
	sponsors := sponsor.New(database, led, offerings, fund, sponsor.RunwayRevenue{Offerings: offerings},
		sponsor.Config{PlatformFeeBps: cfg.PlatformFeeBps}, log, nil)
	fund.OnSettle(funding.PurposeBid, sponsors.SettleInvoice)
	webhooks := hooks.New(database, offerings, lnurl.PublicHTTPClient(cfg.LNURLAllowPrivate), log, nil,
		hooks.WithAllowPrivate(cfg.LNURLAllowPrivate))
	var demoPayer web.DemoPayer
	if demoNode != nil {
		demoPayer = demoNode
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
		Sponsors:      sponsors,
		DemoPayer:     demoPayer,
		MinDonation:   cfg.MinDonation,
		MaxDonation:   cfg.MaxDonation,
		InvoiceRate: web.RateLimits{
			PerClient: rate.Limit(cfg.InvoiceRate), PerClientBurst: max(1, int(cfg.InvoiceRate*20)),
			Total: rate.Limit(cfg.InvoiceRateTotal), TotalBurst: max(1, int(cfg.InvoiceRateTotal*2)),
		},
		Ready:   database.Ping,
		Metrics: web.MetricsHandler(),
	})

	go offerings.RunAccrual(ctx, cfg.AccrualInterval)
	go fund.RunSettlement(ctx)
	go fund.RunPayouts(ctx)
	go sponsors.RunClearing(ctx, cfg.ClearingInterval)
	credited, unsubscribe := fund.Subscribe()
	defer unsubscribe()
	go webhooks.Run(ctx, credited)

	httpServer := &http.Server{
		Addr:              cfg.Addr,
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	errc := make(chan error, 1)
	go func() {
		log.Info("serving", "addr", cfg.Addr, "base_url", cfg.BaseURL, "database", database.Dialect, "lightning", cfg.Lightning)
		errc <- httpServer.ListenAndServe()
	}()
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve: %w", err)
		}
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return httpServer.Shutdown(shutdownCtx)
}

// openLightning connects to the node the config names. The demo node is
// returned a second time, typed, for its pay button.
func openLightning(ctx context.Context, cfg config.Config, log *slog.Logger, database *db.DB) (lightning.Node, *demo.Node, error) {
	if cfg.Lightning == config.LightningDemo {
		// The demo node forgets its invoices on restart; its indexes start
		// above what the site already credited.
		idx, err := funding.SettleIndex(ctx, database)
		if err != nil {
			return nil, nil, err
		}
		n := demo.New(demo.WithIndexBase(idx))
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

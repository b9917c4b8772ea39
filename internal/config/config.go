// Package config owns the site's configuration: one typed struct, loaded
// from the environment and command-line flags (flags win), validated, and
// passed explicitly to whatever needs it.
package config

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/keepalive/keepalive/internal/keys"
	"github.com/keepalive/keepalive/internal/money"
)

// Lightning backends.
const (
	LightningDemo = "demo"
	LightningLND  = "lnd"
)

// Config is everything the site is told by its operator.
type Config struct {
	Addr        string // KEEPALIVE_ADDR: where to listen
	BaseURL     string // KEEPALIVE_BASE_URL: the public URL, for links, LNURL and badges
	DatabaseURL string // DATABASE_URL: empty means SQLite at ./data/keepalive.db

	// The key that seals the site's own secrets in the database (cookie
	// and status-token keys): KEEPALIVE_SECRET_KEY (32 bytes, base64 or
	// hex; environment only), else the file KEEPALIVE_SECRET_KEY_FILE,
	// else, with SQLite, keepalive.secret-key beside the database file,
	// created on first run. PostgreSQL needs one of the two set, the same
	// for every replica.
	SecretKey     []byte
	SecretKeyFile string

	Lightning string // KEEPALIVE_LIGHTNING: demo or lnd
	LND       LND

	// Donation bounds (KEEPALIVE_MIN_DONATION_SAT, KEEPALIVE_MAX_DONATION_SAT).
	MinDonation money.Msat
	// Fiat (KEEPALIVE_FIAT) is a fixed price per bitcoin for rough fiat
	// equivalents beside sats; the zero value shows none.
	Fiat        money.FiatPrice
	MaxDonation money.Msat

	// LNURLAllowPrivate lets payouts to Lightning Addresses reach private
	// and loopback addresses (KEEPALIVE_LNURL_ALLOW_PRIVATE): tests and
	// regtest only; in production it would let a Lightning Address make
	// the site call into its own network.
	LNURLAllowPrivate bool

	// Invoice creation limits, per client address and for the whole site,
	// in invoices per second (KEEPALIVE_INVOICE_RATE, KEEPALIVE_INVOICE_RATE_TOTAL).
	InvoiceRate      float64
	InvoiceRateTotal float64

	// TrustedProxies are the reverse proxies (CIDRs or addresses) whose
	// X-Forwarded-For header names the client, for the per-client rate
	// limit and the logs (KEEPALIVE_TRUSTED_PROXIES, comma-separated).
	TrustedProxies []netip.Prefix

	// ShutdownTimeout bounds a graceful shutdown (KEEPALIVE_SHUTDOWN_TIMEOUT).
	ShutdownTimeout time.Duration

	AccrualInterval time.Duration // KEEPALIVE_ACCRUAL_INTERVAL
	// PlatformFeeBps is the operator's share of sponsorship charges, in
	// basis points (KEEPALIVE_PLATFORM_FEE_BPS, default 0).
	PlatformFeeBps int
	// ClearingInterval is how often due sponsorship periods are looked
	// for (KEEPALIVE_CLEARING_INTERVAL).
	ClearingInterval time.Duration
	// RegtestClockSkew shifts the sponsorship clock, and nothing else, by
	// this much (KEEPALIVE_REGTEST_CLOCK_SKEW, a Go duration): periods
	// open, bids close, periods clear and winners show as if it were that
	// much later. A testing aid, so that a test need not wait for a UTC
	// hour to turn: main honours it only with the demo node or an lnd on
	// regtest and refuses to start with it on any other network.
	RegtestClockSkew time.Duration
	LogLevel         string // KEEPALIVE_LOG_LEVEL: debug, info, warn, error
	LogFormat        string // KEEPALIVE_LOG_FORMAT: text or json
	SecureCookies    bool   // derived: true when BaseURL is https
}

// LND is how to reach the lnd node.
type LND struct {
	GRPCAddr     string // LND_GRPC_ADDR
	TLSCertPath  string // LND_TLS_CERT_PATH
	MacaroonPath string // LND_MACAROON_PATH
	TLSCertHex   string // LND_TLS_CERT_HEX
	MacaroonHex  string // LND_MACAROON_HEX
}

// Load reads the environment, then flags from args (without the program
// name and subcommand), and validates the result.
func Load(args []string, getenv func(string) string) (Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	env := func(key, def string) string {
		if v := strings.TrimSpace(getenv(key)); v != "" {
			return v
		}
		return def
	}
	c := Config{}
	fs := flag.NewFlagSet("keepalive", flag.ContinueOnError)
	fs.StringVar(&c.Addr, "addr", env("KEEPALIVE_ADDR", "127.0.0.1:8080"), "listen address (KEEPALIVE_ADDR)")
	fs.StringVar(&c.BaseURL, "base-url", env("KEEPALIVE_BASE_URL", ""), "public URL of the site (KEEPALIVE_BASE_URL); default http://<addr>")
	fs.StringVar(&c.DatabaseURL, "database-url", env("DATABASE_URL", ""), "postgres://… or a SQLite file path (DATABASE_URL); default ./data/keepalive.db")
	fs.StringVar(&c.Lightning, "lightning", env("KEEPALIVE_LIGHTNING", LightningDemo), "Lightning backend: demo or lnd (KEEPALIVE_LIGHTNING)")
	fs.StringVar(&c.LND.GRPCAddr, "lnd-grpc-addr", env("LND_GRPC_ADDR", ""), "lnd gRPC host:port (LND_GRPC_ADDR)")
	fs.StringVar(&c.LND.TLSCertPath, "lnd-tls-cert-path", env("LND_TLS_CERT_PATH", ""), "lnd tls.cert path (LND_TLS_CERT_PATH)")
	fs.StringVar(&c.LND.MacaroonPath, "lnd-macaroon-path", env("LND_MACAROON_PATH", ""), "lnd macaroon path (LND_MACAROON_PATH)")
	c.LND.TLSCertHex = env("LND_TLS_CERT_HEX", "")  // secrets: environment only, never flags (ps shows flags)
	c.LND.MacaroonHex = env("LND_MACAROON_HEX", "") // secrets: environment only
	secretKey := env("KEEPALIVE_SECRET_KEY", "")    // secret: environment only
	fs.StringVar(&c.SecretKeyFile, "secret-key-file", env("KEEPALIVE_SECRET_KEY_FILE", ""), "file holding the key that seals the site's secrets (KEEPALIVE_SECRET_KEY_FILE); default beside the SQLite database")
	fiat := fs.String("fiat", env("KEEPALIVE_FIAT", ""), "a fixed price per bitcoin, CODE:PRICE (e.g. USD:95000), to show rough fiat equivalents beside sats; off when empty (KEEPALIVE_FIAT)")
	minSat := fs.Int64("min-donation-sat", envInt(env("KEEPALIVE_MIN_DONATION_SAT", "1")), "smallest donation in sats (KEEPALIVE_MIN_DONATION_SAT)")
	maxSat := fs.Int64("max-donation-sat", envInt(env("KEEPALIVE_MAX_DONATION_SAT", "10000000")), "largest donation in sats (KEEPALIVE_MAX_DONATION_SAT)")
	fs.BoolVar(&c.LNURLAllowPrivate, "lnurl-allow-private", env("KEEPALIVE_LNURL_ALLOW_PRIVATE", "") == "1", "let Lightning Address payouts reach private addresses (tests only) (KEEPALIVE_LNURL_ALLOW_PRIVATE=1)")
	fs.Float64Var(&c.InvoiceRate, "invoice-rate", envFloat(env("KEEPALIVE_INVOICE_RATE", "0.5")), "invoices per second per client, burst 20x (KEEPALIVE_INVOICE_RATE)")
	fs.Float64Var(&c.InvoiceRateTotal, "invoice-rate-total", envFloat(env("KEEPALIVE_INVOICE_RATE_TOTAL", "100")), "invoices per second for the whole site, burst 2x (KEEPALIVE_INVOICE_RATE_TOTAL)")
	proxies := fs.String("trusted-proxies", env("KEEPALIVE_TRUSTED_PROXIES", ""), "reverse proxies whose X-Forwarded-For is believed, comma-separated CIDRs or addresses (KEEPALIVE_TRUSTED_PROXIES)")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", envDuration(env("KEEPALIVE_SHUTDOWN_TIMEOUT", "15s")), "how long a graceful shutdown may take (KEEPALIVE_SHUTDOWN_TIMEOUT)")
	fs.DurationVar(&c.AccrualInterval, "accrual-interval", envDuration(env("KEEPALIVE_ACCRUAL_INTERVAL", "1m")), "how often the daily accrual postings are looked for (KEEPALIVE_ACCRUAL_INTERVAL)")
	fs.IntVar(&c.PlatformFeeBps, "platform-fee-bps", int(envInt(env("KEEPALIVE_PLATFORM_FEE_BPS", "0"))), "operator's share of sponsorship charges, basis points (KEEPALIVE_PLATFORM_FEE_BPS)")
	fs.DurationVar(&c.ClearingInterval, "clearing-interval", envDuration(env("KEEPALIVE_CLEARING_INTERVAL", "5s")), "how often due sponsorship periods are cleared (KEEPALIVE_CLEARING_INTERVAL)")
	skew := fs.String("regtest-clock-skew", env("KEEPALIVE_REGTEST_CLOCK_SKEW", ""), "shift the sponsorship clock by this duration, e.g. 1h (KEEPALIVE_REGTEST_CLOCK_SKEW): testing aid, regtest or demo only")
	fs.StringVar(&c.LogLevel, "log-level", env("KEEPALIVE_LOG_LEVEL", "info"), "debug, info, warn or error (KEEPALIVE_LOG_LEVEL)")
	fs.StringVar(&c.LogFormat, "log-format", env("KEEPALIVE_LOG_FORMAT", "text"), "text or json (KEEPALIVE_LOG_FORMAT)")
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}

	var errs []error
	if c.BaseURL == "" {
		c.BaseURL = "http://" + c.Addr
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("KEEPALIVE_BASE_URL %q must be an absolute http(s) URL", c.BaseURL))
	} else {
		c.SecureCookies = u.Scheme == "https"
	}
	switch c.Lightning {
	case LightningDemo:
	case LightningLND:
		if c.LND.GRPCAddr == "" {
			errs = append(errs, errors.New("LND_GRPC_ADDR is required when KEEPALIVE_LIGHTNING=lnd"))
		}
		if c.LND.TLSCertPath == "" && c.LND.TLSCertHex == "" {
			errs = append(errs, errors.New("LND_TLS_CERT_PATH or LND_TLS_CERT_HEX is required when KEEPALIVE_LIGHTNING=lnd"))
		}
		if c.LND.MacaroonPath == "" && c.LND.MacaroonHex == "" {
			errs = append(errs, errors.New("LND_MACAROON_PATH or LND_MACAROON_HEX is required when KEEPALIVE_LIGHTNING=lnd"))
		}
	default:
		errs = append(errs, fmt.Errorf("KEEPALIVE_LIGHTNING must be demo or lnd, not %q", c.Lightning))
	}
	var err error
	if secretKey != "" {
		if c.SecretKey, err = keys.ParseKey(secretKey); err != nil {
			errs = append(errs, fmt.Errorf("KEEPALIVE_SECRET_KEY must be %d bytes in base64 or hex", keys.KeySize))
		}
	}
	if c.Fiat, err = money.ParseFiatPrice(*fiat); err != nil {
		errs = append(errs, fmt.Errorf("KEEPALIVE_FIAT must be CODE:PRICE, e.g. USD:95000"))
	}
	if c.MinDonation, err = money.FromSats(*minSat); err != nil || c.MinDonation <= 0 {
		errs = append(errs, fmt.Errorf("KEEPALIVE_MIN_DONATION_SAT must be a positive number of sats"))
	}
	if c.MaxDonation, err = money.FromSats(*maxSat); err != nil || c.MaxDonation < c.MinDonation {
		errs = append(errs, fmt.Errorf("KEEPALIVE_MAX_DONATION_SAT must be at least the minimum and at most 21M BTC"))
	}
	if c.InvoiceRate <= 0 || c.InvoiceRateTotal <= 0 {
		errs = append(errs, fmt.Errorf("KEEPALIVE_INVOICE_RATE and KEEPALIVE_INVOICE_RATE_TOTAL must be positive"))
	}
	if c.PlatformFeeBps < 0 || c.PlatformFeeBps > 10000 {
		errs = append(errs, fmt.Errorf("KEEPALIVE_PLATFORM_FEE_BPS must be between 0 and 10000"))
	}
	if c.ClearingInterval < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("KEEPALIVE_CLEARING_INTERVAL must be at least 100ms"))
	}
	if *skew != "" {
		if c.RegtestClockSkew, err = time.ParseDuration(*skew); err != nil {
			errs = append(errs, fmt.Errorf("KEEPALIVE_REGTEST_CLOCK_SKEW must be a duration, like 90m or -2h"))
		}
	}
	if c.TrustedProxies, err = parseProxies(*proxies); err != nil {
		errs = append(errs, err)
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("KEEPALIVE_SHUTDOWN_TIMEOUT must be a positive duration"))
	}
	if c.AccrualInterval < time.Second {
		errs = append(errs, fmt.Errorf("KEEPALIVE_ACCRUAL_INTERVAL must be at least 1s"))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("KEEPALIVE_LOG_LEVEL must be debug, info, warn or error"))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("KEEPALIVE_LOG_FORMAT must be text or json"))
	}
	if len(errs) > 0 {
		return Config{}, fmt.Errorf("config: %w", errors.Join(errs...))
	}
	return c, nil
}

// parseProxies reads a comma-separated list of CIDRs or single addresses.
func parseProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("KEEPALIVE_TRUSTED_PROXIES: %q is neither a CIDR nor an address", f)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// envInt parses an integer from the environment; a bad value becomes -1
// so that validation reports it.
func envInt(s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return -1
	}
	return n
}

func envFloat(s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return -1
	}
	return f
}

func envDuration(s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0
	}
	return d
}

// Package web owns the HTTP side of the site: routes, middleware, the
// error handler, the JSON API and the handlers behind the pages. Handlers
// are thin: they parse, call the domain, and render.
package web

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/keepalive/keepalive/internal/money"
	"github.com/keepalive/keepalive/internal/offering"
	"github.com/keepalive/keepalive/static"
	"github.com/keepalive/keepalive/templates"
)

// Offerings is what the web layer needs from the offering service.
type Offerings interface {
	Create(ctx context.Context, in offering.Input) (offering.Offering, string, error)
	Update(ctx context.Context, slug string, in offering.Input) (offering.Offering, error)
	Get(ctx context.Context, slug string) (offering.Offering, error)
	GetByID(ctx context.Context, id int64) (offering.Offering, error)
	SlugOf(ctx context.Context, id int64) (string, error)
	Authenticate(ctx context.Context, slug, key string) (offering.Offering, error)
	ByManageKey(ctx context.Context, key string) (offering.Offering, error)
	Status(ctx context.Context, slug string) (offering.Status, error)
	List(ctx context.Context, q offering.ListQuery) ([]offering.Listed, int64, error)
	Page(ctx context.Context, q offering.ListQuery) (offering.ListPage, error)
	Finances(ctx context.Context, o offering.Offering) (offering.Finances, error)
	View(ctx context.Context, slug string) (offering.Offering, offering.Finances, error)
	RotateKey(ctx context.Context, slug string) (string, error)
	NewChallenge(ctx context.Context, action offering.AuthAction, offeringID *int64) (offering.Challenge, error)
	WalletSigned(ctx context.Context, k1, sig, key string) error
	ChallengeSigned(ctx context.Context, binding string) (bool, error)
	CompleteLogin(ctx context.Context, binding string) ([]offering.Offering, error)
	SignIn(ctx context.Context, token string, o offering.Offering) (string, error)
	SessionOfferings(ctx context.Context, token string) ([]offering.Offering, error)
	SignOut(ctx context.Context, token string) error
	SignOutEverywhere(ctx context.Context, token string) error
	LinkedKeys(ctx context.Context, offeringID int64) ([]string, error)
	History(ctx context.Context, offeringID int64, since time.Time) ([]offering.HistoryPoint, error)
	PublicLedger(ctx context.Context, offeringID int64, limit int, before int64) (offering.LedgerPage, error)
	Now() time.Time
}

// Deps are what the server is built from.
type Deps struct {
	Log           *slog.Logger
	BaseURL       string
	Demo          bool   // payments are simulated: every page says so
	CookieKey     []byte // signs session cookies
	SecureCookies bool
	Offerings     Offerings
	Funding       Funding
	// DemoPayer is set only when payments are simulated.
	DemoPayer DemoPayer
	// DemoWallet, set only when payments are simulated, is a simulated
	// wallet of someone else's: it makes invoices an owner can withdraw to.
	DemoWallet DemoWallet
	// Fiat, when set, shows rough fiat equivalents beside preset amounts.
	Fiat money.FiatPrice
	// Donation bounds, for LNURL-pay parameters.
	MinDonation, MaxDonation money.Msat
	// InvoiceRate limits invoice creation per client (per second, burst)
	// and in total; zero values mean the defaults.
	InvoiceRate RateLimits
	// Ready reports whether the site can serve (database reachable); nil
	// means always.
	Ready func(ctx context.Context) error
	// NodeReady reports whether the Lightning node answers (/readyz);
	// nil means always.
	NodeReady func(ctx context.Context) error
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client (KEEPALIVE_TRUSTED_PROXIES); with none, the client is
	// the peer of the connection and the header is ignored.
	TrustedProxies []netip.Prefix
	// Metrics is the handler for /metrics; nil means none.
	Metrics http.Handler
	// Tokens signs status tokens for hosts; nil leaves the token and JWKS
	// endpoints out.
	Tokens   TokenSigner
	Webhooks Webhooks    // the owner's webhook API; nil leaves it out
	Invest   Investments // investing; nil leaves it out
	Sponsors Sponsorship // sponsorship; nil leaves it out
}

// Server is the site's HTTP server.
type Server struct {
	Deps
	log     *slog.Logger
	echo    *echo.Echo
	qr      qrCache
	history historyCache

	drainOnce sync.Once
	draining  chan struct{} // closed when the server shuts down
	waits     waitLimiter   // requests waiting for a payment
}

// csrfField is the form field that carries the CSRF token.
const csrfField = "_csrf"

// BodyLimit is the largest request body accepted anywhere, in bytes.
const bodyLimit = 64 << 10

// New builds the server with every route and middleware.
func New(d Deps) *Server {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{Deps: d, log: d.Log, draining: make(chan struct{})}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.IPExtractor = ipExtractor(d.TrustedProxies)

	e.Pre(middleware.RemoveTrailingSlashWithConfig(middleware.TrailingSlashConfig{RedirectCode: http.StatusMovedPermanently}))
	e.Use(s.edge(newMetrics(), requestIDs(), securityHeaders(d.SecureCookies)))
	e.Use(limitBody(bodyLimit))
	e.Use(validUTF8)
	e.Use(middleware.GzipWithConfig(middleware.GzipConfig{
		MinLength: 1024,
		// Event streams must reach the browser as written, not buffered;
		// status answers and the answers to POSTs are a few hundred bytes.
		Skipper: func(c echo.Context) bool {
			p := c.Request().URL.Path
			return c.Request().Method != http.MethodGet || strings.HasSuffix(p, "/events") || strings.HasSuffix(p, "/status")
		},
	}))
	e.Use(middleware.CSRFWithConfig(middleware.CSRFConfig{
		Skipper:        func(c echo.Context) bool { return isAPI(c) || strings.HasPrefix(c.Request().URL.Path, "/static/") },
		TokenLookup:    "header:" + echo.HeaderXCSRFToken + ",form:" + csrfField, // never the query: see limitBody
		CookieName:     "ka_csrf",
		CookiePath:     "/",
		CookieHTTPOnly: true,
		CookieSecure:   d.SecureCookies,
		CookieSameSite: http.SameSiteLaxMode,
		ErrorHandler: func(err error, c echo.Context) error {
			return echo.NewHTTPError(http.StatusForbidden, "This form has expired or did not come from this site. Go back, reload the page and try again.")
		},
	}))

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	if d.Metrics != nil {
		e.GET("/metrics", echo.WrapHandler(d.Metrics))
	}
	e.GET("/static/*", echo.WrapHandler(static.Handler()))

	invoiceLimit := s.invoiceRateLimiter()
	e.GET("/", s.home)
	e.GET("/o/:slug", s.offeringPage)
	e.GET("/offerings/new", s.newOfferingForm)
	e.POST("/offerings", s.createOffering)
	e.GET("/offerings/:slug/edit", s.editOfferingForm)
	e.POST("/offerings/:slug/edit", s.updateOffering)
	e.GET("/signin", s.signInForm)
	e.POST("/signin", s.signIn)
	e.POST("/signout", s.signOut)
	e.POST("/signout/everywhere", s.signOutEverywhere)
	e.GET("/dashboard", s.dashboard)
	e.POST("/signin/wallet", s.signInWithWallet)
	e.GET("/signin/wallet/status", s.walletChallengeStatus(loginChallengeCookie))
	e.GET("/offerings/:slug/wallet", s.walletPage)
	e.GET("/offerings/:slug/wallet/status", s.walletChallengeStatus(linkChallengeCookie))
	e.GET("/offerings/:slug/withdraw", s.withdrawPage)
	e.POST("/offerings/:slug/withdraw", s.withdraw)
	e.POST("/offerings/:slug/withdraw/demo-invoice", s.demoWithdrawInvoice)
	e.POST("/offerings/:slug/rotate-key", s.rotateKey)
	e.GET("/lnurl/auth", s.lnurlAuth)
	e.GET("/lnurlw/:k1", s.lnurlWithdrawParams)
	e.GET("/lnurlw/:k1/callback", s.lnurlWithdrawCallback)
	e.POST("/o/:slug/donate", s.donate, invoiceLimit)
	e.GET("/invoices/:hash", s.invoicePage)
	e.GET("/invoices/:hash/events", s.invoiceEvents)
	if d.DemoPayer != nil {
		e.POST("/invoices/:hash/demo-pay", s.demoPay)
	}

	api := e.Group("/api/v1")
	api.GET("/offerings", s.apiListOfferings)
	api.POST("/offerings", s.apiCreateOffering)
	api.GET("/offerings/:slug", s.apiGetOffering)
	api.PATCH("/offerings/:slug", s.apiUpdateOffering)
	api.GET("/offerings/:slug/status", s.apiStatus)
	api.POST("/offerings/:slug/donations", s.apiDonate, invoiceLimit)
	api.GET("/invoices/:hash", s.apiInvoice)
	api.POST("/offerings/:slug/withdrawals", s.apiWithdraw)
	api.GET("/offerings/:slug/withdrawals", s.apiWithdrawals)
	api.POST("/offerings/:slug/lnurl-withdraw", s.apiWithdrawLink)
	s.hookRoutes(api)
	s.investRoutes(e, api)
	if d.DemoPayer != nil {
		api.POST("/demo/invoices/:hash/pay", s.apiDemoPay)
	}
	e.GET("/.well-known/lnurlp/:slug", s.lnurlPayParams)
	e.GET("/lnurlp/:slug/callback", s.lnurlPayCallback, invoiceLimit)
	s.sponsorRoutes(e, api, invoiceLimit)

	s.hostRoutes(e)
	s.siteRoutes(e)

	s.historyRoutes(e)
	s.echo = e
	return s
}

// Echo returns the underlying router, to add routes (other packages'
// handlers) or to serve.
func (s *Server) Echo() *echo.Echo { return s.echo }

// ServeHTTP serves a request. HEAD is answered wherever GET is (uptime
// monitors ask with HEAD): the router sees a GET, and net/http, which
// still holds the original HEAD request, sends the headers without the
// body.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodHead {
		r = r.Clone(r.Context())
		r.Method = http.MethodGet
	}
	s.echo.ServeHTTP(w, r)
}

// render renders a component into a buffer first, so a failed render
// still yields a clean error page instead of half a page.
func (s *Server) render(c echo.Context, status int, comp templ.Component) error {
	var buf bytes.Buffer
	if err := comp.Render(c.Request().Context(), &buf); err != nil {
		return err
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// page fills the fields every page needs.
func (s *Server) page(c echo.Context, title string) templates.Page {
	token, _ := c.Get(middleware.DefaultCSRFConfig.ContextKey).(string)
	return templates.Page{
		Title:     title,
		CSRFToken: token,
		Demo:      s.Demo,
		SignedIn:  len(s.readSession(c).owned) > 0,
		BaseURL:   s.BaseURL,
		Path:      c.Request().URL.Path,
	}
}

// Drain tells long-lived responses (invoice event streams) to end, so
// that a graceful shutdown is not held up by them: browsers reconnect,
// through the proxy, to another replica. /readyz fails from then on.
func (s *Server) Drain() { s.drainOnce.Do(func() { close(s.draining) }) }

// ipExtractor finds the client's address: the connection's peer, or,
// when that peer is one of the trusted proxies, the address the proxies
// put in X-Forwarded-For (read from the right, skipping trusted hops).
// A header from anyone else is ignored.
func ipExtractor(trusted []netip.Prefix) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range trusted {
		p = p.Masked()
		opts = append(opts, echo.TrustIPRange(&net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// readyz tells a load balancer whether to send traffic here: the
// database and the Lightning node answer, and the server is not shutting
// down. /healthz (liveness) asks only the database.
func (s *Server) readyz(c echo.Context) error {
	select {
	case <-s.draining:
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "shutting down"})
	default:
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	for what, check := range map[string]func(context.Context) error{"database": s.Ready, "lightning": s.NodeReady} {
		if check == nil {
			continue
		}
		if err := check(ctx); err != nil {
			s.log.Warn("readiness check failed", "what", what, "err", err)
			return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": what + " unavailable"})
		}
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) healthz(c echo.Context) error {
	if s.Ready != nil {
		ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
		defer cancel()
		if err := s.Ready(ctx); err != nil {
			s.log.Warn("health check failed", "err", err)
			return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
		}
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

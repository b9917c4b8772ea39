// Package hooks owns the webhooks an owner points at the host: their
// registration, the detection of the events they subscribe to, and the
// signed, retried delivery of those events.
//
// Events are derived, not recorded as they happen. The detector compares
// each webhook's offering's state now (computed from funded_until and the
// clock; see offering.Snapshot) with the state the webhook last saw,
// stored in webhooks.last_state, and enqueues what changed:
//
//   - revived:    grace or expired → alive
//   - expired:    alive or grace → expired
//   - runway_low: alive with runway_seconds below the webhook's threshold,
//     once; it is armed again when the runway rises to the threshold or the
//     offering stops being alive
//   - funded:     every settled donation invoice, keyed by payment hash
//
// "none" means never funded; none → alive sends funded only (nothing was
// revived) and alive → grace sends nothing. A new webhook starts from the
// offering's state at creation, so it announces no revival; a runway
// already below its threshold is announced at the next run. Because the
// comparison uses a persisted state, an expiry that happened while the
// site was down is seen at the next run. Enqueueing and moving last_state happen in one
// transaction guarded by the previous value, and every delivery has a
// unique (webhook_id, event_key), so running the detector twice, or on
// two replicas, enqueues once.
//
// Credits arrive two ways: Credited, fed from funding's Subscribe channel
// for speed, and a catch-up scan in Detect of the invoices settled since
// the webhook was created (at most FundedLookback back), which covers a
// crash between settlement and enqueueing and the channel's dropped events.
// Payloads carry the offering's status when the event was detected; the
// timestamp of expired is when the grace period ended, even if that was
// while the site was down.
//
// Delivery follows Standard Webhooks: headers webhook-id (the delivery's
// msg_ id, the same on every retry), webhook-timestamp (Unix seconds of
// the attempt) and webhook-signature "v1,<base64 HMAC-SHA256>" over
// id.timestamp.body with the base64-decoded secret. A 2xx answer delivers;
// anything else, a redirect included, is retried on the Backoff schedule
// (about a day in all), then the delivery is marked failed. Every attempt
// is logged in webhook_attempts and shown to the owner. Sending runs under
// the "webhooks" lease, so one replica sends.
//
// The secret is stored as issued: it must sign, so a hash would not do. A
// database leak therefore lets someone forge messages to the hosts; the
// owner can delete the webhook and create another to rotate it.
//
// Its store, internal/hooks/internal/store, is the only code that touches
// webhooks, webhook_deliveries and webhook_attempts.
package hooks

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/funding"
	"github.com/keepalive/keepalive/internal/hooks/internal/store"
	"github.com/keepalive/keepalive/internal/lnurl"
	"github.com/keepalive/keepalive/internal/offering"
)

// Event is what a webhook may subscribe to.
type Event string

const (
	Funded    Event = "funded"
	RunwayLow Event = "runway_low"
	Expired   Event = "expired"
	Revived   Event = "revived"
)

// Events lists every event, in the order shown to owners.
var Events = []Event{Funded, RunwayLow, Expired, Revived, RevenueDistributed, SponsorshipStarted}

// Limits and defaults.
const (
	MaxPerOffering          = 5
	MaxURLLen               = 2048
	DefaultRunwayLowSeconds = 3 * 24 * 3600
	MinRunwayLowSeconds     = 60
	MaxRunwayLowSeconds     = 90 * 24 * 3600
	// SecretPrefix starts every signing secret, as in Standard Webhooks.
	SecretPrefix = "whsec_"
	// FundedLookback bounds the catch-up scan for credits that were not
	// enqueued at once (a crash, a full channel).
	FundedLookback = 7 * 24 * time.Hour
	// RequestTimeout bounds each delivery attempt.
	RequestTimeout = 10 * time.Second
)

// Offerings is what the hooks need from the offering service.
type Offerings interface {
	Status(ctx context.Context, slug string) (offering.Status, error)
	GetByID(ctx context.Context, id int64) (offering.Offering, error)
	Hold(ctx context.Context, tx db.Tx, offeringID int64) error
}

// Credits is what the hooks need from funding: the settled invoices of an
// offering, for the funded events.
type Credits interface {
	CreditsSince(ctx context.Context, offeringID int64, since time.Time, after funding.Credit, limit int) ([]funding.Credit, error)
}

var _ Credits = (*funding.Service)(nil)

var _ Offerings = (*offering.Service)(nil)

// Webhook is an owner's registration.
type Webhook struct {
	ID               int64
	OfferingID       int64
	URL              string
	Events           []Event
	RunwayLowSeconds int64
	LastState        string
	CreatedAt        time.Time
}

// Subscribes reports whether w wants e.
func (w Webhook) Subscribes(e Event) bool { return slices.Contains(w.Events, e) }

// DeliveryState is where a message stands.
type DeliveryState string

const (
	Pending   DeliveryState = "pending"
	Delivered DeliveryState = "delivered"
	Failed    DeliveryState = "failed" // gave up after the whole Backoff schedule
)

// Delivery is one message to one webhook, with its attempts.
type Delivery struct {
	ID            int64
	MsgID         string // the webhook-id header
	WebhookID     int64
	Event         Event
	Payload       string
	State         DeliveryState
	Attempts      int
	NextAttemptAt time.Time // meaningful while Pending
	DeliveredAt   *time.Time
	LastStatus    int // HTTP status of the last attempt; 0 when none came back
	LastError     string
	CreatedAt     time.Time
	Log           []Attempt // newest first
}

// Attempt is one try at delivering a message.
type Attempt struct {
	At         time.Time
	StatusCode int
	Error      string
	DurationMs int64
}

// WithDeliveries is a webhook and its most recent deliveries, for owners.
type WithDeliveries struct {
	Webhook
	Deliveries []Delivery
}

func webhookOf(r store.Webhook) Webhook {
	var evs []Event
	for e := range strings.SplitSeq(r.Events, ",") {
		if e != "" {
			evs = append(evs, Event(e))
		}
	}
	return Webhook{ID: r.ID, OfferingID: r.OfferingID, URL: r.URL, Events: evs, RunwayLowSeconds: r.RunwayLowSeconds,
		LastState: r.LastState, CreatedAt: r.CreatedAt}
}

func deliveryOf(r store.Delivery) Delivery {
	return Delivery{ID: r.ID, MsgID: r.MsgID, WebhookID: r.WebhookID, Event: Event(r.Event), Payload: r.Payload,
		State: DeliveryState(r.State), Attempts: r.Attempts, NextAttemptAt: r.NextAttemptAt, DeliveredAt: r.DeliveredAt,
		LastStatus: r.LastStatus, LastError: r.LastError, CreatedAt: r.CreatedAt}
}

// Service registers webhooks, detects their events and delivers them.
type Service struct {
	db           *db.DB
	offerings    Offerings
	credits      Credits
	client       *http.Client
	log          *slog.Logger
	now          func() time.Time
	rand         io.Reader
	allowPrivate bool
	poll         time.Duration
	workers      int
	kick         chan struct{}

	slugMu sync.Mutex
	slugs  map[int64]string // offering id → slug; a slug never changes
}

// Option sets an optional setting of the Service.
type Option func(*Service)

// WithAllowPrivate accepts webhook URLs on loopback and private addresses
// (tests, regtest). It must match what the HTTP client allows: the client
// from lnurl.PublicHTTPClient(allowPrivate) refuses to dial them anyway.
func WithAllowPrivate(allow bool) Option { return func(s *Service) { s.allowPrivate = allow } }

// WithRand sets the source of secrets and message ids (tests).
func WithRand(r io.Reader) Option { return func(s *Service) { s.rand = r } }

// WithPollInterval sets how often Run detects and sends (default 2 s).
func WithPollInterval(d time.Duration) Option { return func(s *Service) { s.poll = d } }

// New returns a Service. client makes the deliveries: pass
// lnurl.PublicHTTPClient(allowPrivate) so that an owner's URL cannot reach
// the operator's network; it is copied and never follows redirects. now
// may be nil (time.Now).
func New(d *db.DB, offerings Offerings, credits Credits, client *http.Client, log *slog.Logger, now func() time.Time, opts ...Option) *Service {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if client == nil {
		client = &http.Client{}
	}
	c := *client
	// A redirect would let a public URL point the site at a private one,
	// and Standard Webhooks receivers answer directly anyway.
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	s := &Service{db: d, offerings: offerings, credits: credits, client: &c, log: log, now: now, rand: rand.Reader,
		poll: 2 * time.Second, workers: 4, kick: make(chan struct{}, 1), slugs: map[int64]string{}}
	for _, o := range opts {
		o(s)
	}
	return s
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// CreateRequest is what an owner asks for.
type CreateRequest struct {
	URL              string
	Events           []string
	RunwayLowSeconds *int64 // nil means DefaultRunwayLowSeconds
}

// Create registers a webhook for an offering (the caller has checked the
// manage key) and returns it with its signing secret, shown once.
func (s *Service) Create(ctx context.Context, offeringID int64, req CreateRequest) (Webhook, string, error) {
	row, err := s.validate(req)
	if err != nil {
		return Webhook{}, "", err
	}
	o, err := s.offerings.GetByID(ctx, offeringID)
	if err != nil {
		return Webhook{}, "", err
	}
	st, err := s.offerings.Status(ctx, o.Slug)
	if err != nil {
		return Webhook{}, "", err
	}
	key := make([]byte, 32)
	if _, err := io.ReadFull(s.rand, key); err != nil {
		return Webhook{}, "", fmt.Errorf("hooks: secret: %w", err)
	}
	row.Secret = SecretPrefix + base64.StdEncoding.EncodeToString(key)
	row.OfferingID = offeringID
	// What the offering is now is the baseline: registering on an alive
	// offering must not announce a revival. A low runway is announced at
	// the next run, since the owner asked to hear of it.
	row.LastState = lastStateOf(st)
	row.CreatedAt = s.clock()
	err = s.db.Tx(ctx, func(tx db.Tx) error {
		// Serialises creations for one offering so the count holds.
		if err := s.offerings.Hold(ctx, tx, offeringID); err != nil {
			return fmt.Errorf("hooks: hold offering %d: %w", offeringID, err)
		}
		n, err := store.CountOf(ctx, tx, offeringID)
		if err != nil {
			return fmt.Errorf("hooks: %w", err)
		}
		if n >= MaxPerOffering {
			return apperr.New(apperr.Conflict, "An offering may have at most %d webhooks; delete one first.", MaxPerOffering)
		}
		if err := store.InsertWebhook(ctx, tx, &row); err != nil {
			return fmt.Errorf("hooks: %w", err)
		}
		tx.AfterCommit(func() {
			s.rememberSlug(o.ID, o.Slug)
			s.poke()
		})
		return nil
	})
	if err != nil {
		return Webhook{}, "", err
	}
	return webhookOf(row), row.Secret, nil
}

func (s *Service) validate(req CreateRequest) (store.Webhook, error) {
	problems := map[string]string{}
	row := store.Webhook{RunwayLowSeconds: DefaultRunwayLowSeconds}
	if u, msg := s.checkURL(req.URL); msg != "" {
		problems["url"] = msg
	} else {
		row.URL = u
	}
	var evs []string
	for _, e := range req.Events {
		e = strings.TrimSpace(e)
		if !slices.Contains(Events, Event(e)) {
			problems["events"] = fmt.Sprintf("Unknown event %q: use funded, runway_low, expired, revived, revenue_distributed or sponsorship_started.", e)
			break
		}
		if !slices.Contains(evs, e) {
			evs = append(evs, e)
		}
	}
	if len(req.Events) == 0 {
		problems["events"] = "Subscribe to at least one event: funded, runway_low, expired, revived, revenue_distributed or sponsorship_started."
	}
	row.Events = strings.Join(evs, ",")
	if req.RunwayLowSeconds != nil {
		v := *req.RunwayLowSeconds
		if v < MinRunwayLowSeconds || v > MaxRunwayLowSeconds {
			problems["runway_low_seconds"] = "The threshold must be between a minute and 90 days, in seconds."
		} else {
			row.RunwayLowSeconds = v
		}
	}
	if len(problems) > 0 {
		return store.Webhook{}, apperr.InvalidFields(problems)
	}
	return row, nil
}

// checkURL accepts https URLs, and http only to loopback (a host's local
// agent in tests and regtest). Unless private addresses are allowed,
// addresses that are visibly not public (lnurl.PublicAddr, the rule the
// client applies when it dials) are refused here; names that resolve to
// one are refused by the client when it dials.
func (s *Service) checkURL(raw string) (string, string) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", "Give the address to send events to."
	}
	if len(raw) > MaxURLLen {
		return "", fmt.Sprintf("At most %d characters.", MaxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", "Use a full https:// address, without credentials or #fragment."
	}
	host := strings.ToLower(u.Hostname())
	addr, isIP := netip.ParseAddr(host)
	loopback := host == "localhost" || strings.HasSuffix(host, ".localhost") || (isIP == nil && addr.IsLoopback())
	if u.Scheme == "http" && !loopback {
		return "", "Use https:// (plain http is accepted only for localhost)."
	}
	if !s.allowPrivate && (loopback || (isIP == nil && !lnurl.PublicAddr(addr))) {
		return "", "The address must be public: the site does not call into private networks."
	}
	if _, port, err := net.SplitHostPort(u.Host); err == nil && port == "" {
		return "", "Give a port after the colon, or none."
	}
	return u.String(), ""
}

// Delete removes a webhook of the offering: it stops receiving events, its
// pending messages are not sent, and its history goes away from the
// owner's view. Another offering's webhook is not found.
func (s *Service) Delete(ctx context.Context, offeringID, id int64) error {
	found, err := store.Disable(ctx, s.db, offeringID, id, s.clock())
	if err != nil {
		return fmt.Errorf("hooks: %w", err)
	}
	if !found {
		return apperr.New(apperr.NotFound, "This offering has no such webhook.")
	}
	return nil
}

// List returns the offering's webhooks, oldest first, each with its most
// recent deliveries (at most perWebhook) and their attempts.
func (s *Service) List(ctx context.Context, offeringID int64, perWebhook int) ([]WithDeliveries, error) {
	rows, err := store.WebhooksOf(ctx, s.db, offeringID)
	if err != nil {
		return nil, fmt.Errorf("hooks: list: %w", err)
	}
	out := make([]WithDeliveries, len(rows))
	for i, r := range rows {
		ds, err := store.DeliveriesOfWebhook(ctx, s.db, r.ID, deliveryLimit(perWebhook))
		if err != nil {
			return nil, fmt.Errorf("hooks: list: %w", err)
		}
		withLog, err := s.withAttempts(ctx, ds)
		if err != nil {
			return nil, fmt.Errorf("hooks: list: %w", err)
		}
		out[i] = WithDeliveries{Webhook: webhookOf(r), Deliveries: withLog}
	}
	return out, nil
}

// Recent returns the offering's most recent deliveries across its live
// webhooks, newest first, with their attempts: the owner's dashboard.
func (s *Service) Recent(ctx context.Context, offeringID int64, limit int) ([]Delivery, error) {
	rows, err := store.DeliveriesOfOffering(ctx, s.db, offeringID, deliveryLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("hooks: recent: %w", err)
	}
	out, err := s.withAttempts(ctx, rows)
	if err != nil {
		return nil, fmt.Errorf("hooks: recent: %w", err)
	}
	return out, nil
}

// deliveryLimit bounds how many deliveries an owner's page lists.
func deliveryLimit(limit int) int {
	if limit <= 0 || limit > 100 {
		return 20
	}
	return limit
}

// withAttempts returns the deliveries rows with their attempts.
func (s *Service) withAttempts(ctx context.Context, rows []store.Delivery) ([]Delivery, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	atts, err := store.AttemptsOf(ctx, s.db, ids)
	if err != nil {
		return nil, err
	}
	byDelivery := map[int64][]Attempt{}
	for _, a := range atts {
		byDelivery[a.DeliveryID] = append(byDelivery[a.DeliveryID],
			Attempt{At: a.At, StatusCode: a.StatusCode, Error: a.Error, DurationMs: a.DurationMs})
	}
	out := make([]Delivery, len(rows))
	for i, r := range rows {
		out[i] = deliveryOf(r)
		out[i].Log = byDelivery[r.ID]
	}
	return out, nil
}

func (s *Service) slugOf(ctx context.Context, offeringID int64) (string, error) {
	s.slugMu.Lock()
	slug, ok := s.slugs[offeringID]
	s.slugMu.Unlock()
	if ok {
		return slug, nil
	}
	o, err := s.offerings.GetByID(ctx, offeringID)
	if err != nil {
		return "", err
	}
	s.rememberSlug(o.ID, o.Slug)
	return o.Slug, nil
}

func (s *Service) rememberSlug(id int64, slug string) {
	s.slugMu.Lock()
	s.slugs[id] = slug
	s.slugMu.Unlock()
}

// newMsgID returns a Standard Webhooks message id.
func (s *Service) newMsgID() (string, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(s.rand, b); err != nil {
		return "", fmt.Errorf("hooks: message id: %w", err)
	}
	return "msg_" + hex.EncodeToString(b), nil
}

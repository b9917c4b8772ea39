// Package sponsor owns sponsorship: an offering's terms, its periods,
// sponsors' sealed bids (paid up front into the offering's escrow, raised,
// edited, withdrawn or rejected), the clearing of each period when it
// starts (the rules are the pure package clearing), the money that moves
// then, and what winners show during their period. Its store
// (internal/sponsor/internal/store, importable by this tree alone) is the
// only code that touches the sponsorship tables.
package sponsor

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/funding"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/money"
	"github.com/keepalive/keepalive/internal/offering"
	"github.com/keepalive/keepalive/internal/sponsor/clearing"
	"github.com/keepalive/keepalive/internal/sponsor/internal/store"
)

// Offerings is what sponsorship needs from the offering service.
type Offerings interface {
	Get(ctx context.Context, slug string) (offering.Offering, error)
	GetByID(ctx context.Context, id int64) (offering.Offering, error)
}

// Payments is what sponsorship needs from funding: invoices for bids and
// payouts of refunds.
type Payments interface {
	IssueInvoice(ctx context.Context, r funding.InvoiceRequest) (funding.Invoice, error)
	// SettleIfPaid credits those of the invoices the node has settled and
	// the site has not heard of yet (a period is cleared only once its
	// bids' payments are in).
	SettleIfPaid(ctx context.Context, paymentHashes []string) error
	Pay(ctx context.Context, source string, offeringID *int64, available money.Msat, destination string) (funding.Payout, error)
	NewWithdrawLink(ctx context.Context, src funding.WithdrawSource) (string, time.Time, error)
}

// RevenueEvent is money an offering earned: the investors take their
// share and the rest goes to the runway.
type RevenueEvent struct {
	OfferingID int64
	Amount     money.Msat
	Key        string // idempotency key; the distributor derives its transfers' keys from it
	From       string // ledger account the money leaves
	Memo       string
}

// Revenue is the investors' one door for revenue, inside the caller's
// transaction.
type Revenue interface {
	Distribute(ctx context.Context, tx db.Tx, ev RevenueEvent) error
}

// Events hears of periods that started with winners (for webhooks),
// inside the clearing's transaction tx, so that what it records happens
// exactly when the clearing does: once.
type Events interface {
	SponsorshipStarted(ctx context.Context, tx db.Tx, offeringID int64, start, end time.Time, winners []clearing.Winner) error
}

// Config holds sponsorship's knobs.
type Config struct {
	// PlatformFeeBps is the operator's share of each winner's charge, in
	// basis points, taken before the revenue split.
	PlatformFeeBps int
	// ClearDelay is how long after a period starts it is cleared, so that
	// payments settled just before the start are credited first.
	ClearDelay time.Duration
	// BidExpiry bounds how long a bid invoice stays payable (never past
	// the period's start).
	BidExpiry time.Duration
	// ClockSkew moves the sponsorship clock this far ahead of the clock
	// New is given (KEEPALIVE_REGTEST_CLOCK_SKEW: tests on regtest only).
	// Times the Lightning node reports, when a bid's invoice was settled,
	// are moved with it, so "paid before the period started" reads the
	// same on either clock.
	ClockSkew time.Duration
}

// DefaultClearDelay is ClearDelay when none is given.
const DefaultClearDelay = 10 * time.Second

// Service is sponsorship.
type Service struct {
	db        *db.DB
	ledger    *ledger.Ledger
	offerings Offerings
	payments  Payments
	revenue   Revenue
	events    Events
	cfg       Config
	log       *slog.Logger
	now       func() time.Time
	rand      io.Reader
}

// New returns the service. revenue may be RunwayRevenue until the
// investors' split is wired.
func New(d *db.DB, l *ledger.Ledger, offerings Offerings, payments Payments, revenue Revenue, cfg Config, log *slog.Logger, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.ClearDelay == 0 {
		cfg.ClearDelay = DefaultClearDelay
	}
	if cfg.BidExpiry == 0 {
		cfg.BidExpiry = time.Hour
	}
	if skew := cfg.ClockSkew; skew != 0 {
		wall := now
		now = func() time.Time { return wall().Add(skew) }
	}
	return &Service{db: d, ledger: l, offerings: offerings, payments: payments, revenue: revenue,
		cfg: cfg, log: log, now: now, rand: rand.Reader}
}

// SetEvents sets who hears that sponsorships started.
func (s *Service) SetEvents(e Events) { s.events = e }

// SetRand replaces the source of claim keys and bid ids (tests).
func (s *Service) SetRand(r io.Reader) { s.rand = r }

// Now is the service's clock.
func (s *Service) Now() time.Time { return s.now().UTC() }

// Settings are an offering's sponsorship terms.
type Settings struct {
	OfferingID  int64
	Enabled     bool
	Slots       int
	Period      Period
	Reserve     money.Msat
	Weights     []int
	OpenPeriods int
}

// DefaultSettings are what an offering has before its owner sets any:
// off, weekly, 3 equal slots, a 1,000-sat reserve, 4 periods open.
func DefaultSettings(offeringID int64) Settings {
	return Settings{OfferingID: offeringID, Slots: 3, Period: Week, Reserve: money.MustSats(1000),
		Weights: clearing.EqualWeights(3), OpenPeriods: 4}
}

// MaxOpenPeriods is the most future periods that may take bids.
const MaxOpenPeriods = 52

// Validate reports every problem with the terms, by field.
func (st Settings) Validate() error {
	problems := map[string]string{}
	if st.Slots < 1 || st.Slots > clearing.MaxSlots {
		problems["slots"] = "Between 1 and 10 slots."
	}
	if !st.Period.Valid() {
		problems["period"] = "A period is an hour, a day, a week or a month."
	}
	if st.Reserve <= 0 || !st.Reserve.Valid() {
		problems["reserve_msat"] = "The reserve must be a positive amount, at most 21,000,000 BTC."
	}
	if st.OpenPeriods < 1 || st.OpenPeriods > MaxOpenPeriods {
		problems["open_periods"] = "Between 1 and 52 periods may take bids."
	}
	_, badSlots := problems["slots"]
	_, badReserve := problems["reserve_msat"]
	if !badSlots && !badReserve { // the weights are checked against valid slots and reserve
		if err := clearing.ValidateTerms(st.Slots, st.Weights, st.Reserve); err != nil && len(st.Weights) > 0 {
			problems["weights_bps"] = "One weight per slot, in basis points: 10000 for the first, never increasing, all above 0."
		}
	}
	if len(problems) > 0 {
		return apperr.InvalidFields(problems)
	}
	return nil
}

// Settings returns an offering's terms (the defaults if none were set).
func (s *Service) Settings(ctx context.Context, offeringID int64) (Settings, error) {
	row, ok, err := store.SettingsOf(ctx, s.db, offeringID)
	if err != nil {
		return Settings{}, err
	}
	if !ok {
		return DefaultSettings(offeringID), nil
	}
	out := Settings{OfferingID: offeringID, Enabled: row.Enabled, Slots: row.Slots, Period: Period(row.Period),
		Reserve: row.ReserveMsat, OpenPeriods: row.OpenPeriods}
	if err := json.Unmarshal([]byte(row.WeightsBps), &out.Weights); err != nil {
		return Settings{}, fmt.Errorf("sponsor: weights of %d: %w", offeringID, err)
	}
	return out, nil
}

// SettingsInput is what an owner sends; nil fields keep their value.
type SettingsInput struct {
	Enabled     *bool
	Slots       *int
	Period      *Period
	Reserve     *money.Msat
	Weights     []int // nil keeps them (or makes them equal when slots change)
	OpenPeriods *int
}

// UpdateSettings changes an offering's terms. Bids already placed keep
// their period; clearing uses the terms in force when it runs.
func (s *Service) UpdateSettings(ctx context.Context, offeringID int64, in SettingsInput) (Settings, error) {
	st, err := s.Settings(ctx, offeringID)
	if err != nil {
		return Settings{}, err
	}
	if in.Enabled != nil {
		st.Enabled = *in.Enabled
	}
	if in.Slots != nil && *in.Slots != st.Slots {
		st.Slots = *in.Slots
		if in.Weights == nil && *in.Slots >= 1 && *in.Slots <= clearing.MaxSlots {
			st.Weights = clearing.EqualWeights(*in.Slots)
		}
	}
	if in.Period != nil {
		st.Period = *in.Period
	}
	if in.Reserve != nil {
		st.Reserve = *in.Reserve
	}
	if in.Weights != nil {
		st.Weights = in.Weights
	}
	if in.OpenPeriods != nil {
		st.OpenPeriods = *in.OpenPeriods
	}
	if err := st.Validate(); err != nil {
		return Settings{}, err
	}
	w, err := json.Marshal(st.Weights)
	if err != nil {
		return Settings{}, err
	}
	row := store.Settings{OfferingID: st.OfferingID, Enabled: st.Enabled, Slots: st.Slots, Period: string(st.Period),
		ReserveMsat: st.Reserve, WeightsBps: string(w), OpenPeriods: st.OpenPeriods, UpdatedAt: s.Now()}
	if err := store.SaveSettings(ctx, s.db, row); err != nil {
		return Settings{}, err
	}
	return st, nil
}

// OpenPeriod is a period taking bids, with how many it has (never their
// amounts).
type OpenPeriod struct {
	Start, End time.Time
	Bids       int
}

// OpenPeriods lists the periods of an offering that take bids now.
func (s *Service) OpenPeriods(ctx context.Context, st Settings) ([]OpenPeriod, error) {
	if !st.Enabled {
		return []OpenPeriod{}, nil
	}
	starts := st.Period.Open(s.Now(), st.OpenPeriods)
	counts, err := store.BidCounts(ctx, s.db, st.OfferingID, starts[0], starts[len(starts)-1])
	if err != nil {
		return nil, err
	}
	out := make([]OpenPeriod, len(starts))
	for i, start := range starts {
		out[i] = OpenPeriod{Start: start, End: st.Period.Next(start), Bids: counts[start.Unix()]}
	}
	return out, nil
}

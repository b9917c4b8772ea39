// Package invest owns investing in an offering: the round's terms, the
// investments (each with a claim key, its principal and the terms it was
// made on), revenue events and their split among investors, and the
// investors' withdrawals of what they earned.
//
// Money: an investment's principal arrives by invoice and buys runway like
// a donation; every revenue event goes through Distribute, the one door,
// which pays investors' payable accounts and the runway in the caller's
// transaction. Only this package's store touches its tables
// (investment_terms, investments, revenue_events): its store,
// internal/invest/internal/store, which Go lets no package outside this
// tree import. An investor's LNURL-withdraw links are funding's, like
// every other.
package invest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/funding"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/money"
	"github.com/keepalive/keepalive/internal/offering"
)

// Offerings is what investing needs from the offering service.
type Offerings interface {
	Get(ctx context.Context, slug string) (offering.Offering, error)
	GetByID(ctx context.Context, id int64) (offering.Offering, error)
	CreditRunway(ctx context.Context, tx db.Tx, offeringID int64, c offering.Credit) (offering.Offering, error)
	Accrue(ctx context.Context, offeringID int64) (money.Msat, error)
	Invalidate(slug string)
}

// Funding is what investing needs from the funding service: invoices in,
// payouts out.
type Funding interface {
	Issue(ctx context.Context, r funding.IssueRequest, inTx func(tx db.Tx, inv funding.Invoice) error) (funding.Invoice, error)
	OnSettle(p funding.Purpose, fn funding.SettleFunc)
	CreditInvoice(ctx context.Context, tx db.Tx, inv funding.Invoice, paid money.Msat) error
	Pay(ctx context.Context, source string, offeringID *int64, available money.Msat, destination string) (funding.Payout, error)
	PayoutsFrom(ctx context.Context, source string, limit int) ([]funding.Payout, error)
	NewWithdrawLink(ctx context.Context, src funding.WithdrawSource) (string, time.Time, error)
}

// Notifier hears of each distribution inside its transaction (webhooks
// enqueue revenue_distributed there, so it is sent exactly once).
type Notifier interface {
	RevenueDistributed(ctx context.Context, tx db.Tx, offeringID int64, ev Event) error
}

var (
	_ Offerings = (*offering.Service)(nil)
	_ Funding   = (*funding.Service)(nil)
)

// Service is the investment domain.
type Service struct {
	db        *db.DB
	ledger    *ledger.Ledger
	offerings Offerings
	funding   Funding
	notifier  Notifier
	log       *slog.Logger
	now       func() time.Time
	rand      io.Reader
	due       chan []int64 // investments that just received a share
}

// Option sets an optional dependency.
type Option func(*Service)

// WithClock sets the clock (tests).
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithRand sets the source of claim keys (tests).
func WithRand(r io.Reader) Option { return func(s *Service) { s.rand = r } }

// WithNotifier sets who hears of distributions (webhooks).
func WithNotifier(n Notifier) Option { return func(s *Service) { s.notifier = n } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.log = l } }

// New returns the service and registers, with f, how investment and
// revenue invoices are booked when they settle.
func New(d *db.DB, l *ledger.Ledger, offerings Offerings, f Funding, opts ...Option) *Service {
	s := &Service{db: d, ledger: l, offerings: offerings, funding: f, now: time.Now, rand: rand.Reader,
		log: slog.New(slog.DiscardHandler), due: make(chan []int64, 64)}
	for _, o := range opts {
		o(s)
	}
	f.OnSettle(funding.PurposeInvestment, s.settleInvestment)
	f.OnSettle(funding.PurposeRevenue, s.settleRevenue)
	return s
}

// Now is the service's clock, in UTC.
func (s *Service) Now() time.Time { return s.now().UTC() }

// ClaimKeyPrefix starts every claim key.
const ClaimKeyPrefix = "ka_ck_"

func (s *Service) newClaimKey() (key, hash string, err error) {
	b := make([]byte, 32)
	if _, err := io.ReadFull(s.rand, b); err != nil {
		return "", "", fmt.Errorf("invest: claim key: %w", err)
	}
	key = ClaimKeyPrefix + base64.RawURLEncoding.EncodeToString(b)
	return key, hashClaimKey(key), nil
}

// hashClaimKey hashes a claim key for storage: 256 random bits need no
// slow hash.
func hashClaimKey(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

// claimKeyLen is the length of every key newClaimKey makes.
var claimKeyLen = len(ClaimKeyPrefix) + base64.RawURLEncoding.EncodedLen(32)

// wellFormedClaimKey says whether key could be a claim key at all.
func wellFormedClaimKey(key string) bool {
	if len(key) != claimKeyLen || !strings.HasPrefix(key, ClaimKeyPrefix) {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(key[len(ClaimKeyPrefix):])
	return err == nil && len(b) == 32
}

func errBadClaimKey() error {
	return apperr.New(apperr.Unauthorized, "That claim key does not open this investment.")
}

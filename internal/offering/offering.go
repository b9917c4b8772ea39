// Package offering owns offerings: their listing and editing, manage keys,
// the runway (what has been paid and not yet consumed), the accrual that
// moves consumption to the owner's earned balance, and the funding status
// the hosts ask for.
package offering

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/money"
	"github.com/keepalive/keepalive/internal/offering/internal/store"
	"github.com/keepalive/keepalive/internal/text"
)

// Offering is a listed thing to keep alive.
type Offering = store.Offering

// Input is what an owner fills in to list or edit an offering. On edit,
// nil fields are left as they are.
type Input struct {
	Name                *string
	Slug                *string
	URL                 *string
	Description         *string
	BurnRateMsatPerHour *money.Msat
	BurnUnit            *string // hour, day (the default) or month: how forms show the rate
	GraceSeconds        *int64
}

// What an offering's texts may hold.
var (
	NameField        = text.Field{Max: 80, Required: true}
	DescriptionField = text.Field{Max: 2000, Multiline: true}
)

// Limits of what an offering may say.
const (
	MaxURLLen       = 2048
	MaxGraceSeconds = 90 * 24 * 3600
	// MaxBurnRate is 10 BTC an hour: far above any hosting bill, low
	// enough that runway arithmetic never overflows.
	MaxBurnRate money.Msat = 10 * 100_000_000 * 1000
)

var slugPattern = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{1,38}[a-z0-9])$`)

// isSlug is slugPattern without the regexp, for lookups on the hot path
// (the status endpoint) that only need to know a lookup is pointless.
func isSlug(s string) bool {
	if len(s) < 3 || len(s) > 40 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// reservedSlugs would collide with the site's own paths or confuse people.
var reservedSlugs = map[string]bool{
	"api": true, "admin": true, "new": true, "static": true, "dashboard": true, "signin": true,
	"signout": true, "well-known": true, "healthz": true, "metrics": true, "badge": true, "keepalive": true,
}

// Service manages offerings.
type Service struct {
	db        *db.DB
	ledger    *ledger.Ledger
	now       func() time.Time
	rand      io.Reader
	log       *slog.Logger
	cache     *statusCache
	slugs     sync.Map // offering id → slug, which never changes once taken
	slugsKept atomic.Int64
}

// Option sets an optional dependency of the Service.
type Option func(*Service)

// WithClock sets the clock (tests).
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithRand sets the source of manage keys (tests).
func WithRand(r io.Reader) Option { return func(s *Service) { s.rand = r } }

// WithStatusTTL sets how long a status snapshot may be served from memory
// when this process did not see the change itself (another replica did).
func WithStatusTTL(ttl time.Duration) Option { return func(s *Service) { s.cache.ttl = ttl } }

// New returns a Service.
func New(d *db.DB, l *ledger.Ledger, log *slog.Logger, opts ...Option) *Service {
	s := &Service{db: d, ledger: l, now: time.Now, rand: rand.Reader, log: log, cache: newStatusCache(2 * time.Second)}
	for _, o := range opts {
		o(s)
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// Now is the service's clock.
func (s *Service) Now() time.Time { return s.now().UTC() }

// Create lists a new offering and returns it with its manage key, which
// is shown to the owner once and stored only as a hash.
func (s *Service) Create(ctx context.Context, in Input) (Offering, string, error) {
	o := Offering{}
	if in.GraceSeconds == nil {
		d := int64(24 * 3600)
		in.GraceSeconds = &d
	}
	if in.Description == nil {
		in.Description = new(string)
	}
	if err := applyInput(&o, in, true); err != nil {
		return Offering{}, "", err
	}
	key, hash, err := newManageKey(s.rand)
	if err != nil {
		return Offering{}, "", err
	}
	now := s.Now().Truncate(time.Millisecond)
	o.ManageKeyHash = hash
	o.AccruedAt, o.CreatedAt, o.UpdatedAt = now, now, now
	err = s.db.Tx(ctx, func(tx db.Tx) error {
		taken, err := store.SlugTaken(ctx, tx, o.Slug)
		if err != nil {
			return err
		}
		if taken {
			return slugTaken(o.Slug)
		}
		// Accounts are named after the id, which the insert assigns: take
		// placeholders first, then name them.
		if err := store.Insert(ctx, tx, &o); err != nil {
			if errors.Is(err, db.ErrDuplicate) {
				return slugTaken(o.Slug)
			}
			return err
		}
		ids, err := s.ledger.In(tx).Ensure(ctx, ledger.OfferingRunway(o.ID), ledger.OfferingEarned(o.ID))
		if err != nil {
			return err
		}
		o.RunwayAccountID, o.EarnedAccountID = ids[ledger.OfferingRunway(o.ID)], ids[ledger.OfferingEarned(o.ID)]
		return store.SetAccounts(ctx, tx, o)
	})
	if err != nil {
		return Offering{}, "", err
	}
	return o, key, nil
}

func slugTaken(slug string) error {
	e := apperr.New(apperr.Conflict, "The address %q is taken; pick another.", slug)
	e.Fields = map[string]string{"slug": "This address is taken."}
	return e
}

// Update changes an offering. The caller has checked the manage key. A
// new burn rate takes effect from now: consumption up to now is posted at
// the old rate first.
func (s *Service) Update(ctx context.Context, slug string, in Input) (Offering, error) {
	if in.Slug != nil && *in.Slug != slug {
		return Offering{}, apperr.InvalidFields(map[string]string{"slug": "The address of an offering cannot change."})
	}
	var out Offering
	err := s.db.Tx(ctx, func(tx db.Tx) error {
		o, err := s.lockBySlug(ctx, tx, slug)
		if err != nil {
			return err
		}
		if in.BurnRateMsatPerHour != nil && *in.BurnRateMsatPerHour != o.BurnRateMsatPerHour {
			if _, err := s.accrueLocked(ctx, tx, &o); err != nil {
				return err
			}
		}
		if err := applyInput(&o, in, false); err != nil {
			return err
		}
		runway, err := s.ledger.In(tx).Balance(ctx, ledger.OfferingRunway(o.ID))
		if err != nil {
			return err
		}
		if o.FundedUntil != nil {
			fu := fundedUntil(o.AccruedAt, runway, o.BurnRateMsatPerHour)
			o.FundedUntil = &fu
		}
		o.UpdatedAt = s.Now()
		if err := store.Save(ctx, tx, &o); err != nil {
			return err
		}
		s.changing(tx, slug)
		out = o
		return nil
	})
	return out, err
}

// Check returns what is wrong with each field of in, keyed like
// apperr's Fields (nil when nothing is), without saving anything. create
// requires every field, as Create does.
func Check(in Input, create bool) map[string]string {
	return apperr.FieldsOf(applyInput(&Offering{}, in, create))
}

// SuggestSlug makes an address from a name: lower-case ASCII letters and
// digits, words joined by dashes, at most 40 characters ("My Game
// Server!" → "my-game-server"); "" when nothing usable is left.
func SuggestSlug(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(norm.NFKD.String(name)) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		case unicode.Is(unicode.Mn, r):
			// accents dropped: "café" → "cafe"
		default:
			dash = true
		}
		if b.Len() >= 40 {
			break
		}
	}
	slug := strings.Trim(b.String()[:min(b.Len(), 40)], "-")
	if !slugPattern.MatchString(slug) || reservedSlugs[slug] {
		return ""
	}
	return slug
}

// applyInput validates in and copies it onto o. create requires every
// field.
func applyInput(o *Offering, in Input, create bool) error {
	problems := map[string]string{}
	need := func(field string, present bool) bool {
		if !present && create {
			problems[field] = "This is required."
		}
		return present
	}
	if need("name", in.Name != nil) {
		if name, err := text.Clean(*in.Name, NameField); err != nil {
			problems["name"] = apperr.MessageOf(err)
		} else {
			o.Name = name
		}
	}
	if create && need("slug", in.Slug != nil) {
		slug := strings.TrimSpace(*in.Slug)
		switch {
		case !slugPattern.MatchString(slug):
			problems["slug"] = "3 to 40 characters: lowercase letters, digits and dashes, not at either end."
		case reservedSlugs[slug]:
			problems["slug"] = "This address is reserved; pick another."
		default:
			o.Slug = slug
		}
	}
	if need("url", in.URL != nil) {
		if u, msg := checkURL(*in.URL); msg != "" {
			problems["url"] = msg
		} else {
			o.URL = u
		}
	}
	if in.Description != nil {
		if d, err := text.Clean(*in.Description, DescriptionField); err != nil {
			problems["description"] = apperr.MessageOf(err)
		} else {
			o.Description = d
		}
	}
	if need("burn_rate_msat_per_hour", in.BurnRateMsatPerHour != nil) {
		b := *in.BurnRateMsatPerHour
		switch {
		case b < 1:
			problems["burn_rate_msat_per_hour"] = "The running cost must be more than zero."
		case b > MaxBurnRate:
			problems["burn_rate_msat_per_hour"] = "The running cost must be at most 10 BTC an hour."
		default:
			o.BurnRateMsatPerHour = b
		}
	}
	if in.BurnUnit != nil {
		switch u := *in.BurnUnit; u {
		case "hour", "day", "month":
			o.BurnUnit = u
		default:
			problems["burn_unit"] = "Choose per hour, per day or per month."
		}
	} else if create {
		o.BurnUnit = "day"
	}
	if in.GraceSeconds != nil {
		g := *in.GraceSeconds
		if g < 0 || g > MaxGraceSeconds {
			problems["grace_seconds"] = "The grace period must be between 0 and 90 days."
		} else {
			o.GraceSeconds = g
		}
	}
	if len(problems) > 0 {
		return apperr.InvalidFields(problems)
	}
	return nil
}

func checkURL(raw string) (string, string) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", "Give the address of the hosted thing."
	}
	if !strings.Contains(raw, "://") && !strings.ContainsAny(raw, " :") && strings.Contains(raw, ".") {
		// "wiki.example.org", as people type it: they mean the web site.
		raw = "https://" + raw
	}
	if len(raw) > MaxURLLen {
		return "", fmt.Sprintf("At most %d characters.", MaxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return "", "Use a full http:// or https:// address."
	}
	return u.String(), ""
}

// ManageKeyPrefix starts every manage key, so a leaked one is easy to
// recognise (and to grep for).
const ManageKeyPrefix = "ka_mk_"

func newManageKey(r io.Reader) (key, hash string, err error) {
	b := make([]byte, 32)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", "", fmt.Errorf("offering: manage key: %w", err)
	}
	key = ManageKeyPrefix + base64.RawURLEncoding.EncodeToString(b)
	return key, hashKey(key), nil
}

// hashKey hashes a manage key for storage. The key is 256 random bits, so
// a plain SHA-256 is enough: there is nothing to brute-force.
func hashKey(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

// RotateKey replaces the offering's manage key and returns the new one.
// Every session that could manage the offering loses it (the caller signs
// the rotating browser in again with the new key).
func (s *Service) RotateKey(ctx context.Context, slug string) (string, error) {
	key, hash, err := newManageKey(s.rand)
	if err != nil {
		return "", err
	}
	err = s.db.Tx(ctx, func(tx db.Tx) error {
		o, err := s.lockBySlug(ctx, tx, slug)
		if err != nil {
			return err
		}
		if err := store.SetKeyHash(ctx, tx, o.ID, hash, s.Now()); err != nil {
			return err
		}
		return store.RevokeOffering(ctx, tx, o.ID)
	})
	if err != nil {
		return "", err
	}
	return key, nil
}

// Authenticate returns the offering if key is its manage key.
func (s *Service) Authenticate(ctx context.Context, slug, key string) (Offering, error) {
	o, err := s.Get(ctx, slug)
	if err != nil {
		if apperr.Is(err, apperr.NotFound) {
			// Same answer as a wrong key: do not reveal which slugs exist
			// to someone probing keys.
			return Offering{}, apperr.New(apperr.Unauthorized, "That manage key is not valid for this offering.")
		}
		return Offering{}, err
	}
	if subtle.ConstantTimeCompare([]byte(hashKey(key)), []byte(o.ManageKeyHash)) != 1 {
		return Offering{}, apperr.New(apperr.Unauthorized, "That manage key is not valid for this offering.")
	}
	return o, nil
}

// ByManageKey returns the offering whose manage key is key (sign-in with
// the key alone).
func (s *Service) ByManageKey(ctx context.Context, key string) (Offering, error) {
	key = strings.TrimSpace(key)
	if !strings.HasPrefix(key, ManageKeyPrefix) || len(key) > 100 {
		return Offering{}, apperr.New(apperr.Unauthorized, "That is not a manage key.")
	}
	o, err := store.ByKeyHash(ctx, s.db, hashKey(key))
	if errors.Is(err, db.ErrNotFound) {
		return Offering{}, apperr.New(apperr.Unauthorized, "No offering has that manage key.")
	}
	return o, err
}

// KeyVersion identifies the current manage key of o without revealing
// it, so sessions signed in with an old key end when the key rotates.
func KeyVersion(o Offering) string { return o.ManageKeyHash[:16] }

func notFound(slug string) error {
	return apperr.New(apperr.NotFound, "No offering is listed at %q.", slug)
}

// Get returns the offering with that slug.
func (s *Service) Get(ctx context.Context, slug string) (Offering, error) {
	if !isSlug(slug) {
		// Not a slug (a path segment may hold any byte, NUL included,
		// which PostgreSQL refuses): no query needed to know it is absent.
		return Offering{}, notFound(slug)
	}
	o, err := store.BySlug(ctx, s.db, slug)
	if errors.Is(err, db.ErrNotFound) {
		return Offering{}, notFound(slug)
	}
	return o, err
}

// GetByID returns the offering with that id.
func (s *Service) GetByID(ctx context.Context, id int64) (Offering, error) {
	o, err := store.ByID(ctx, s.db, id)
	if errors.Is(err, db.ErrNotFound) {
		return Offering{}, apperr.New(apperr.NotFound, "No such offering.")
	}
	return o, err
}

// SlugOf returns the slug of the offering with that id. A slug is taken
// for good when the offering is listed, so it is read from the database
// once per process (for the first maxSlugsKept offerings asked about)
// and kept: answering an invoice's state needs no second query.
func (s *Service) SlugOf(ctx context.Context, id int64) (string, error) {
	if slug, ok := s.slugs.Load(id); ok {
		return slug.(string), nil
	}
	o, err := s.GetByID(ctx, id)
	if err != nil {
		return "", err
	}
	if s.slugsKept.Add(1) <= maxSlugsKept {
		s.slugs.Store(id, o.Slug)
	}
	return o.Slug, nil
}

// maxSlugsKept bounds the memory SlugOf keeps (a few MB).
const maxSlugsKept = 100_000

// Hold locks the offering's row until tx ends, so that work another
// package does for one offering is serialised (the count of its webhooks,
// for one). It fails with NotFound when there is no such offering.
func (s *Service) Hold(ctx context.Context, tx db.Tx, offeringID int64) error {
	_, err := s.lockByID(ctx, tx, offeringID)
	return err
}

func (s *Service) lockBySlug(ctx context.Context, tx db.Tx, slug string) (Offering, error) {
	if !isSlug(slug) {
		return Offering{}, notFound(slug)
	}
	o, err := store.LockBySlug(ctx, tx, slug)
	if errors.Is(err, db.ErrNotFound) {
		return Offering{}, notFound(slug)
	}
	return o, err
}

func (s *Service) lockByID(ctx context.Context, tx db.Tx, id int64) (Offering, error) {
	o, err := store.LockByID(ctx, tx, id)
	if errors.Is(err, db.ErrNotFound) {
		return Offering{}, apperr.New(apperr.NotFound, "No such offering.")
	}
	return o, err
}

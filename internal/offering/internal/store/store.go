// Package store holds the SQL of the offering package: offerings,
// consumption_days, owner sessions and wallet sign-in are read and
// written here and nowhere else, through GORM's query builder. Only the
// offering package can import it; the ledger's tables are the ledger's,
// asked through its methods.
package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/money"
)

// Conn is where statements run: the pool (*db.DB) or a transaction in
// progress (db.Tx).
type Conn = db.Conn

// Offering is a row of offerings: a listed thing to keep alive.
type Offering struct {
	ID                  int64      `gorm:"primaryKey"`
	Slug                string     `gorm:"column:slug"`
	Name                string     `gorm:"column:name"`
	URL                 string     `gorm:"column:url"`
	Description         string     `gorm:"column:description"`
	BurnRateMsatPerHour money.Msat `gorm:"column:burn_rate_msat_per_hour"`
	BurnUnit            string     `gorm:"column:burn_unit"` // what the owner entered the rate in: hour, day or month
	GraceSeconds        int64      `gorm:"column:grace_seconds"`
	ManageKeyHash       string     `gorm:"column:manage_key_hash"`
	RunwayAccountID     int64      `gorm:"column:runway_account_id"`
	EarnedAccountID     int64      `gorm:"column:earned_account_id"`
	AccruedAt           time.Time  `gorm:"column:accrued_at"`
	FundedUntil         *time.Time `gorm:"column:funded_until"`
	CreatedAt           time.Time  `gorm:"column:created_at"`
	UpdatedAt           time.Time  `gorm:"column:updated_at"`
}

func (Offering) TableName() string { return "offerings" }

// SlugTaken reports whether an offering has that slug.
func SlugTaken(ctx context.Context, c Conn, slug string) (bool, error) {
	var n int64
	if err := c.Gorm(ctx).Model(&Offering{}).Where("slug = ?", slug).Count(&n).Error; err != nil {
		return false, fmt.Errorf("offering: check slug: %w", db.TranslateError(err))
	}
	return n > 0, nil
}

// Insert writes a new offering and sets its id; its accounts are set
// afterwards (SetAccounts), being named after the id. A taken slug is
// db.ErrDuplicate.
func Insert(ctx context.Context, c Conn, o *Offering) error {
	if err := c.Gorm(ctx).Omit("runway_account_id", "earned_account_id").Create(o).Error; err != nil {
		return fmt.Errorf("offering: insert: %w", db.TranslateError(err))
	}
	return nil
}

// SetAccounts stores the ledger accounts of o.
func SetAccounts(ctx context.Context, c Conn, o Offering) error {
	err := c.Gorm(ctx).Model(&Offering{}).Where("id = ?", o.ID).
		Updates(map[string]any{"runway_account_id": o.RunwayAccountID, "earned_account_id": o.EarnedAccountID}).Error
	if err != nil {
		return fmt.Errorf("offering: accounts of %d: %w", o.ID, db.TranslateError(err))
	}
	return nil
}

// Save writes every column of o.
func Save(ctx context.Context, c Conn, o *Offering) error {
	if err := c.Gorm(ctx).Save(o).Error; err != nil {
		return fmt.Errorf("offering: update %s: %w", o.Slug, db.TranslateError(err))
	}
	return nil
}

// SetAccruedAt moves the instant up to which o's consumption is posted.
func SetAccruedAt(ctx context.Context, c Conn, id int64, at time.Time) error {
	if err := c.Gorm(ctx).Model(&Offering{}).Where("id = ?", id).Update("accrued_at", at).Error; err != nil {
		return fmt.Errorf("offering: accrued_at of %d: %w", id, db.TranslateError(err))
	}
	return nil
}

// SetFunding stores the instant up to which o's consumption is posted and
// the one its runway lasts until and, when day is not nil, adds the
// accrual it describes to consumption_days (as AddConsumedDay). On
// PostgreSQL both are one statement: a round trip less on the settlement
// path.
func SetFunding(ctx context.Context, c Conn, id int64, accruedAt, fundedUntil time.Time, day *ConsumptionDay) error {
	q := c.Gorm(ctx).Model(&Offering{}).Where("id = ?", id)
	if day != nil && q.Dialector.Name() == string(db.Postgres) {
		q = q.Clauses(consumedDayFirst{*day})
	} else if day != nil {
		if err := AddConsumedDay(ctx, c, *day); err != nil {
			return err
		}
	}
	if err := q.Updates(map[string]any{"accrued_at": accruedAt, "funded_until": fundedUntil}).Error; err != nil {
		return fmt.Errorf("offering: funded until of %d: %w", id, db.TranslateError(err))
	}
	return nil
}

// SetKeyHash replaces the hash of o's manage key.
func SetKeyHash(ctx context.Context, c Conn, id int64, hash string, now time.Time) error {
	err := c.Gorm(ctx).Model(&Offering{}).Where("id = ?", id).
		Updates(map[string]any{"manage_key_hash": hash, "updated_at": now}).Error
	if err != nil {
		return fmt.Errorf("offering: rotate key of %d: %w", id, db.TranslateError(err))
	}
	return nil
}

// ByID, BySlug and ByKeyHash return one offering, db.ErrNotFound when
// there is none.
func ByID(ctx context.Context, c Conn, id int64) (Offering, error) {
	return take(ctx, c.Gorm(ctx), "id = ?", id)
}

// BySlug: see ByID.
func BySlug(ctx context.Context, c Conn, slug string) (Offering, error) {
	return take(ctx, c.Gorm(ctx), "slug = ?", slug)
}

// ByKeyHash: see ByID.
func ByKeyHash(ctx context.Context, c Conn, hash string) (Offering, error) {
	return take(ctx, c.Gorm(ctx), "manage_key_hash = ?", hash)
}

// LockByID and LockBySlug read one offering in tx and, on PostgreSQL,
// lock its row until tx ends (SQLite's immediate transactions already
// hold the whole file); db.ErrNotFound when there is none.
func LockByID(ctx context.Context, tx db.Tx, id int64) (Offering, error) {
	return take(ctx, forUpdate(ctx, tx), "id = ?", id)
}

// LockBySlug: see LockByID.
func LockBySlug(ctx context.Context, tx db.Tx, slug string) (Offering, error) {
	return take(ctx, forUpdate(ctx, tx), "slug = ?", slug)
}

func forUpdate(ctx context.Context, tx db.Tx) *gorm.DB {
	q := tx.Gorm(ctx)
	if tx.Dialect() == db.Postgres {
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	return q
}

func take(ctx context.Context, q *gorm.DB, where string, arg any) (Offering, error) {
	var o Offering
	if err := q.Where(where, arg).Take(&o).Error; err != nil {
		return Offering{}, fmt.Errorf("offering: %s %v: %w", where, arg, db.TranslateError(err))
	}
	return o, nil
}

// ByWalletKey returns the offerings a wallet key is linked to, by id.
func ByWalletKey(ctx context.Context, c Conn, key string) ([]Offering, error) {
	var out []Offering
	err := c.Gorm(ctx).Where("id IN (?)", c.Gorm(ctx).Model(&WalletKey{}).Select("offering_id").Where("linking_key = ?", key)).
		Order("id").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("offering: offerings of a wallet: %w", db.TranslateError(err))
	}
	return out, nil
}

// Page returns up to limit offerings, from offset, whose lower-cased
// name matches the LIKE pattern (empty: all), the ones funded longest
// first, then those never funded; and whether more follow. Without a
// pattern the order is read from offerings_listed (migration 00013): no
// count and no sort of every row, so a page costs the same among ten
// offerings or a hundred thousand (OFFSET still walks the pages before:
// PageAfter and PageBefore start at a cursor instead).
func Page(ctx context.Context, c Conn, pattern string, limit, offset int) ([]Offering, bool, error) {
	var found []Offering
	// DESC NULLS LAST as the index holds it; SQLite sorts NULLs last under
	// DESC anyway.
	err := matching(ctx, c, pattern).Order(listOrder).Limit(limit + 1).Offset(offset).Find(&found).Error
	if err != nil {
		return nil, false, fmt.Errorf("offering: list: %w", db.TranslateError(err))
	}
	return found[:min(len(found), limit)], len(found) > limit, nil
}

// listOrder is the list's order, as the offerings_listed index holds it,
// and its reverse (the index read backwards).
const (
	listOrder    = "offerings.funded_until DESC NULLS LAST, offerings.id DESC"
	reverseOrder = "offerings.funded_until ASC NULLS FIRST, offerings.id ASC"
)

// afterKey and beforeKey compare an offering's place in list order with
// the cursor offering's (the second argument is its id): they compare the
// database's own values, read by a subquery, so a time never makes a
// round trip through Go. A NULL funded_until compares as unknown, which
// leaves the never-funded offerings to the callers.
const (
	afterKey  = "(offerings.funded_until, offerings.id) < ((SELECT c.funded_until FROM offerings c WHERE c.id = ?), ?)"
	beforeKey = "(offerings.funded_until, offerings.id) > ((SELECT c.funded_until FROM offerings c WHERE c.id = ?), ?)"
)

// cursorFunded tells whether the offering with that id exists and whether
// it was ever funded (where it sorts: the never funded come last).
func cursorFunded(ctx context.Context, c Conn, id int64) (exists, funded bool, err error) {
	var keys []struct{ FundedUntil *time.Time }
	if err := c.Gorm(ctx).Model(&Offering{}).Select("funded_until").Where("id = ?", id).Limit(1).Find(&keys).Error; err != nil {
		return false, false, fmt.Errorf("offering: list cursor: %w", db.TranslateError(err))
	}
	if len(keys) == 0 {
		return false, false, nil
	}
	return true, keys[0].FundedUntil != nil, nil
}

// PageAfter returns up to limit offerings matching the LIKE pattern that
// follow, in Page's order, the offering with id after, and whether more
// follow them; found is false when there is no such offering. Each read
// starts in the offerings_listed index at the cursor, so a page deep in
// the list costs what the first one does.
func PageAfter(ctx context.Context, c Conn, pattern string, limit int, after int64) (out []Offering, more, found bool, err error) {
	return pageFrom(ctx, c, pattern, limit, after, false)
}

// PageBefore returns up to limit offerings matching the LIKE pattern that
// come just before the offering with id before, in Page's order, and
// whether more come before them; found is false when there is no such
// offering.
func PageBefore(ctx context.Context, c Conn, pattern string, limit int, before int64) (out []Offering, more, found bool, err error) {
	return pageFrom(ctx, c, pattern, limit, before, true)
}

// listPart is a condition that picks one stretch of the list.
type listPart struct {
	where string
	args  []any
}

// pageFrom reads up to limit offerings on one side of the cursor: the
// list is the funded offerings, then the never funded ones (NULL, by id),
// and the cursor cuts one of the two parts. Backwards, the rows are read
// in reverse order from the cursor, then turned around.
func pageFrom(ctx context.Context, c Conn, pattern string, limit int, cursor int64, backwards bool) (out []Offering, more, found bool, err error) {
	exists, funded, err := cursorFunded(ctx, c, cursor)
	if err != nil || !exists {
		return nil, false, false, err
	}
	var (
		parts []listPart
		order = listOrder
	)
	switch {
	case !backwards && funded:
		parts = []listPart{{afterKey, []any{cursor, cursor}}, {"offerings.funded_until IS NULL", nil}}
	case !backwards:
		parts = []listPart{{"offerings.funded_until IS NULL AND offerings.id < ?", []any{cursor}}}
	case funded:
		parts, order = []listPart{{beforeKey, []any{cursor, cursor}}}, reverseOrder
	default:
		parts = []listPart{{"offerings.funded_until IS NULL AND offerings.id > ?", []any{cursor}}, {"offerings.funded_until IS NOT NULL", nil}}
		order = reverseOrder
	}
	for _, p := range parts {
		if len(out) > limit {
			break
		}
		var rows []Offering
		if err := matching(ctx, c, pattern).Where(p.where, p.args...).
			Order(order).Limit(limit + 1 - len(out)).Find(&rows).Error; err != nil {
			return nil, false, false, fmt.Errorf("offering: list: %w", db.TranslateError(err))
		}
		out = append(out, rows...)
	}
	more = len(out) > limit
	out = out[:min(len(out), limit)]
	if backwards {
		slices.Reverse(out)
	}
	return out, more, true, nil
}

// Count returns how many offerings' lower-cased names match the LIKE
// pattern (empty: all). It reads every match.
func Count(ctx context.Context, c Conn, pattern string) (int64, error) {
	var total int64
	if err := matching(ctx, c, pattern).Count(&total).Error; err != nil {
		return 0, fmt.Errorf("offering: count: %w", db.TranslateError(err))
	}
	return total, nil
}

func matching(ctx context.Context, c Conn, pattern string) *gorm.DB {
	q := c.Gorm(ctx).Model(&Offering{})
	if pattern != "" {
		q = q.Where("LOWER(offerings.name) LIKE ? ESCAPE '\\'", pattern)
	}
	return q
}

// Accounts returns the id and ledger accounts of every offering: for
// checks, not pages.
func Accounts(ctx context.Context, c Conn) ([]Offering, error) {
	var out []Offering
	if err := c.Gorm(ctx).Select("id", "runway_account_id", "earned_account_id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("offering: read offerings: %w", db.TranslateError(err))
	}
	return out, nil
}

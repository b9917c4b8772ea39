// Package store holds the SQL of the keys package: the site_secrets
// table is read and written here and nowhere else, through GORM's query
// builder. Only the keys package can import it.
package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm/clause"

	"github.com/keepalive/keepalive/internal/db"
)

// Secret is a row of site_secrets: a named value, sealed by the keys
// package (or in clear, as earlier versions stored it).
type Secret struct {
	Name      string    `gorm:"primaryKey;column:name"`
	Value     []byte    `gorm:"column:value"`
	CreatedAt time.Time `gorm:"column:created_at"`
}

func (Secret) TableName() string { return "site_secrets" }

// Find returns the named secret; found is false when there is none.
func Find(ctx context.Context, d *db.DB, name string) (s Secret, found bool, err error) {
	var rows []Secret
	if err := d.Gorm(ctx).Where("name = ?", name).Limit(1).Find(&rows).Error; err != nil {
		return Secret{}, false, fmt.Errorf("keys: read %s: %w", name, db.TranslateError(err))
	}
	if len(rows) == 0 {
		return Secret{}, false, nil
	}
	return rows[0], true, nil
}

// InsertIfAbsent stores s unless a secret of that name exists: the first
// of several replicas starting together wins.
func InsertIfAbsent(ctx context.Context, d *db.DB, s Secret) error {
	err := d.Gorm(ctx).Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "name"}}, DoNothing: true}).Create(&s).Error
	if err != nil {
		return fmt.Errorf("keys: store %s: %w", s.Name, db.TranslateError(err))
	}
	return nil
}

// Replace sets the named secret's value to value if it still holds old,
// so that replicas racing to replace it do it once.
func Replace(ctx context.Context, d *db.DB, name string, old, value []byte) error {
	err := d.Gorm(ctx).Model(&Secret{}).Where("name = ? AND value = ?", name, old).Update("value", value).Error
	if err != nil {
		return fmt.Errorf("keys: replace %s: %w", name, db.TranslateError(err))
	}
	return nil
}

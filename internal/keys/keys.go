// Package keys owns the secrets the site makes for itself and keeps in
// the database, so that every replica and every restart uses the same
// ones: the key that signs session cookies, and the key that signs status
// tokens.
package keys

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"time"

	"gorm.io/gorm"

	"github.com/keepalive/keepalive/internal/db"
)

type secret struct {
	Name      string    `gorm:"primaryKey;column:name"`
	Value     []byte    `gorm:"column:value"`
	CreatedAt time.Time `gorm:"column:created_at"`
}

func (secret) TableName() string { return "site_secrets" }

// Secret returns the named secret, creating it with size random bytes the
// first time. Concurrent first calls from several replicas agree on one
// value: the first insert wins and everyone reads it back.
func Secret(ctx context.Context, d *db.DB, name string, size int, r io.Reader) ([]byte, error) {
	if r == nil {
		r = rand.Reader
	}
	var s secret
	err := d.Gorm(ctx).Where("name = ?", name).Take(&s).Error
	if err == nil {
		return s.Value, nil
	}
	if !errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("keys: read %s: %w", name, err)
	}
	v := make([]byte, size)
	if _, err := io.ReadFull(r, v); err != nil {
		return nil, fmt.Errorf("keys: generate %s: %w", name, err)
	}
	err = d.Gorm(ctx).Exec("INSERT INTO site_secrets (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
		name, v, time.Now().UTC()).Error
	if err != nil {
		return nil, fmt.Errorf("keys: store %s: %w", name, err)
	}
	if err := d.Gorm(ctx).Where("name = ?", name).Take(&s).Error; err != nil {
		return nil, fmt.Errorf("keys: read back %s: %w", name, err)
	}
	return s.Value, nil
}

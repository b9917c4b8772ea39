package db

import (
	"context"
	"database/sql"
	"strconv"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/callbacks"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"
	"gorm.io/gorm/migrator"
	"gorm.io/gorm/schema"

	// The pure-Go SQLite driver, registered as "sqlite". lnd's packages
	// (which the Lightning backend imports) register this same driver, so
	// the site uses it directly through the small dialector below rather
	// than a fork that would register the name a second time.
	_ "modernc.org/sqlite"
)

// sqliteDialector is the part of a GORM dialector the site needs for
// SQLite: the schema comes from SQL migrations, so there is no
// AutoMigrate support here.
type sqliteDialector struct{ dsn string }

var _ gorm.Dialector = sqliteDialector{}

func (sqliteDialector) Name() string { return "sqlite" }

func (d sqliteDialector) Initialize(db *gorm.DB) error {
	conn, err := sql.Open("sqlite", d.dsn)
	if err != nil {
		return err
	}
	db.ConnPool = conn
	var version string
	if err := conn.QueryRowContext(context.Background(), "SELECT sqlite_version()").Scan(&version); err != nil {
		return err
	}
	// RETURNING needs SQLite 3.35; the bundled one is far newer.
	callbacks.RegisterDefaultCallbacks(db, &callbacks.Config{
		CreateClauses:        []string{"INSERT", "VALUES", "ON CONFLICT", "RETURNING"},
		UpdateClauses:        []string{"UPDATE", "SET", "FROM", "WHERE", "RETURNING"},
		DeleteClauses:        []string{"DELETE", "FROM", "WHERE", "RETURNING"},
		LastInsertIDReversed: true,
	})
	db.ClauseBuilders["LIMIT"] = func(c clause.Clause, builder clause.Builder) {
		limit, ok := c.Expression.(clause.Limit)
		if !ok {
			return
		}
		n := -1 // SQLite needs a LIMIT before an OFFSET
		if limit.Limit != nil && *limit.Limit >= 0 {
			n = *limit.Limit
		}
		if n >= 0 || limit.Offset > 0 {
			builder.WriteString("LIMIT " + strconv.Itoa(n))
		}
		if limit.Offset > 0 {
			builder.WriteString(" OFFSET " + strconv.Itoa(limit.Offset))
		}
	}
	db.ClauseBuilders["FOR"] = func(c clause.Clause, builder clause.Builder) {
		if _, ok := c.Expression.(clause.Locking); ok {
			return // SQLite has no row locks; immediate transactions lock the file
		}
		c.Build(builder)
	}
	return nil
}

func (d sqliteDialector) Migrator(db *gorm.DB) gorm.Migrator {
	return migrator.Migrator{Config: migrator.Config{DB: db, Dialector: d}}
}

func (sqliteDialector) DataTypeOf(f *schema.Field) string {
	switch f.DataType {
	case schema.Bool:
		return "BOOLEAN"
	case schema.Int, schema.Uint:
		return "INTEGER"
	case schema.Float:
		return "REAL"
	case schema.Time:
		return "TIMESTAMP"
	case schema.Bytes:
		return "BLOB"
	}
	return "TEXT"
}

func (sqliteDialector) DefaultValueOf(f *schema.Field) clause.Expression {
	if f.AutoIncrement {
		return clause.Expr{SQL: "NULL"}
	}
	return clause.Expr{SQL: "DEFAULT"}
}

func (sqliteDialector) BindVarTo(w clause.Writer, _ *gorm.Statement, _ any) { w.WriteByte('?') }

// QuoteTo quotes an identifier, each part of a dotted name separately.
func (sqliteDialector) QuoteTo(w clause.Writer, str string) {
	for i, part := range strings.Split(str, ".") {
		if i > 0 {
			w.WriteByte('.')
		}
		if part == "*" {
			w.WriteByte('*')
			continue
		}
		w.WriteByte('`')
		w.WriteString(strings.ReplaceAll(part, "`", "``"))
		w.WriteByte('`')
	}
}

func (sqliteDialector) Explain(sql string, vars ...any) string {
	return logger.ExplainSQL(sql, nil, `"`, vars...)
}

func (sqliteDialector) SavePoint(tx *gorm.DB, name string) error {
	return tx.Exec("SAVEPOINT " + name).Error
}

func (sqliteDialector) RollbackTo(tx *gorm.DB, name string) error {
	return tx.Exec("ROLLBACK TO SAVEPOINT " + name).Error
}

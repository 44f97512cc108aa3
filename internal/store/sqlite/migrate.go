package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// migrationFiles holds the schema, one file per version: NNNN_description.sql.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// loadMigrations returns the embedded migrations in version order (see store.LoadMigrations).
func loadMigrations() ([]store.Migration, error) {
	return store.LoadMigrations(migrationFiles, "migrations")
}

// migrate applies the embedded migrations db has not applied yet, in version order, in one
// write transaction, and records each in schema_migrations. It returns how many it applied:
// zero for an up-to-date database. A database with a version this binary does not know (a
// newer tokenguard wrote it) is refused rather than used with a schema it does not expect.
func migrate(ctx context.Context, db *sql.DB) (applied int, err error) {
	migrations, err := loadMigrations()
	if err != nil {
		return 0, err
	}
	// db is the write pool: this is BEGIN IMMEDIATE, so two processes opening a new
	// database at the same time apply the migrations once.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("beginning migration transaction: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at TEXT    NOT NULL
	) STRICT`); err != nil {
		return 0, fmt.Errorf("creating schema_migrations: %w", err)
	}
	done, err := appliedVersions(ctx, tx)
	if err != nil {
		return 0, err
	}
	known := make(map[int]bool, len(migrations))
	for _, m := range migrations {
		known[m.Version] = true
	}
	for v := range done {
		if !known[v] {
			return 0, fmt.Errorf("database has schema version %d, which this tokenguard does not know: use a newer tokenguard", v)
		}
	}
	now := formatTime(time.Now())
	for _, m := range migrations {
		if done[m.Version] {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return 0, fmt.Errorf("applying %s: %w", m.Name, err)
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.Version, m.Name, now); err != nil {
			return 0, fmt.Errorf("recording %s: %w", m.Name, err)
		}
		applied++
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("committing migrations: %w", err)
	}
	return applied, nil
}

func appliedVersions(ctx context.Context, tx *sql.Tx) (map[int]bool, error) {
	rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("reading schema_migrations: %w", err)
	}
	// rows.Err below reports any failure of the read; Close only releases the cursor.
	defer func() { _ = rows.Close() }()
	done := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("reading schema_migrations: %w", err)
		}
		done[v] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading schema_migrations: %w", err)
	}
	return done, nil
}

package postgres

import (
	"context"
	"embed"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// migrationFiles holds the schema, one file per version: NNNN_description.sql.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLockKey is the pg_advisory_xact_lock key that serialises schema migrations
// across processes ("tokengrd" in ASCII). Advisory locks are per database, so two
// tokenguard schemas in one database share it; that only makes their migrations take turns.
const migrationLockKey int64 = 0x746f6b656e677264

// loadMigrations returns the embedded migrations in version order (see store.LoadMigrations).
func loadMigrations() ([]store.Migration, error) {
	return store.LoadMigrations(migrationFiles, "migrations")
}

// migrate applies the embedded migrations the database has not applied yet, in version
// order, in one transaction, and records each in schema_migrations. It returns how many it
// applied: zero for an up-to-date database.
//
// The transaction first takes a transaction-level advisory lock, so when several instances
// start at once one applies the migrations and the others wait for it, then find nothing to
// do. A database with a version this binary does not know (a newer tokenguard wrote it) is
// refused rather than used with a schema it does not expect.
func migrate(ctx context.Context, pool *pgxpool.Pool) (applied int, err error) {
	migrations, err := loadMigrations()
	if err != nil {
		return 0, err
	}
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return 0, fmt.Errorf("beginning migration transaction: %w", err)
	}
	defer func() {
		if err != nil {
			rollback(ctx, tx)
		}
	}()
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLockKey); err != nil {
		return 0, fmt.Errorf("taking the migration lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer     NOT NULL PRIMARY KEY,
		name       text        NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return 0, fmt.Errorf("creating schema_migrations (does the schema in search_path exist, and may this role create tables in it?): %w", err)
	}
	rows, err := tx.Query(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return 0, fmt.Errorf("reading schema_migrations: %w", err)
	}
	done, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return 0, fmt.Errorf("reading schema_migrations: %w", err)
	}
	known := make(map[int]bool, len(migrations))
	for _, m := range migrations {
		known[m.Version] = true
	}
	for _, v := range done {
		if !known[v] {
			return 0, fmt.Errorf("database has schema version %d, which this tokenguard does not know: use a newer tokenguard", v)
		}
	}
	for _, m := range migrations {
		if slices.Contains(done, m.Version) {
			continue
		}
		// No arguments: pgx sends this as a simple query, which may hold several statements.
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return 0, fmt.Errorf("applying %s: %w", m.Name, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.Version, m.Name); err != nil {
			return 0, fmt.Errorf("recording %s: %w", m.Name, err)
		}
		applied++
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("committing migrations: %w", err)
	}
	return applied, nil
}

package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ProbeWrite (store.Store) commits a write transaction that takes the write lock (the
// audit_head row, FOR UPDATE) and a transaction id, and changes no data: its commit record
// is written to the WAL and flushed like any mutation's. A server that is down or paused
// fails it within ctx (store.ErrUnavailable once stopped), a server in recovery (a standby)
// refuses the row lock, and a write lock held past lock_timeout fails it with store.ErrBusy.
func (s *Store) ProbeWrite(ctx context.Context) (err error) {
	defer func() { err = classify(err) }()
	conn, err := acquire(ctx, s.write)
	if err != nil {
		return fmt.Errorf("postgres: write probe: %w", err)
	}
	defer conn.Release()
	pgTx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted, AccessMode: pgx.ReadWrite})
	if err != nil {
		return fmt.Errorf("postgres: write probe: %w", err)
	}
	var locked bool
	if err := pgTx.QueryRow(ctx, "SELECT true FROM audit_head WHERE id FOR UPDATE").Scan(&locked); err != nil {
		rollback(ctx, pgTx)
		if errors.Is(err, pgx.ErrNoRows) {
			return errors.New("postgres: write probe: the audit_head row is missing (the schema is damaged; restore it from a backup)")
		}
		return fmt.Errorf("postgres: write probe: %w", err)
	}
	var xid int64
	if err := pgTx.QueryRow(ctx, "SELECT pg_current_xact_id()::text::bigint").Scan(&xid); err != nil {
		rollback(ctx, pgTx)
		return fmt.Errorf("postgres: write probe: %w", err)
	}
	if err := pgTx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: write probe: committing: %w", err)
	}
	return nil
}

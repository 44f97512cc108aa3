package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// PutIdempotency stores rec; store.ErrConflict when its key exists (the first record
// stays). The key is the table's primary key, so two instances racing with one key cannot
// both succeed. A conflict leaves the transaction usable.
func (x *tx) PutIdempotency(ctx context.Context, rec store.Idempotency) error {
	tag, err := x.q.Exec(ctx,
		`INSERT INTO idempotency (key, request_hash, status, response, created_at)
		 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
		rec.Key, bytesOrNull(rec.RequestHash), rec.Status, bytesOrNull(rec.Response), pgTime(rec.CreatedAt))
	if err != nil {
		return fmt.Errorf("postgres: storing idempotency record: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: storing idempotency record: key already used: %w", store.ErrConflict)
	}
	return nil
}

// idempotencyColumns lists the idempotency columns in the order scanIdempotency reads them.
const idempotencyColumns = "key, request_hash, status, response, created_at"

// scanIdempotency reads one row of idempotencyColumns.
func scanIdempotency(row pgx.Row) (store.Idempotency, error) {
	var rec store.Idempotency
	if err := row.Scan(&rec.Key, &rec.RequestHash, &rec.Status, &rec.Response, &rec.CreatedAt); err != nil {
		return store.Idempotency{}, err
	}
	rec.CreatedAt = rec.CreatedAt.UTC()
	return rec, nil
}

// GetIdempotency returns the record stored under key, or store.ErrNotFound.
func (x *tx) GetIdempotency(ctx context.Context, key string) (store.Idempotency, error) {
	rec, err := scanIdempotency(x.q.QueryRow(ctx,
		"SELECT "+idempotencyColumns+" FROM idempotency WHERE key = $1", key))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return store.Idempotency{}, fmt.Errorf("postgres: getting idempotency record: %w", store.ErrNotFound)
	case err != nil:
		return store.Idempotency{}, fmt.Errorf("postgres: getting idempotency record: %w", err)
	}
	return rec, nil
}

// ListIdempotency returns the records with keys greater than afterKey, in byte order of key
// (the column is COLLATE "C" since migration 0003), at most store.ClampLimit(limit) of them.
func (x *tx) ListIdempotency(ctx context.Context, afterKey string, limit int) ([]store.Idempotency, error) {
	rows, err := x.q.Query(ctx,
		"SELECT "+idempotencyColumns+" FROM idempotency WHERE key > $1 ORDER BY key LIMIT $2", afterKey, store.ClampLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("postgres: listing idempotency records: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Idempotency, error) { return scanIdempotency(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: listing idempotency records: %w", err)
	}
	return out, nil
}

// SetIdempotencyResponse replaces the stored response of key; store.ErrNotFound when no
// record has this key.
func (x *tx) SetIdempotencyResponse(ctx context.Context, key string, response []byte) error {
	tag, err := x.q.Exec(ctx, "UPDATE idempotency SET response = $2 WHERE key = $1", key, bytesOrNull(response))
	if err != nil {
		return fmt.Errorf("postgres: replacing an idempotent response: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: replacing an idempotent response: idempotency record %w", store.ErrNotFound)
	}
	return nil
}

// ReplaceIdempotency replaces the status and the response of key; store.ErrNotFound when no
// record has this key.
func (x *tx) ReplaceIdempotency(ctx context.Context, key string, status int, response []byte) error {
	tag, err := x.q.Exec(ctx, "UPDATE idempotency SET status = $2, response = $3 WHERE key = $1", key, status, bytesOrNull(response))
	if err != nil {
		return fmt.Errorf("postgres: replacing an idempotent answer: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: replacing an idempotent answer: idempotency record %w", store.ErrNotFound)
	}
	return nil
}

// PurgeIdempotency deletes the records created before before.
func (x *tx) PurgeIdempotency(ctx context.Context, before time.Time) (int, error) {
	tag, err := x.q.Exec(ctx, "DELETE FROM idempotency WHERE created_at < $1", pgTime(before))
	if err != nil {
		return 0, fmt.Errorf("postgres: purging idempotency records: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

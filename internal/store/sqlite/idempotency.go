package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// PutIdempotency stores rec; store.ErrConflict when its key exists (the first record stays).
func (x *tx) PutIdempotency(ctx context.Context, rec store.Idempotency) error {
	var e encoder
	created := e.time("created_at", rec.CreatedAt)
	if e.err != nil {
		return fmt.Errorf("sqlite: storing idempotency record: %w", e.err)
	}
	_, err := x.q.ExecContext(ctx,
		"INSERT INTO idempotency (key, request_hash, status, response, created_at) VALUES (?, ?, ?, ?, ?)",
		rec.Key, blob(rec.RequestHash), rec.Status, blob(rec.Response), created)
	if err != nil {
		if isUniqueViolation(err) {
			return fmt.Errorf("sqlite: storing idempotency record: key already used: %w", store.ErrConflict)
		}
		return fmt.Errorf("sqlite: storing idempotency record: %w", err)
	}
	return nil
}

// idempotencyColumns lists the idempotency columns in the order scanIdempotency reads them.
const idempotencyColumns = "key, request_hash, status, response, created_at"

// scanIdempotency reads one row of idempotencyColumns.
func scanIdempotency(r rowScanner) (store.Idempotency, error) {
	var (
		rec     store.Idempotency
		created string
	)
	if err := r.Scan(&rec.Key, &rec.RequestHash, &rec.Status, &rec.Response, &created); err != nil {
		return store.Idempotency{}, err
	}
	var d decoder
	rec.CreatedAt = d.time("created_at", created)
	if d.err != nil {
		return store.Idempotency{}, d.err
	}
	return rec, nil
}

// GetIdempotency returns the record stored under key, or store.ErrNotFound.
func (x *tx) GetIdempotency(ctx context.Context, key string) (store.Idempotency, error) {
	rec, err := scanIdempotency(x.q.QueryRowContext(ctx,
		"SELECT "+idempotencyColumns+" FROM idempotency WHERE key = ?", key))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.Idempotency{}, fmt.Errorf("sqlite: getting idempotency record: %w", store.ErrNotFound)
	case err != nil:
		return store.Idempotency{}, fmt.Errorf("sqlite: getting idempotency record: %w", err)
	}
	return rec, nil
}

// ListIdempotency returns the records with keys greater than afterKey, in byte order of key
// (SQLite compares TEXT with memcmp), at most store.ClampLimit(limit) of them.
func (x *tx) ListIdempotency(ctx context.Context, afterKey string, limit int) ([]store.Idempotency, error) {
	return listRows(ctx, x, "listing idempotency records", scanIdempotency,
		"SELECT "+idempotencyColumns+" FROM idempotency WHERE key > ? ORDER BY key LIMIT ?", afterKey, store.ClampLimit(limit))
}

// SetIdempotencyResponse replaces the stored response of key; store.ErrNotFound when no
// record has this key.
func (x *tx) SetIdempotencyResponse(ctx context.Context, key string, response []byte) error {
	res, err := x.q.ExecContext(ctx, "UPDATE idempotency SET response = ? WHERE key = ?", blob(response), key)
	if err != nil {
		return fmt.Errorf("sqlite: replacing an idempotent response: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlite: replacing an idempotent response: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("sqlite: replacing an idempotent response: idempotency record %w", store.ErrNotFound)
	}
	return nil
}

// ReplaceIdempotency replaces the status and the response of key; store.ErrNotFound when no
// record has this key.
func (x *tx) ReplaceIdempotency(ctx context.Context, key string, status int, response []byte) error {
	res, err := x.q.ExecContext(ctx, "UPDATE idempotency SET status = ?, response = ? WHERE key = ?", status, blob(response), key)
	if err != nil {
		return fmt.Errorf("sqlite: replacing an idempotent answer: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlite: replacing an idempotent answer: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("sqlite: replacing an idempotent answer: idempotency record %w", store.ErrNotFound)
	}
	return nil
}

// PurgeIdempotency deletes the records created before before. created_at is stored in
// formatTime's fixed-width UTC form, so text order is time order.
func (x *tx) PurgeIdempotency(ctx context.Context, before time.Time) (int, error) {
	var e encoder
	ts := e.time("before", before)
	if e.err != nil {
		return 0, fmt.Errorf("sqlite: purging idempotency records: %w", e.err)
	}
	res, err := x.q.ExecContext(ctx, "DELETE FROM idempotency WHERE created_at < ?", ts)
	if err != nil {
		return 0, fmt.Errorf("sqlite: purging idempotency records: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: purging idempotency records: %w", err)
	}
	return int(n), nil
}

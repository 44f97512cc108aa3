package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// deletionColumns lists the deletion_requests columns in the order scanDeletion reads them.
const deletionColumns = `id, subject_index, subject_cipher, categories, requested_by, requested_at,
	completed_at, retain_until, revoked_token_ids, notified_token_ids, reference`

func scanDeletion(row pgx.Row) (store.DeletionRequest, error) {
	var (
		d                        store.DeletionRequest
		requestedAt, retainUntil time.Time
		completedAt              *time.Time
	)
	if err := row.Scan(&d.ID, &d.SubjectIndex, &d.SubjectCipher, &d.Categories, &d.RequestedBy, &requestedAt,
		&completedAt, &retainUntil, &d.RevokedTokenIDs, &d.NotifiedTokenIDs, &d.Reference); err != nil {
		return store.DeletionRequest{}, err
	}
	d.RequestedAt = requestedAt.UTC()
	d.CompletedAt = utc(completedAt)
	d.RetainUntil = retainUntil.UTC()
	return d, nil
}

// InsertDeletionRequest adds d; store.ErrConflict when its id exists. A conflict leaves the
// transaction usable.
func (x *tx) InsertDeletionRequest(ctx context.Context, d store.DeletionRequest) error {
	tag, err := x.q.Exec(ctx, "INSERT INTO deletion_requests ("+deletionColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING`,
		d.ID, d.SubjectIndex, bytesOrNull(d.SubjectCipher), textArray(d.Categories), d.RequestedBy,
		pgTime(d.RequestedAt), optPGTime(d.CompletedAt), pgTime(d.RetainUntil),
		textArray(d.RevokedTokenIDs), textArray(d.NotifiedTokenIDs), d.Reference)
	if err != nil {
		return fmt.Errorf("postgres: inserting deletion request %q: %w", d.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: inserting deletion request %q: a deletion request with this id exists: %w", d.ID, store.ErrConflict)
	}
	return nil
}

// SetDeletionSubjectCipher replaces the encrypted subject of deletion request id;
// store.ErrNotFound when there is none.
func (x *tx) SetDeletionSubjectCipher(ctx context.Context, id string, cipher []byte) error {
	tag, err := x.q.Exec(ctx, "UPDATE deletion_requests SET subject_cipher = $2 WHERE id = $1", id, bytesOrNull(cipher))
	if err != nil {
		return fmt.Errorf("postgres: replacing the subject of deletion request %q: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: replacing the subject of deletion request %q: deletion request %w", id, store.ErrNotFound)
	}
	return nil
}

// GetDeletionRequest returns the deletion request with this id, or store.ErrNotFound.
func (x *tx) GetDeletionRequest(ctx context.Context, id string) (store.DeletionRequest, error) {
	d, err := scanDeletion(x.q.QueryRow(ctx, "SELECT "+deletionColumns+" FROM deletion_requests WHERE id = $1", id))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return store.DeletionRequest{}, fmt.Errorf("postgres: getting deletion request %q: deletion request %w", id, store.ErrNotFound)
	case err != nil:
		return store.DeletionRequest{}, fmt.Errorf("postgres: getting deletion request %q: %w", id, err)
	}
	return d, nil
}

// ListDeletionRequests returns the deletion requests with ids greater than afterID, in byte
// order of id, at most store.ClampLimit(limit) of them.
func (x *tx) ListDeletionRequests(ctx context.Context, afterID string, limit int) ([]store.DeletionRequest, error) {
	rows, err := x.q.Query(ctx,
		"SELECT "+deletionColumns+" FROM deletion_requests WHERE id > $1 ORDER BY id LIMIT $2", afterID, store.ClampLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("postgres: listing deletion requests: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.DeletionRequest, error) { return scanDeletion(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: listing deletion requests: %w", err)
	}
	return out, nil
}

// IsSubjectErased reports whether a deletion request names the subject with this blind index.
func (x *tx) IsSubjectErased(ctx context.Context, subjectIndex string) (bool, error) {
	var erased bool
	if err := x.q.QueryRow(ctx,
		"SELECT EXISTS (SELECT 1 FROM deletion_requests WHERE subject_index = $1)", subjectIndex).Scan(&erased); err != nil {
		return false, fmt.Errorf("postgres: looking up deletion requests of a subject: %w", err)
	}
	return erased, nil
}

// PurgeDeletionRequests deletes the deletion requests retained until an instant before
// before, and returns how many.
func (x *tx) PurgeDeletionRequests(ctx context.Context, before time.Time) (int, error) {
	tag, err := x.q.Exec(ctx, "DELETE FROM deletion_requests WHERE retain_until < $1", pgTime(before))
	if err != nil {
		return 0, fmt.Errorf("postgres: purging deletion requests: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

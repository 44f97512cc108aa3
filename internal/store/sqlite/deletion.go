package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// deletionColumns lists the deletion_requests columns in the order scanDeletion reads them.
const deletionColumns = `id, subject_index, subject_cipher, categories, requested_by, requested_at,
	completed_at, retain_until, revoked_token_ids, notified_token_ids, reference`

func scanDeletion(r rowScanner) (store.DeletionRequest, error) {
	var (
		d                             store.DeletionRequest
		categories, revoked, notified string
		requestedAt, retainUntil      string
		completedAt                   sql.NullString
	)
	if err := r.Scan(&d.ID, &d.SubjectIndex, &d.SubjectCipher, &categories, &d.RequestedBy, &requestedAt,
		&completedAt, &retainUntil, &revoked, &notified, &d.Reference); err != nil {
		return store.DeletionRequest{}, err
	}
	var dec decoder
	d.Categories = dec.strings("categories", categories)
	d.RequestedAt = dec.time("requested_at", requestedAt)
	d.CompletedAt = dec.optTime("completed_at", completedAt)
	d.RetainUntil = dec.time("retain_until", retainUntil)
	d.RevokedTokenIDs = dec.strings("revoked_token_ids", revoked)
	d.NotifiedTokenIDs = dec.strings("notified_token_ids", notified)
	if dec.err != nil {
		return store.DeletionRequest{}, fmt.Errorf("deletion request %q: %w", d.ID, dec.err)
	}
	return d, nil
}

// InsertDeletionRequest adds d; store.ErrConflict when its id exists.
func (x *tx) InsertDeletionRequest(ctx context.Context, d store.DeletionRequest) error {
	var e encoder
	args := []any{d.ID, d.SubjectIndex, blob(d.SubjectCipher), e.json("categories", d.Categories), d.RequestedBy,
		e.time("requested_at", d.RequestedAt), e.optTime("completed_at", d.CompletedAt),
		e.time("retain_until", d.RetainUntil), e.json("revoked_token_ids", d.RevokedTokenIDs),
		e.json("notified_token_ids", d.NotifiedTokenIDs), d.Reference}
	if e.err != nil {
		return fmt.Errorf("sqlite: inserting deletion request %q: %w", d.ID, e.err)
	}
	_, err := x.q.ExecContext(ctx,
		"INSERT INTO deletion_requests ("+deletionColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", args...)
	if err != nil {
		if isUniqueViolation(err) {
			return fmt.Errorf("sqlite: inserting deletion request %q: a deletion request with this id exists: %w", d.ID, store.ErrConflict)
		}
		return fmt.Errorf("sqlite: inserting deletion request %q: %w", d.ID, err)
	}
	return nil
}

// SetDeletionSubjectCipher replaces the encrypted subject of deletion request id;
// store.ErrNotFound when there is none.
func (x *tx) SetDeletionSubjectCipher(ctx context.Context, id string, cipher []byte) error {
	res, err := x.q.ExecContext(ctx, "UPDATE deletion_requests SET subject_cipher = ? WHERE id = ?", blob(cipher), id)
	if err != nil {
		return fmt.Errorf("sqlite: replacing the subject of deletion request %q: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlite: replacing the subject of deletion request %q: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlite: replacing the subject of deletion request %q: deletion request %w", id, store.ErrNotFound)
	}
	return nil
}

// GetDeletionRequest returns the deletion request with this id, or store.ErrNotFound.
func (x *tx) GetDeletionRequest(ctx context.Context, id string) (store.DeletionRequest, error) {
	d, err := scanDeletion(x.q.QueryRowContext(ctx, "SELECT "+deletionColumns+" FROM deletion_requests WHERE id = ?", id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.DeletionRequest{}, fmt.Errorf("sqlite: getting deletion request %q: deletion request %w", id, store.ErrNotFound)
	case err != nil:
		return store.DeletionRequest{}, fmt.Errorf("sqlite: getting deletion request %q: %w", id, err)
	}
	return d, nil
}

// ListDeletionRequests returns the deletion requests with ids greater than afterID, in id
// order, at most store.ClampLimit(limit) of them.
func (x *tx) ListDeletionRequests(ctx context.Context, afterID string, limit int) ([]store.DeletionRequest, error) {
	return listRows(ctx, x, "listing deletion requests", scanDeletion,
		"SELECT "+deletionColumns+" FROM deletion_requests WHERE id > ? ORDER BY id LIMIT ?", afterID, store.ClampLimit(limit))
}

// IsSubjectErased reports whether a deletion request names the subject with this blind index.
func (x *tx) IsSubjectErased(ctx context.Context, subjectIndex string) (bool, error) {
	var erased bool
	if err := x.q.QueryRowContext(ctx,
		"SELECT EXISTS (SELECT 1 FROM deletion_requests WHERE subject_index = ?)", subjectIndex).Scan(&erased); err != nil {
		return false, fmt.Errorf("sqlite: looking up deletion requests of a subject: %w", err)
	}
	return erased, nil
}

// PurgeDeletionRequests deletes the deletion requests retained until an instant before
// before, and returns how many.
func (x *tx) PurgeDeletionRequests(ctx context.Context, before time.Time) (int, error) {
	var e encoder
	ts := e.time("before", before)
	if e.err != nil {
		return 0, fmt.Errorf("sqlite: purging deletion requests: %w", e.err)
	}
	res, err := x.q.ExecContext(ctx, "DELETE FROM deletion_requests WHERE retain_until < ?", ts)
	if err != nil {
		return 0, fmt.Errorf("sqlite: purging deletion requests: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: purging deletion requests: %w", err)
	}
	return int(n), nil
}

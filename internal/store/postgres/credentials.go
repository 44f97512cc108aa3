package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// InsertCredential adds c; store.ErrConflict when its id or secret hash exists. A conflict
// leaves the transaction usable.
func (x *tx) InsertCredential(ctx context.Context, c store.Credential) error {
	if len(c.SecretHash) == 0 {
		return fmt.Errorf("postgres: inserting credential %q: secret hash is empty", c.ID)
	}
	tag, err := x.q.Exec(ctx,
		`INSERT INTO credentials (id, name, secret_hash, rights, created_at, revoked_at)
		 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
		c.ID, c.Name, c.SecretHash, textArray(c.Rights), pgTime(c.CreatedAt), optPGTime(c.RevokedAt))
	if err != nil {
		return fmt.Errorf("postgres: inserting credential %q: %w", c.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: inserting credential %q: a credential with this id or secret exists: %w", c.ID, store.ErrConflict)
	}
	return nil
}

// credentialColumns lists the credentials columns in the order scanCredential reads them.
const credentialColumns = "id, name, secret_hash, rights, created_at, revoked_at"

// scanCredential reads one row of credentialColumns.
func scanCredential(row pgx.Row) (store.Credential, error) {
	var (
		c         store.Credential
		revokedAt *time.Time
	)
	if err := row.Scan(&c.ID, &c.Name, &c.SecretHash, &c.Rights, &c.CreatedAt, &revokedAt); err != nil {
		return store.Credential{}, err
	}
	c.CreatedAt = c.CreatedAt.UTC()
	c.RevokedAt = utc(revokedAt)
	return c, nil
}

// GetCredentialByHash returns the credential whose secret hash is hash, revoked or not.
func (x *tx) GetCredentialByHash(ctx context.Context, hash []byte) (store.Credential, error) {
	c, err := scanCredential(x.q.QueryRow(ctx,
		"SELECT "+credentialColumns+" FROM credentials WHERE secret_hash = $1", hash))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return store.Credential{}, fmt.Errorf("postgres: getting credential by secret hash: credential %w", store.ErrNotFound)
	case err != nil:
		return store.Credential{}, fmt.Errorf("postgres: getting credential by secret hash: %w", err)
	}
	return c, nil
}

// RevokeCredential sets the revocation instant of credential id to at unless it is revoked
// already, and returns the credential as stored afterwards and whether it was active before.
// store.ErrNotFound when there is no such credential. The UPDATE locks the row, so of two
// instances revoking one credential at once exactly one reports it was active.
func (x *tx) RevokeCredential(ctx context.Context, id string, at time.Time) (store.Credential, bool, error) {
	tag, err := x.q.Exec(ctx,
		"UPDATE credentials SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL", id, pgTime(at))
	if err != nil {
		return store.Credential{}, false, fmt.Errorf("postgres: revoking credential %q: %w", id, err)
	}
	c, err := scanCredential(x.q.QueryRow(ctx, "SELECT "+credentialColumns+" FROM credentials WHERE id = $1", id))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return store.Credential{}, false, fmt.Errorf("postgres: revoking credential %q: credential %w", id, store.ErrNotFound)
	case err != nil:
		return store.Credential{}, false, fmt.Errorf("postgres: revoking credential %q: %w", id, err)
	}
	return c, tag.RowsAffected() > 0, nil
}

// CountCredentials returns how many credentials exist, revoked ones included.
func (x *tx) CountCredentials(ctx context.Context) (int, error) {
	var n int
	if err := x.q.QueryRow(ctx, "SELECT count(*) FROM credentials").Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: counting credentials: %w", err)
	}
	return n, nil
}

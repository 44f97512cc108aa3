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
		`INSERT INTO credentials (`+credentialColumns+`)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING`,
		c.ID, c.Name, c.SecretHash, textArray(c.Rights), c.OwnerIndex, bytesOrNull(c.OwnerCipher), pgTime(c.CreatedAt),
		optPGTime(c.RevokedAt), optPGTime(c.RotatedAt), bytesOrNull(c.PrevSecretHash), optPGTime(c.PrevValidUntil), c.GrantMAC)
	if err != nil {
		return fmt.Errorf("postgres: inserting credential %q: %w", c.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: inserting credential %q: a credential with this id or secret exists: %w", c.ID, store.ErrConflict)
	}
	return nil
}

// credentialColumns lists the credentials columns in the order scanCredential reads them.
const credentialColumns = "id, name, secret_hash, rights, owner_index, owner_cipher, created_at, revoked_at, rotated_at, prev_secret_hash, prev_valid_until, grant_mac"

// scanCredential reads one row of credentialColumns.
func scanCredential(row pgx.Row) (store.Credential, error) {
	var (
		c                                    store.Credential
		revokedAt, rotatedAt, prevValidUntil *time.Time
	)
	if err := row.Scan(&c.ID, &c.Name, &c.SecretHash, &c.Rights, &c.OwnerIndex, &c.OwnerCipher, &c.CreatedAt, &revokedAt,
		&rotatedAt, &c.PrevSecretHash, &prevValidUntil, &c.GrantMAC); err != nil {
		return store.Credential{}, err
	}
	c.CreatedAt = c.CreatedAt.UTC()
	c.RevokedAt = utc(revokedAt)
	c.RotatedAt = utc(rotatedAt)
	c.PrevValidUntil = utc(prevValidUntil)
	return c, nil
}

// GetCredentialByHash returns the credential whose current or previous secret hash is hash
// (a current match first), revoked or not.
func (x *tx) GetCredentialByHash(ctx context.Context, hash []byte) (store.Credential, error) {
	c, err := scanCredential(x.q.QueryRow(ctx,
		"SELECT "+credentialColumns+` FROM credentials WHERE id = coalesce(
			(SELECT id FROM credentials WHERE secret_hash = $1),
			(SELECT id FROM credentials WHERE prev_secret_hash = $1))`, hash))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return store.Credential{}, fmt.Errorf("postgres: getting credential by secret hash: credential %w", store.ErrNotFound)
	case err != nil:
		return store.Credential{}, fmt.Errorf("postgres: getting credential by secret hash: %w", err)
	}
	return c, nil
}

// GetCredential returns the credential with this id, or store.ErrNotFound.
func (x *tx) GetCredential(ctx context.Context, id string) (store.Credential, error) {
	c, err := scanCredential(x.q.QueryRow(ctx, "SELECT "+credentialColumns+" FROM credentials WHERE id = $1", id))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return store.Credential{}, fmt.Errorf("postgres: getting credential %q: credential %w", id, store.ErrNotFound)
	case err != nil:
		return store.Credential{}, fmt.Errorf("postgres: getting credential %q: %w", id, err)
	}
	return c, nil
}

// ListCredentials returns up to limit credentials with ids after afterID, in byte order of id.
func (x *tx) ListCredentials(ctx context.Context, afterID string, limit int) ([]store.Credential, error) {
	rows, err := x.q.Query(ctx, "SELECT "+credentialColumns+` FROM credentials WHERE id COLLATE "C" > $1 ORDER BY id COLLATE "C" LIMIT $2`,
		afterID, store.ClampLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("postgres: listing credentials: %w", err)
	}
	defer rows.Close()
	var out []store.Credential
	for rows.Next() {
		c, err := scanCredential(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: listing credentials: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: listing credentials: %w", err)
	}
	return out, nil
}

// RotateCredential makes newHash the secret hash of credential id; the current one becomes
// the previous one, valid until prevValidUntil. A conflict leaves the transaction usable.
func (x *tx) RotateCredential(ctx context.Context, id string, newHash []byte, prevValidUntil, at time.Time, grantMAC string) (store.Credential, error) {
	if len(newHash) == 0 {
		return store.Credential{}, fmt.Errorf("postgres: rotating credential %q: secret hash is empty", id)
	}
	var taken bool
	if err := x.q.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM credentials WHERE secret_hash = $1 OR prev_secret_hash = $1)", newHash).Scan(&taken); err != nil {
		return store.Credential{}, fmt.Errorf("postgres: rotating credential %q: %w", id, err)
	}
	if taken {
		return store.Credential{}, fmt.Errorf("postgres: rotating credential %q: another credential has this secret: %w", id, store.ErrConflict)
	}
	tag, err := x.q.Exec(ctx, `UPDATE credentials SET prev_secret_hash = secret_hash, secret_hash = $2,
		prev_valid_until = $3, rotated_at = $4, grant_mac = $5 WHERE id = $1`, id, newHash, pgTime(prevValidUntil), pgTime(at), grantMAC)
	if err != nil {
		return store.Credential{}, fmt.Errorf("postgres: rotating credential %q: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return store.Credential{}, fmt.Errorf("postgres: rotating credential %q: credential %w", id, store.ErrNotFound)
	}
	return x.GetCredential(ctx, id)
}

// SetCredentialOwnerCipher replaces the encrypted owner of credential id.
func (x *tx) SetCredentialOwnerCipher(ctx context.Context, id string, cipher []byte) error {
	tag, err := x.q.Exec(ctx, "UPDATE credentials SET owner_cipher = $2 WHERE id = $1", id, bytesOrNull(cipher))
	if err != nil {
		return fmt.Errorf("postgres: setting the owner of credential %q: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: setting the owner of credential %q: credential %w", id, store.ErrNotFound)
	}
	return nil
}

// SetCredentialGrantMAC replaces the grant MAC of credential id.
func (x *tx) SetCredentialGrantMAC(ctx context.Context, id, grantMAC string) error {
	tag, err := x.q.Exec(ctx, "UPDATE credentials SET grant_mac = $2 WHERE id = $1", id, grantMAC)
	if err != nil {
		return fmt.Errorf("postgres: setting the grant MAC of credential %q: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: setting the grant MAC of credential %q: credential %w", id, store.ErrNotFound)
	}
	return nil
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

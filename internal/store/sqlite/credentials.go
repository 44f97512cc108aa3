package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// InsertCredential adds c; store.ErrConflict when its id or secret hash exists.
func (x *tx) InsertCredential(ctx context.Context, c store.Credential) error {
	var e encoder
	args := []any{c.ID, c.Name, blob(c.SecretHash), e.json("rights", c.Rights), c.OwnerIndex, blob(c.OwnerCipher),
		e.time("created_at", c.CreatedAt), e.optTime("revoked_at", c.RevokedAt), e.optTime("rotated_at", c.RotatedAt),
		blob(c.PrevSecretHash), e.optTime("prev_valid_until", c.PrevValidUntil), c.GrantMAC}
	if e.err != nil {
		return fmt.Errorf("sqlite: inserting credential %q: %w", c.ID, e.err)
	}
	if len(c.SecretHash) == 0 {
		return fmt.Errorf("sqlite: inserting credential %q: secret hash is empty", c.ID)
	}
	_, err := x.q.ExecContext(ctx,
		"INSERT INTO credentials ("+credentialColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		args...)
	if err != nil {
		if isUniqueViolation(err) {
			return fmt.Errorf("sqlite: inserting credential %q: a credential with this id or secret exists: %w", c.ID, store.ErrConflict)
		}
		return fmt.Errorf("sqlite: inserting credential %q: %w", c.ID, err)
	}
	return nil
}

// credentialColumns lists the credentials columns in the order scanCredential reads them.
const credentialColumns = "id, name, secret_hash, rights, owner_index, owner_cipher, created_at, revoked_at, rotated_at, prev_secret_hash, prev_valid_until, grant_mac"

// scanCredential reads one row of credentialColumns.
func scanCredential(r rowScanner) (store.Credential, error) {
	var (
		c                                    store.Credential
		rights, createdAt                    string
		revokedAt, rotatedAt, prevValidUntil sql.NullString
	)
	if err := r.Scan(&c.ID, &c.Name, &c.SecretHash, &rights, &c.OwnerIndex, &c.OwnerCipher, &createdAt, &revokedAt,
		&rotatedAt, &c.PrevSecretHash, &prevValidUntil, &c.GrantMAC); err != nil {
		return store.Credential{}, err
	}
	var d decoder
	c.Rights = d.strings("rights", rights)
	c.CreatedAt = d.time("created_at", createdAt)
	c.RevokedAt = d.optTime("revoked_at", revokedAt)
	c.RotatedAt = d.optTime("rotated_at", rotatedAt)
	c.PrevValidUntil = d.optTime("prev_valid_until", prevValidUntil)
	if d.err != nil {
		return store.Credential{}, fmt.Errorf("credential %q: %w", c.ID, d.err)
	}
	return c, nil
}

// GetCredentialByHash returns the credential whose current or previous secret hash is hash
// (a current match first), revoked or not.
func (x *tx) GetCredentialByHash(ctx context.Context, hash []byte) (store.Credential, error) {
	var row *sql.Row
	if st := x.prepared(ctx, x.hot.getCredentialByHash); st != nil {
		row = st.QueryRowContext(ctx, hash)
	} else {
		row = x.q.QueryRowContext(ctx, getCredentialByHashQuery, hash)
	}
	c, err := scanCredential(row)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.Credential{}, fmt.Errorf("sqlite: getting credential by secret hash: credential %w", store.ErrNotFound)
	case err != nil:
		return store.Credential{}, fmt.Errorf("sqlite: getting credential by secret hash: %w", err)
	}
	return c, nil
}

// getCredentialByHashQuery is GetCredentialByHash's query (prepared once on the read pool):
// the current hash first, then the previous one, each by its unique index.
const getCredentialByHashQuery = "SELECT " + credentialColumns + " FROM credentials WHERE id = coalesce(" +
	"(SELECT id FROM credentials WHERE secret_hash = ?1), (SELECT id FROM credentials WHERE prev_secret_hash = ?1))"

// GetCredential returns the credential with this id, or store.ErrNotFound.
func (x *tx) GetCredential(ctx context.Context, id string) (store.Credential, error) {
	c, err := scanCredential(x.q.QueryRowContext(ctx, "SELECT "+credentialColumns+" FROM credentials WHERE id = ?", id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.Credential{}, fmt.Errorf("sqlite: getting credential %q: credential %w", id, store.ErrNotFound)
	case err != nil:
		return store.Credential{}, fmt.Errorf("sqlite: getting credential %q: %w", id, err)
	}
	return c, nil
}

// ListCredentials returns up to limit credentials with ids after afterID, in byte order of id.
func (x *tx) ListCredentials(ctx context.Context, afterID string, limit int) ([]store.Credential, error) {
	return listRows(ctx, x, "listing credentials", scanCredential,
		"SELECT "+credentialColumns+" FROM credentials WHERE id > ? ORDER BY id LIMIT ?", afterID, store.ClampLimit(limit))
}

// RotateCredential makes newHash the secret hash of credential id; the current one becomes
// the previous one, valid until prevValidUntil.
func (x *tx) RotateCredential(ctx context.Context, id string, newHash []byte, prevValidUntil, at time.Time, grantMAC string) (store.Credential, error) {
	if len(newHash) == 0 {
		return store.Credential{}, fmt.Errorf("sqlite: rotating credential %q: secret hash is empty", id)
	}
	var e encoder
	until, rotated := e.time("prev_valid_until", prevValidUntil), e.time("rotated_at", at)
	if e.err != nil {
		return store.Credential{}, fmt.Errorf("sqlite: rotating credential %q: %w", id, e.err)
	}
	var taken bool
	if err := x.q.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM credentials WHERE secret_hash = ?1 OR prev_secret_hash = ?1)", newHash).Scan(&taken); err != nil {
		return store.Credential{}, fmt.Errorf("sqlite: rotating credential %q: %w", id, err)
	}
	if taken {
		return store.Credential{}, fmt.Errorf("sqlite: rotating credential %q: another credential has this secret: %w", id, store.ErrConflict)
	}
	res, err := x.q.ExecContext(ctx, `UPDATE credentials SET prev_secret_hash = secret_hash, secret_hash = ?,
		prev_valid_until = ?, rotated_at = ?, grant_mac = ? WHERE id = ?`, newHash, until, rotated, grantMAC, id)
	if err != nil {
		if isUniqueViolation(err) {
			return store.Credential{}, fmt.Errorf("sqlite: rotating credential %q: another credential has this secret: %w", id, store.ErrConflict)
		}
		return store.Credential{}, fmt.Errorf("sqlite: rotating credential %q: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return store.Credential{}, fmt.Errorf("sqlite: rotating credential %q: %w", id, err)
	} else if n == 0 {
		return store.Credential{}, fmt.Errorf("sqlite: rotating credential %q: credential %w", id, store.ErrNotFound)
	}
	return x.GetCredential(ctx, id)
}

// SetCredentialOwnerCipher replaces the encrypted owner of credential id.
func (x *tx) SetCredentialOwnerCipher(ctx context.Context, id string, cipher []byte) error {
	res, err := x.q.ExecContext(ctx, "UPDATE credentials SET owner_cipher = ? WHERE id = ?", blob(cipher), id)
	if err != nil {
		return fmt.Errorf("sqlite: setting the owner of credential %q: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: setting the owner of credential %q: %w", id, err)
	} else if n == 0 {
		return fmt.Errorf("sqlite: setting the owner of credential %q: credential %w", id, store.ErrNotFound)
	}
	return nil
}

// SetCredentialGrantMAC replaces the grant MAC of credential id.
func (x *tx) SetCredentialGrantMAC(ctx context.Context, id, grantMAC string) error {
	res, err := x.q.ExecContext(ctx, "UPDATE credentials SET grant_mac = ? WHERE id = ?", grantMAC, id)
	if err != nil {
		return fmt.Errorf("sqlite: setting the grant MAC of credential %q: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: setting the grant MAC of credential %q: %w", id, err)
	} else if n == 0 {
		return fmt.Errorf("sqlite: setting the grant MAC of credential %q: credential %w", id, store.ErrNotFound)
	}
	return nil
}

// RevokeCredential sets the revocation instant of credential id to at unless it is revoked
// already, and returns the credential as stored afterwards and whether it was active before.
// store.ErrNotFound when there is no such credential.
func (x *tx) RevokeCredential(ctx context.Context, id string, at time.Time) (store.Credential, bool, error) {
	var e encoder
	ts := e.time("revoked_at", at)
	if e.err != nil {
		return store.Credential{}, false, fmt.Errorf("sqlite: revoking credential %q: %w", id, e.err)
	}
	res, err := x.q.ExecContext(ctx,
		"UPDATE credentials SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", ts, id)
	if err != nil {
		return store.Credential{}, false, fmt.Errorf("sqlite: revoking credential %q: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return store.Credential{}, false, fmt.Errorf("sqlite: revoking credential %q: %w", id, err)
	}
	c, err := scanCredential(x.q.QueryRowContext(ctx, "SELECT "+credentialColumns+" FROM credentials WHERE id = ?", id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.Credential{}, false, fmt.Errorf("sqlite: revoking credential %q: credential %w", id, store.ErrNotFound)
	case err != nil:
		return store.Credential{}, false, fmt.Errorf("sqlite: revoking credential %q: %w", id, err)
	}
	return c, n > 0, nil
}

// CountCredentials returns how many credentials exist, revoked ones included.
func (x *tx) CountCredentials(ctx context.Context) (int, error) {
	var n int
	if err := x.q.QueryRowContext(ctx, "SELECT count(*) FROM credentials").Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: counting credentials: %w", err)
	}
	return n, nil
}

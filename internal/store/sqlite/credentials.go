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
	args := []any{c.ID, c.Name, blob(c.SecretHash), e.json("rights", c.Rights),
		e.time("created_at", c.CreatedAt), e.optTime("revoked_at", c.RevokedAt)}
	if e.err != nil {
		return fmt.Errorf("sqlite: inserting credential %q: %w", c.ID, e.err)
	}
	if len(c.SecretHash) == 0 {
		return fmt.Errorf("sqlite: inserting credential %q: secret hash is empty", c.ID)
	}
	_, err := x.q.ExecContext(ctx,
		"INSERT INTO credentials (id, name, secret_hash, rights, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?)",
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
const credentialColumns = "id, name, secret_hash, rights, created_at, revoked_at"

// scanCredential reads one row of credentialColumns.
func scanCredential(r rowScanner) (store.Credential, error) {
	var (
		c                 store.Credential
		rights, createdAt string
		revokedAt         sql.NullString
	)
	if err := r.Scan(&c.ID, &c.Name, &c.SecretHash, &rights, &createdAt, &revokedAt); err != nil {
		return store.Credential{}, err
	}
	var d decoder
	c.Rights = d.strings("rights", rights)
	c.CreatedAt = d.time("created_at", createdAt)
	c.RevokedAt = d.optTime("revoked_at", revokedAt)
	if d.err != nil {
		return store.Credential{}, fmt.Errorf("credential %q: %w", c.ID, d.err)
	}
	return c, nil
}

// GetCredentialByHash returns the credential whose secret hash is hash, revoked or not.
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

// getCredentialByHashQuery is GetCredentialByHash's query (prepared once on the read pool).
const getCredentialByHashQuery = "SELECT " + credentialColumns + " FROM credentials WHERE secret_hash = ?"

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

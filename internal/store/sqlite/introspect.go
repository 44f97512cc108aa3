package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// readForIntrospectionQuery reads the credential of ?1 and the token of ?2 (current secret
// first, then previous) as one row; the columns of what is not found are NULL. credentials
// .secret_hash is unique and the token is joined by its primary key, so there is exactly one
// row. coalesce evaluates its second lookup only when the first finds nothing.
const readForIntrospectionQuery = `SELECT c.id, c.rights, c.revoked_at,
	t.id, t.status, t.created_at, t.expires_at, t.owner_cipher, t.scopes, t.audiences,
	t.secret_hash, t.prev_secret_hash, t.prev_valid_until
FROM (SELECT 1) AS one
LEFT JOIN credentials AS c ON c.secret_hash = ?1
LEFT JOIN tokens AS t ON t.id = coalesce(
	(SELECT id FROM tokens WHERE secret_hash = ?2 LIMIT 1),
	(SELECT id FROM tokens WHERE prev_secret_hash = ?2 LIMIT 1))`

// ReadForIntrospection reads the credential whose secret hash is credentialHash and the
// token whose current or previous secret hash is tokenHash in one statement, prepared once
// on the read pool. A statement outside a transaction reads one snapshot of the last
// committed state, taken when it starts, so no BEGIN and ROLLBACK are needed.
func (s *Store) ReadForIntrospection(ctx context.Context, credentialHash, tokenHash []byte) (store.IntrospectionRead, error) {
	if len(credentialHash) == 0 || len(tokenHash) == 0 {
		return store.IntrospectionRead{}, errors.New("sqlite: reading for introspection: empty secret hash")
	}
	var (
		got                                store.IntrospectionRead
		credID, rights, credRevoked        sql.NullString
		tokID, status, tokCreated, expires sql.NullString
		scopes, audiences, prevValidUntil  sql.NullString
		c                                  = &got.Credential
		t                                  = &got.Token
	)
	err := s.hot.readForIntrospection.QueryRowContext(ctx, credentialHash, tokenHash).Scan(
		&credID, &rights, &credRevoked,
		&tokID, &status, &tokCreated, &expires, &t.OwnerCipher, &scopes, &audiences,
		&t.SecretHash, &t.PrevSecretHash, &prevValidUntil)
	if err != nil {
		return store.IntrospectionRead{}, fmt.Errorf("sqlite: reading for introspection: %w", err)
	}
	var d decoder
	if credID.Valid {
		got.CredentialFound = true
		c.ID = credID.String
		c.Rights = d.strings("rights", rights.String)
		c.RevokedAt = d.optTime("revoked_at", credRevoked)
		if d.err != nil {
			return store.IntrospectionRead{}, fmt.Errorf("sqlite: reading for introspection: credential %q: %w", c.ID, d.err)
		}
	} else {
		got.Credential = store.Credential{}
	}
	if tokID.Valid {
		got.TokenFound = true
		t.ID, t.Status = tokID.String, status.String
		t.CreatedAt = d.time("created_at", tokCreated.String)
		t.ExpiresAt = d.time("expires_at", expires.String)
		t.Scopes = d.strings("scopes", scopes.String)
		t.Audiences = d.strings("audiences", audiences.String)
		t.PrevValidUntil = d.optTime("prev_valid_until", prevValidUntil)
		if d.err != nil {
			return store.IntrospectionRead{}, fmt.Errorf("sqlite: reading for introspection: token %q: %w", t.ID, d.err)
		}
	} else {
		got.Token = store.Token{}
	}
	return got, nil
}

package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// Limits of ListTokens and ListAudit.
const (
	DefaultListLimit = 100  // a limit of zero (or less) means this many
	MaxListLimit     = 1000 // larger limits are lowered to this
)

// tx implements store.Tx on a database/sql transaction. View hands it out as a store.Reader
// on a query_only connection, so even a type assertion to store.Tx cannot write through it.
type tx struct {
	q        *sql.Tx
	hot      hotStmts   // zero in Update: the statements are prepared on the read pool only
	auditKey *audit.Key // what AppendAudits chains under (nil: unkeyed)
}

// prepared returns st bound to this transaction, or nil when st is nil (not prepared).
func (x *tx) prepared(ctx context.Context, st *sql.Stmt) *sql.Stmt {
	if st == nil {
		return nil
	}
	return x.q.StmtContext(ctx, st)
}

var _ store.Tx = (*tx)(nil)

// tokenColumns lists the tokens columns in the order scanToken reads them.
//
//nolint:gosec // G101: column names, not a credential
const tokenColumns = `id, name, owner_index, owner_cipher, purpose, scopes, data_categories,
	audiences, labels, subject_indexes, subjects_cipher, env, rotation_interval, rotation_overlap,
	status, created_at, updated_at, expires_at, rotated_at, revoked_at, last_used_at,
	secret_version, secret_hash, hash_key_id, fingerprint,
	prev_secret_hash, prev_hash_key_id, prev_fingerprint, prev_valid_until`

type rowScanner interface{ Scan(dest ...any) error }

func scanToken(r rowScanner) (store.Token, error) {
	var (
		t                                                store.Token
		scopes, categories, audiences, labels, subjects  string
		createdAt, updatedAt, expiresAt                  string
		rotatedAt, revokedAt, lastUsedAt, prevValidUntil sql.NullString
		rotationInterval, rotationOverlap                int64
	)
	err := r.Scan(&t.ID, &t.Name, &t.OwnerIndex, &t.OwnerCipher, &t.Purpose, &scopes, &categories,
		&audiences, &labels, &subjects, &t.SubjectsCipher, &t.Env, &rotationInterval, &rotationOverlap,
		&t.Status, &createdAt, &updatedAt, &expiresAt, &rotatedAt, &revokedAt, &lastUsedAt,
		&t.SecretVersion, &t.SecretHash, &t.HashKeyID, &t.Fingerprint,
		&t.PrevSecretHash, &t.PrevHashKeyID, &t.PrevFingerprint, &prevValidUntil)
	if err != nil {
		return store.Token{}, err
	}
	var d decoder
	t.Scopes = d.strings("scopes", scopes)
	t.DataCategories = d.strings("data_categories", categories)
	t.Audiences = d.strings("audiences", audiences)
	t.Labels = d.stringMap("labels", labels)
	t.SubjectIndexes = d.strings("subject_indexes", subjects)
	t.RotationInterval = time.Duration(rotationInterval)
	t.RotationOverlap = time.Duration(rotationOverlap)
	t.CreatedAt = d.time("created_at", createdAt)
	t.UpdatedAt = d.time("updated_at", updatedAt)
	t.ExpiresAt = d.time("expires_at", expiresAt)
	t.RotatedAt = d.optTime("rotated_at", rotatedAt)
	t.RevokedAt = d.optTime("revoked_at", revokedAt)
	t.LastUsedAt = d.optTime("last_used_at", lastUsedAt)
	t.PrevValidUntil = d.optTime("prev_valid_until", prevValidUntil)
	if d.err != nil {
		return store.Token{}, fmt.Errorf("token %q: %w", t.ID, d.err)
	}
	return t, nil
}

// tokenArgs returns the column values of t in tokenColumns order.
func tokenArgs(t store.Token) ([]any, error) {
	var e encoder
	args := []any{t.ID, t.Name, t.OwnerIndex, blob(t.OwnerCipher), t.Purpose,
		e.json("scopes", t.Scopes), e.json("data_categories", t.DataCategories),
		e.json("audiences", t.Audiences), e.json("labels", t.Labels),
		e.json("subject_indexes", t.SubjectIndexes), blob(t.SubjectsCipher), t.Env,
		int64(t.RotationInterval), int64(t.RotationOverlap),
		t.Status, e.time("created_at", t.CreatedAt), e.time("updated_at", t.UpdatedAt),
		e.time("expires_at", t.ExpiresAt), e.optTime("rotated_at", t.RotatedAt),
		e.optTime("revoked_at", t.RevokedAt), e.optTime("last_used_at", t.LastUsedAt),
		t.SecretVersion, blob(t.SecretHash), t.HashKeyID, t.Fingerprint,
		blob(t.PrevSecretHash), t.PrevHashKeyID, t.PrevFingerprint,
		e.optTime("prev_valid_until", t.PrevValidUntil)}
	if e.err != nil {
		return nil, fmt.Errorf("sqlite: token %q: %w", t.ID, e.err)
	}
	return args, nil
}

func (x *tx) queryToken(ctx context.Context, what, where string, args ...any) (store.Token, error) {
	// where is one of the constant conditions of this file; values are bound parameters.
	return x.scanOneToken(what, x.q.QueryRowContext(ctx, "SELECT "+tokenColumns+" FROM tokens WHERE "+where, args...)) //nolint:gosec // constant fragments
}

// scanOneToken reads the token of row, or store.ErrNotFound.
func (x *tx) scanOneToken(what string, row *sql.Row) (store.Token, error) {
	t, err := scanToken(row)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.Token{}, fmt.Errorf("sqlite: %s: token %w", what, store.ErrNotFound)
	case err != nil:
		return store.Token{}, fmt.Errorf("sqlite: %s: %w", what, err)
	}
	return t, nil
}

// GetToken returns the token with this id, or store.ErrNotFound.
func (x *tx) GetToken(ctx context.Context, id string) (store.Token, error) {
	return x.queryToken(ctx, fmt.Sprintf("getting token %q", id), "id = ?", id)
}

// FindTokenByHash returns the token whose current or previous secret hash is hash. Whether
// the previous secret is still valid (PrevValidUntil) is for the caller to decide.
func (x *tx) FindTokenByHash(ctx context.Context, hash []byte) (store.Token, error) {
	if len(hash) == 0 {
		return store.Token{}, fmt.Errorf("sqlite: finding token by secret hash: empty hash: token %w", store.ErrNotFound)
	}
	const what = "finding token by secret hash"
	if st := x.prepared(ctx, x.hot.findTokenByHash); st != nil {
		return x.scanOneToken(what, st.QueryRowContext(ctx, hash, hash, hash))
	}
	return x.scanOneToken(what, x.q.QueryRowContext(ctx, findTokenByHashQuery, hash, hash, hash))
}

// findTokenByHashQuery is FindTokenByHash's query (prepared once on the read pool).
const findTokenByHashQuery = "SELECT " + tokenColumns +
	" FROM tokens WHERE secret_hash = ? OR prev_secret_hash = ? ORDER BY secret_hash = ? DESC LIMIT 1"

// FindTokenByName returns the token with this owner index and name: the one not revoked if
// there is one, else the most recently created revoked one.
func (x *tx) FindTokenByName(ctx context.Context, ownerIndex, name string) (store.Token, error) {
	return x.queryToken(ctx, fmt.Sprintf("finding token by name %q", name),
		"owner_index = ? AND name = ? ORDER BY status = 'revoked', created_at DESC, id DESC LIMIT 1", ownerIndex, name)
}

// clampLimit applies DefaultListLimit and MaxListLimit.
func clampLimit(n int) int {
	if n <= 0 {
		return DefaultListLimit
	}
	return min(n, MaxListLimit)
}

// ListTokens returns the tokens matching every non-zero field of f, in id order, starting
// after f.AfterID, at most clampLimit(f.Limit) of them.
func (x *tx) ListTokens(ctx context.Context, f store.TokenFilter) ([]store.Token, error) {
	var (
		where []string
		args  []any
	)
	if f.OwnerIndex != "" {
		where = append(where, "owner_index = ?")
		args = append(args, f.OwnerIndex)
	}
	if f.Status != "" {
		where = append(where, "status = ?")
		args = append(args, f.Status)
	}
	if f.DataCategory != "" {
		where = append(where, "EXISTS (SELECT 1 FROM json_each(tokens.data_categories) AS c WHERE c.value = ?)")
		args = append(args, f.DataCategory)
	}
	if f.SubjectIndex != "" {
		where = append(where, "id IN (SELECT token_id FROM token_subjects WHERE subject_index = ?)")
		args = append(args, f.SubjectIndex)
	}
	if f.UnusedSince != nil {
		var e encoder
		since := e.time("UnusedSince", *f.UnusedSince)
		if e.err != nil {
			return nil, fmt.Errorf("sqlite: listing tokens: %w", e.err)
		}
		// A token never used counts as unused from its creation.
		where = append(where, "((last_used_at IS NULL AND created_at < ?) OR last_used_at < ?)")
		args = append(args, since, since)
	}
	if f.AfterID != "" {
		where = append(where, "id > ?")
		args = append(args, f.AfterID)
	}
	query := "SELECT " + tokenColumns + " FROM tokens"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ") //nolint:gosec // G202: constant fragments only; values are bound parameters
	}
	query += " ORDER BY id LIMIT ?"
	args = append(args, clampLimit(f.Limit))

	rows, err := x.q.QueryContext(ctx, query, args...) //nolint:gosec // query is built from constant fragments; values are bound parameters
	if err != nil {
		return nil, fmt.Errorf("sqlite: listing tokens: %w", err)
	}
	// rows.Err below reports any failure of the read; Close only releases the cursor.
	defer func() { _ = rows.Close() }()
	var out []store.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: listing tokens: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: listing tokens: %w", err)
	}
	return out, nil
}

// InsertToken adds t; store.ErrConflict when its id, or its owner index and name, exist.
func (x *tx) InsertToken(ctx context.Context, t store.Token) error {
	args, err := tokenArgs(t)
	if err != nil {
		return err
	}
	placeholders := strings.TrimSuffix(strings.Repeat("?, ", len(args)), ", ")
	_, err = x.q.ExecContext(ctx, "INSERT INTO tokens ("+tokenColumns+") VALUES ("+placeholders+")", args...) //nolint:gosec // constant fragments
	if err != nil {
		if isUniqueViolation(err) {
			return fmt.Errorf("sqlite: inserting token %q: a token with this id, or this owner and name, exists: %w", t.ID, store.ErrConflict)
		}
		return fmt.Errorf("sqlite: inserting token %q: %w", t.ID, err)
	}
	return x.setSubjects(ctx, t.ID, t.SubjectIndexes)
}

// UpdateToken replaces every column of the token with t.ID; store.ErrNotFound when there is
// none, store.ErrConflict when the new owner index and name belong to another token.
func (x *tx) UpdateToken(ctx context.Context, t store.Token) error {
	args, err := tokenArgs(t)
	if err != nil {
		return err
	}
	cols := strings.Split(tokenColumns, ",")
	sets := make([]string, 0, len(cols)-1)
	for _, c := range cols[1:] { // every column but id
		sets = append(sets, strings.TrimSpace(c)+" = ?")
	}
	res, err := x.q.ExecContext(ctx, "UPDATE tokens SET "+strings.Join(sets, ", ")+" WHERE id = ?", //nolint:gosec // constant fragments
		append(args[1:], t.ID)...)
	if err != nil {
		if isUniqueViolation(err) {
			return fmt.Errorf("sqlite: updating token %q: another token has this owner and name: %w", t.ID, store.ErrConflict)
		}
		return fmt.Errorf("sqlite: updating token %q: %w", t.ID, err)
	}
	if err := expectOneRow(res); err != nil {
		return fmt.Errorf("sqlite: updating token %q: %w", t.ID, err)
	}
	return x.setSubjects(ctx, t.ID, t.SubjectIndexes)
}

// setSubjects makes token_subjects hold exactly the subject indexes of token id.
func (x *tx) setSubjects(ctx context.Context, id string, subjects []string) error {
	if _, err := x.q.ExecContext(ctx, "DELETE FROM token_subjects WHERE token_id = ?", id); err != nil {
		return fmt.Errorf("sqlite: indexing subjects of token %q: %w", id, err)
	}
	for _, s := range subjects {
		if _, err := x.q.ExecContext(ctx,
			"INSERT OR IGNORE INTO token_subjects (subject_index, token_id) VALUES (?, ?)", s, id); err != nil {
			return fmt.Errorf("sqlite: indexing subjects of token %q: %w", id, err)
		}
	}
	return nil
}

// expectOneRow turns "no row changed" into store.ErrNotFound.
func expectOneRow(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("token %w", store.ErrNotFound)
	}
	return nil
}

// TouchLastUsed records a use of token id at at. LastUsedAt only moves forward: a use
// recorded out of order (earlier than the stored one) leaves it as it is. store.ErrNotFound
// when there is no such token.
func (x *tx) TouchLastUsed(ctx context.Context, id string, at time.Time) error {
	var e encoder
	ts := e.time("last_used_at", at)
	if e.err != nil {
		return fmt.Errorf("sqlite: recording use of token %q: %w", id, e.err)
	}
	n, err := x.touchLastUsed(ctx, id, ts)
	if err != nil {
		return fmt.Errorf("sqlite: recording use of token %q: %w", id, err)
	}
	if n > 0 {
		return nil
	}
	// Nothing changed: either a later use is already recorded, or there is no such token.
	var exists int
	err = x.q.QueryRowContext(ctx, "SELECT 1 FROM tokens WHERE id = ?", id).Scan(&exists)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("sqlite: recording use of token %q: token %w", id, store.ErrNotFound)
	case err != nil:
		return fmt.Errorf("sqlite: recording use of token %q: %w", id, err)
	}
	return nil
}

// touchLastUsedQuery moves last_used_at of one token forward (ts, id, ts).
const touchLastUsedQuery = "UPDATE tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)"

// touchLastUsed runs touchLastUsedQuery for token id and instant ts (encoded), and returns
// how many rows changed. (The verification log's path, TouchLastUsedAll, runs its own
// statement, prepared once.)
func (x *tx) touchLastUsed(ctx context.Context, id, ts string) (int64, error) {
	res, err := x.q.ExecContext(ctx, touchLastUsedQuery, ts, id, ts)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// touchLastUsedAllQuery moves last_used_at of one token forward to ?1, but never past its
// revoked_at, and returns revoked_at when the token is revoked before ?1 (id ?2).
const touchLastUsedAllQuery = `UPDATE tokens SET last_used_at = CASE WHEN revoked_at < ?1 THEN revoked_at ELSE ?1 END
	WHERE id = ?2 AND (last_used_at IS NULL OR last_used_at < ?1 OR revoked_at < ?1)
	RETURNING CASE WHEN revoked_at < ?1 THEN revoked_at END`

// TouchLastUsedAll records every use of uses as TouchLastUsed does, but never past a token's
// revoked_at, and returns the revocation instants of tokens revoked before their use; uses
// of tokens that do not exist change nothing. A token revoked before a use always gets
// last_used_at = revoked_at (also one whose last_used_at passed revoked_at before this rule).
func (x *tx) TouchLastUsedAll(ctx context.Context, uses []store.TokenUse) (map[string]time.Time, error) {
	var revoked map[string]time.Time
	st := x.prepared(ctx, x.hot.touchLastUsedIf)
	for _, u := range uses {
		var e encoder
		ts := e.time("last_used_at", u.At)
		if e.err != nil {
			return nil, fmt.Errorf("sqlite: recording use of token %q: %w", u.TokenID, e.err)
		}
		var row *sql.Row
		if st != nil {
			row = st.QueryRowContext(ctx, ts, u.TokenID)
		} else {
			row = x.q.QueryRowContext(ctx, touchLastUsedAllQuery, ts, u.TokenID)
		}
		var revokedAt sql.NullString
		switch err := row.Scan(&revokedAt); {
		case errors.Is(err, sql.ErrNoRows): // no such token, or a later use already recorded
		case err != nil:
			return nil, fmt.Errorf("sqlite: recording use of token %q: %w", u.TokenID, err)
		case revokedAt.Valid:
			var d decoder
			r := d.time("revoked_at", revokedAt.String)
			if d.err != nil {
				return nil, fmt.Errorf("sqlite: recording use of token %q: %w", u.TokenID, d.err)
			}
			if revoked == nil {
				revoked = map[string]time.Time{}
			}
			revoked[u.TokenID] = r
		}
	}
	return revoked, nil
}

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
// (SQLite compares TEXT with memcmp), at most clampLimit(limit) of them.
func (x *tx) ListIdempotency(ctx context.Context, afterKey string, limit int) ([]store.Idempotency, error) {
	rows, err := x.q.QueryContext(ctx,
		"SELECT "+idempotencyColumns+" FROM idempotency WHERE key > ? ORDER BY key LIMIT ?", afterKey, clampLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: listing idempotency records: %w", err)
	}
	defer func() { _ = rows.Close() }() // Err below reports what matters
	var out []store.Idempotency
	for rows.Next() {
		rec, err := scanIdempotency(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: listing idempotency records: %w", err)
		}
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: listing idempotency records: %w", err)
	}
	return out, nil
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

// auditColumns lists the audit columns in the order scanAudit reads them.
const auditColumns = "seq, prev_hash, hash, time, actor, action, token_id, fingerprint, outcome, details, key_id"

func scanAudit(r rowScanner) (audit.Record, error) {
	var (
		rec     audit.Record
		ts      string
		details sql.NullString
	)
	if err := r.Scan(&rec.Seq, &rec.PrevHash, &rec.Hash, &ts, &rec.Actor, &rec.Action,
		&rec.TokenID, &rec.Fingerprint, &rec.Outcome, &details, &rec.KeyID); err != nil {
		return audit.Record{}, err
	}
	var d decoder
	rec.Time = d.time("time", ts)
	if details.Valid {
		rec.Details = d.stringMap("details", details.String)
	}
	if d.err != nil {
		return audit.Record{}, fmt.Errorf("audit record %d: %w", rec.Seq, d.err)
	}
	return rec, nil
}

// ListAudit returns the records with Seq > afterSeq in sequence order, at most
// clampLimit(limit) of them.
func (x *tx) ListAudit(ctx context.Context, afterSeq int64, limit int) ([]audit.Record, error) {
	rows, err := x.q.QueryContext(ctx,
		"SELECT "+auditColumns+" FROM audit WHERE seq > ? ORDER BY seq LIMIT ?", afterSeq, clampLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: listing audit records: %w", err)
	}
	// rows.Err below reports any failure of the read; Close only releases the cursor.
	defer func() { _ = rows.Close() }()
	var out []audit.Record
	for rows.Next() {
		rec, err := scanAudit(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: listing audit records: %w", err)
		}
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: listing audit records: %w", err)
	}
	return out, nil
}

// AuditHead returns the last audit record and the sequence number of the first keyed one
// (store.Reader). Keyed records follow every unkeyed one, so the second query walks the
// primary key only over the unkeyed prefix the chain had when it became keyed.
func (x *tx) AuditHead(ctx context.Context) (audit.Record, int64, error) {
	head, err := scanAudit(x.q.QueryRowContext(ctx, "SELECT "+auditColumns+" FROM audit ORDER BY seq DESC LIMIT 1"))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return audit.Record{}, 0, nil
	case err != nil:
		return audit.Record{}, 0, fmt.Errorf("sqlite: reading the audit head: %w", err)
	}
	var keyedFrom int64
	err = x.q.QueryRowContext(ctx, "SELECT seq FROM audit WHERE key_id <> '' ORDER BY seq LIMIT 1").Scan(&keyedFrom)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return audit.Record{}, 0, fmt.Errorf("sqlite: reading the first keyed audit record: %w", err)
	}
	return head, keyedFrom, nil
}

// AppendAudit chains event after the current head and stores it. The head is read inside
// this write transaction, which holds the database write lock, so no other writer can
// append in between.
func (x *tx) AppendAudit(ctx context.Context, event audit.Event) (audit.Record, error) {
	recs, err := x.AppendAudits(ctx, []audit.Event{event})
	if err != nil {
		return audit.Record{}, err
	}
	return recs[0], nil
}

// auditHeadQuery reads what chaining needs of the last audit record.
const auditHeadQuery = "SELECT seq, hash, key_id FROM audit ORDER BY seq DESC LIMIT 1"

// insertAuditQuery inserts one audit record.
const insertAuditQuery = "INSERT INTO audit (" + auditColumns + ") VALUES " + auditRowPlaceholders

// auditRowColumns is the number of audit columns (auditColumns).
const auditRowColumns = 11

// auditRowPlaceholders are the placeholders of one audit row (auditColumns).
const auditRowPlaceholders = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

// auditInsertRows is how many records insertAuditsQuery inserts: one statement per
// auditInsertRows records of a batch (the rest one by one) costs far less than a statement
// per record.
const auditInsertRows = 32

// insertAuditsQuery inserts auditInsertRows audit records, in order.
var insertAuditsQuery = "INSERT INTO audit (" + auditColumns + ") VALUES " +
	strings.TrimSuffix(strings.Repeat(auditRowPlaceholders+", ", auditInsertRows), ", ")

// AppendAudits chains events after the current head, in order, and stores them: the head is
// read once, inside this write transaction (which holds the database write lock), and the
// records are inserted auditInsertRows at a time with the write connection's prepared
// statements (the audit_chain_linked trigger checks each row against the one before it).
func (x *tx) AppendAudits(ctx context.Context, events []audit.Event) ([]audit.Record, error) {
	if len(events) == 0 {
		return nil, nil
	}
	var (
		prev     *audit.Record
		head     audit.Record
		headStmt = x.prepared(ctx, x.hot.auditHead)
		row      *sql.Row
	)
	if headStmt != nil {
		row = headStmt.QueryRowContext(ctx)
	} else {
		row = x.q.QueryRowContext(ctx, auditHeadQuery)
	}
	switch err := row.Scan(&head.Seq, &head.Hash, &head.KeyID); {
	case errors.Is(err, sql.ErrNoRows):
		// empty log: the first record chains to audit.GenesisHash
	case err != nil:
		return nil, fmt.Errorf("sqlite: reading audit head: %w", err)
	default:
		prev = &head
	}
	if x.auditKey == nil && prev != nil && prev.KeyID != "" {
		return nil, fmt.Errorf("sqlite: appending audit records: %w", store.ErrAuditKeyNeeded)
	}
	recs := make([]audit.Record, 0, len(events))
	args := make([]any, 0, auditRowColumns*min(len(events), auditInsertRows))
	for _, event := range events {
		seq := int64(1)
		if prev != nil {
			seq = prev.Seq + 1
		}
		rec := audit.ChainKeyed(prev, seq, event, x.auditKey)
		var e encoder
		ts := e.time("time", rec.Time)
		var details any
		if len(rec.Details) > 0 {
			b, err := json.Marshal(rec.Details)
			if err != nil {
				return nil, fmt.Errorf("sqlite: encoding audit details: %w", err)
			}
			details = string(b)
		}
		if e.err != nil {
			return nil, fmt.Errorf("sqlite: appending audit record: %w", e.err)
		}
		recs = append(recs, rec)
		prev = &recs[len(recs)-1]
		args = append(args, rec.Seq, rec.PrevHash, rec.Hash, ts, rec.Actor, rec.Action, rec.TokenID, rec.Fingerprint, rec.Outcome, details, rec.KeyID)
		if len(args) == auditRowColumns*auditInsertRows {
			if err := x.insertAudits(ctx, recs[len(recs)-auditInsertRows:], args); err != nil {
				return nil, err
			}
			args = args[:0]
		}
	}
	for i := 0; i < len(args); i += auditRowColumns { // the rest, one by one
		if err := x.insertAudits(ctx, recs[len(recs)-len(args)/auditRowColumns+i/auditRowColumns:][:1], args[i:i+auditRowColumns]); err != nil {
			return nil, err
		}
	}
	return recs, nil
}

// insertAudits inserts recs, whose column values are args (auditRowColumns per record): with
// insertAuditsQuery when there are auditInsertRows of them, else one record with
// insertAuditQuery.
func (x *tx) insertAudits(ctx context.Context, recs []audit.Record, args []any) error {
	query, st := insertAuditQuery, x.hot.insertAudit
	if len(recs) == auditInsertRows {
		query, st = insertAuditsQuery, x.hot.insertAudits
	}
	var err error
	if st := x.prepared(ctx, st); st != nil {
		_, err = st.ExecContext(ctx, args...)
	} else {
		_, err = x.q.ExecContext(ctx, query, args...)
	}
	if err != nil {
		first, last := recs[0].Seq, recs[len(recs)-1].Seq
		if isChainViolation(err) {
			return fmt.Errorf("sqlite: appending audit records %d to %d: the chain would fork: %w", first, last, store.ErrConflict)
		}
		return fmt.Errorf("sqlite: appending audit records %d to %d: %w", first, last, err)
	}
	return nil
}

// PurgeTokens deletes the tokens expired or revoked before before; their token_subjects rows
// go first. Instants are stored in formatTime's
// fixed-width UTC form, so text order is time order.
func (x *tx) PurgeTokens(ctx context.Context, before time.Time) (int, error) {
	var e encoder
	ts := e.time("before", before)
	if e.err != nil {
		return 0, fmt.Errorf("sqlite: purging retired tokens: %w", e.err)
	}
	const retired = "expires_at < ?1 OR (status = ?2 AND revoked_at IS NOT NULL AND revoked_at < ?1)"
	// Explicitly as well as by the cascade: a connection opened without foreign_keys (the
	// sqlite3 shell) must not leave blind indexes of purged tokens behind.
	if _, err := x.q.ExecContext(ctx, "DELETE FROM token_subjects WHERE token_id IN (SELECT id FROM tokens WHERE "+retired+")",
		ts, store.StatusRevoked); err != nil {
		return 0, fmt.Errorf("sqlite: purging retired tokens: %w", err)
	}
	res, err := x.q.ExecContext(ctx, "DELETE FROM tokens WHERE "+retired, ts, store.StatusRevoked)
	if err != nil {
		return 0, fmt.Errorf("sqlite: purging retired tokens: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: purging retired tokens: %w", err)
	}
	return int(n), nil
}

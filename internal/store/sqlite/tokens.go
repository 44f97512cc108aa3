package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// tokenColumns lists the tokens columns in the order scanToken reads them.
//
//nolint:gosec // G101: column names, not a credential
const tokenColumns = `id, name, owner_index, owner_cipher, purpose, scopes, data_categories,
	audiences, labels, subject_indexes, subjects_cipher, env, rotation_interval, rotation_overlap,
	status, created_at, updated_at, expires_at, rotated_at, revoked_at, last_used_at,
	secret_version, secret_hash, hash_key_id, fingerprint,
	prev_secret_hash, prev_hash_key_id, prev_fingerprint, prev_valid_until`

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

// ListTokens returns the tokens matching every non-zero field of f, in id order, starting
// after f.AfterID, at most store.ClampLimit(f.Limit) of them.
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
	args = append(args, store.ClampLimit(f.Limit))

	return listRows(ctx, x, "listing tokens", scanToken, query, args...)
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

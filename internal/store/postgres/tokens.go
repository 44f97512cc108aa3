package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// tokenColumns lists the tokens columns in the order scanToken reads them and tokenArgs
// writes them.
//
//nolint:gosec // G101: column names, not a credential
const tokenColumns = `id, name, owner_index, owner_cipher, purpose, scopes, data_categories,
	audiences, labels, subject_indexes, subjects_cipher, env, rotation_interval, rotation_overlap,
	status, created_at, updated_at, expires_at, rotated_at, revoked_at, last_used_at,
	secret_version, secret_hash, hash_key_id, fingerprint,
	prev_secret_hash, prev_hash_key_id, prev_fingerprint, prev_valid_until`

// tokenColumnNames is tokenColumns as a list.
var tokenColumnNames = func() []string {
	cols := strings.Split(tokenColumns, ",")
	for i, c := range cols {
		cols[i] = strings.TrimSpace(c)
	}
	return cols
}()

// tokenArgs returns the column values of t in tokenColumns order.
func tokenArgs(t store.Token) ([]any, error) {
	labels, err := jsonMap(t.Labels)
	if err != nil {
		return nil, fmt.Errorf("postgres: token %q: encoding labels: %w", t.ID, err)
	}
	return []any{t.ID, t.Name, t.OwnerIndex, bytesOrNull(t.OwnerCipher), t.Purpose,
		textArray(t.Scopes), textArray(t.DataCategories), textArray(t.Audiences), labels,
		textArray(t.SubjectIndexes), bytesOrNull(t.SubjectsCipher), t.Env,
		int64(t.RotationInterval), int64(t.RotationOverlap),
		t.Status, pgTime(t.CreatedAt), pgTime(t.UpdatedAt), pgTime(t.ExpiresAt),
		optPGTime(t.RotatedAt), optPGTime(t.RevokedAt), optPGTime(t.LastUsedAt),
		int64(t.SecretVersion), bytesOrNull(t.SecretHash), t.HashKeyID, t.Fingerprint,
		bytesOrNull(t.PrevSecretHash), t.PrevHashKeyID, t.PrevFingerprint, optPGTime(t.PrevValidUntil)}, nil
}

// scanToken reads one row of tokenColumns.
func scanToken(row pgx.Row) (store.Token, error) {
	var (
		t                                                store.Token
		labels                                           []byte
		rotationInterval, rotationOverlap                int64
		createdAt, updatedAt, expiresAt                  time.Time
		rotatedAt, revokedAt, lastUsedAt, prevValidUntil *time.Time
	)
	err := row.Scan(&t.ID, &t.Name, &t.OwnerIndex, &t.OwnerCipher, &t.Purpose, &t.Scopes, &t.DataCategories,
		&t.Audiences, &labels, &t.SubjectIndexes, &t.SubjectsCipher, &t.Env, &rotationInterval, &rotationOverlap,
		&t.Status, &createdAt, &updatedAt, &expiresAt, &rotatedAt, &revokedAt, &lastUsedAt,
		&t.SecretVersion, &t.SecretHash, &t.HashKeyID, &t.Fingerprint,
		&t.PrevSecretHash, &t.PrevHashKeyID, &t.PrevFingerprint, &prevValidUntil)
	if err != nil {
		return store.Token{}, err
	}
	if t.Labels, err = parseJSONMap(labels); err != nil {
		return store.Token{}, fmt.Errorf("token %q: decoding labels: %w", t.ID, err)
	}
	t.RotationInterval = time.Duration(rotationInterval)
	t.RotationOverlap = time.Duration(rotationOverlap)
	t.CreatedAt = createdAt.UTC()
	t.UpdatedAt = updatedAt.UTC()
	t.ExpiresAt = expiresAt.UTC()
	t.RotatedAt = utc(rotatedAt)
	t.RevokedAt = utc(revokedAt)
	t.LastUsedAt = utc(lastUsedAt)
	t.PrevValidUntil = utc(prevValidUntil)
	return t, nil
}

// queryToken returns the one token selected by where (a constant condition of this file;
// values are bound parameters), or store.ErrNotFound.
func (x *tx) queryToken(ctx context.Context, what, where string, args ...any) (store.Token, error) {
	t, err := scanToken(x.q.QueryRow(ctx, "SELECT "+tokenColumns+" FROM tokens WHERE "+where, args...)) //nolint:gosec // constant fragments
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return store.Token{}, fmt.Errorf("postgres: %s: token %w", what, store.ErrNotFound)
	case err != nil:
		return store.Token{}, fmt.Errorf("postgres: %s: %w", what, err)
	}
	return t, nil
}

// GetToken returns the token with this id, or store.ErrNotFound.
func (x *tx) GetToken(ctx context.Context, id string) (store.Token, error) {
	return x.queryToken(ctx, fmt.Sprintf("getting token %q", id), "id = $1", id)
}

// FindTokenByHash returns the token whose current or previous secret hash is hash, a
// current match first. Whether the previous secret is still valid (PrevValidUntil) is for
// the caller to decide.
func (x *tx) FindTokenByHash(ctx context.Context, hash []byte) (store.Token, error) {
	if len(hash) == 0 {
		return store.Token{}, fmt.Errorf("postgres: finding token by secret hash: empty hash: token %w", store.ErrNotFound)
	}
	return x.queryToken(ctx, "finding token by secret hash",
		"secret_hash = $1 OR prev_secret_hash = $1 ORDER BY secret_hash = $1 DESC LIMIT 1", hash)
}

// FindTokenByName returns the token with this owner index and name: the one not revoked if
// there is one, else the most recently created revoked one.
func (x *tx) FindTokenByName(ctx context.Context, ownerIndex, name string) (store.Token, error) {
	return x.queryToken(ctx, fmt.Sprintf("finding token by name %q", name),
		"owner_index = $1 AND name = $2 ORDER BY status = 'revoked', created_at DESC, id DESC LIMIT 1", ownerIndex, name)
}

// ListTokens returns the tokens matching every non-zero field of f, in byte order of id
// (the column is COLLATE "C"), starting after f.AfterID, at most store.ClampLimit(f.Limit) of them.
func (x *tx) ListTokens(ctx context.Context, f store.TokenFilter) ([]store.Token, error) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "$?", "$"+strconv.Itoa(len(args))))
	}
	if f.OwnerIndex != "" {
		add("owner_index = $?", f.OwnerIndex)
	}
	if f.Status != "" {
		add("status = $?", f.Status)
	}
	if f.DataCategory != "" {
		add("data_categories @> ARRAY[$?::text]", f.DataCategory)
	}
	if f.SubjectIndex != "" {
		add("subject_indexes @> ARRAY[$?::text]", f.SubjectIndex)
	}
	if f.UnusedSince != nil {
		// A token never used counts as unused from its creation.
		since := pgTime(*f.UnusedSince)
		args = append(args, since)
		n := "$" + strconv.Itoa(len(args))
		where = append(where, "((last_used_at IS NULL AND created_at < "+n+") OR last_used_at < "+n+")")
	}
	if f.AfterID != "" {
		add("id > $?", f.AfterID)
	}
	query := "SELECT " + tokenColumns + " FROM tokens"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, store.ClampLimit(f.Limit))
	query += " ORDER BY id LIMIT $" + strconv.Itoa(len(args))

	rows, err := x.q.Query(ctx, query, args...) //nolint:gosec // query is built from constant fragments; values are bound parameters
	if err != nil {
		return nil, fmt.Errorf("postgres: listing tokens: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Token, error) { return scanToken(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: listing tokens: %w", err)
	}
	return out, nil
}

// InsertToken adds t; store.ErrConflict when its id exists, or when a token that is not
// revoked has its owner index and name. A conflict leaves the transaction usable.
func (x *tx) InsertToken(ctx context.Context, t store.Token) error {
	args, err := tokenArgs(t)
	if err != nil {
		return err
	}
	placeholders := make([]string, len(args))
	for i := range args {
		placeholders[i] = "$" + strconv.Itoa(i+1)
	}
	// ON CONFLICT DO NOTHING (no target: every unique constraint) reports a duplicate as
	// zero rows instead of an error, which would abort the whole transaction.
	tag, err := x.q.Exec(ctx, "INSERT INTO tokens ("+tokenColumns+") VALUES ("+ //nolint:gosec // constant fragments
		strings.Join(placeholders, ", ")+") ON CONFLICT DO NOTHING", args...)
	if err != nil {
		return fmt.Errorf("postgres: inserting token %q: %w", t.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: inserting token %q: a token with this id, or a live token with this owner and name, exists: %w", t.ID, store.ErrConflict)
	}
	return nil
}

// UpdateToken replaces every column of the token with t.ID; store.ErrNotFound when there is
// none, store.ErrConflict when the new owner index and name belong to another token that is
// not revoked (and t is not revoked either). Either error leaves the transaction usable.
func (x *tx) UpdateToken(ctx context.Context, t store.Token) error {
	args, err := tokenArgs(t)
	if err != nil {
		return err
	}
	sets := make([]string, 0, len(tokenColumnNames)-1)
	for i, c := range tokenColumnNames[1:] { // every column but id, which is $1
		sets = append(sets, c+" = $"+strconv.Itoa(i+2))
	}
	query := "UPDATE tokens SET " + strings.Join(sets, ", ") + " WHERE id = $1" //nolint:gosec // constant fragments
	// A unique violation aborts the transaction; a savepoint confines it to this statement.
	sp, err := x.q.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: updating token %q: %w", t.ID, err)
	}
	tag, err := sp.Exec(ctx, query, args...)
	if err != nil {
		_ = sp.Rollback(ctx)
		if sqlState(err) == uniqueViolation {
			return fmt.Errorf("postgres: updating token %q: another live token has this owner and name: %w", t.ID, store.ErrConflict)
		}
		return fmt.Errorf("postgres: updating token %q: %w", t.ID, err)
	}
	if err := sp.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: updating token %q: %w", t.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: updating token %q: token %w", t.ID, store.ErrNotFound)
	}
	return nil
}

// TouchLastUsed records a use of token id at at. LastUsedAt only moves forward: a use
// recorded out of order (earlier than the stored one) leaves it as it is. store.ErrNotFound
// when there is no such token.
func (x *tx) TouchLastUsed(ctx context.Context, id string, at time.Time) error {
	ts := pgTime(at)
	tag, err := x.q.Exec(ctx,
		"UPDATE tokens SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)", id, ts)
	if err != nil {
		return fmt.Errorf("postgres: recording use of token %q: %w", id, err)
	}
	if tag.RowsAffected() > 0 {
		return nil
	}
	// Nothing changed: either a later use is already recorded, or there is no such token.
	var exists bool
	if err := x.q.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM tokens WHERE id = $1)", id).Scan(&exists); err != nil {
		return fmt.Errorf("postgres: recording use of token %q: %w", id, err)
	}
	if !exists {
		return fmt.Errorf("postgres: recording use of token %q: token %w", id, store.ErrNotFound)
	}
	return nil
}

// touchLastUsedAllQuery moves last_used_at forward for the tokens and instants given as two
// arrays (a token named twice gets the later instant), but never past a token's revoked_at,
// and returns the id and revoked_at of each token revoked before its use.
const touchLastUsedAllQuery = `UPDATE tokens AS t SET last_used_at = LEAST(u.at, COALESCE(t.revoked_at, u.at))
	FROM (SELECT id, max(at) AS at FROM unnest($1::text[], $2::timestamptz[]) AS u(id, at) GROUP BY id) AS u
	WHERE t.id = u.id AND (t.last_used_at IS NULL OR t.last_used_at < u.at OR t.revoked_at < u.at)
	RETURNING t.id, CASE WHEN t.revoked_at < u.at THEN t.revoked_at END`

// TouchLastUsedAll records every use of uses as TouchLastUsed does, in one statement, but
// never past a token's revoked_at, and returns the revocation instants of tokens revoked
// before their use; uses of tokens that do not exist change nothing. A token revoked before
// a use always gets last_used_at = revoked_at (also one whose last_used_at passed
// revoked_at before this rule).
func (x *tx) TouchLastUsedAll(ctx context.Context, uses []store.TokenUse) (map[string]time.Time, error) {
	if len(uses) == 0 {
		return nil, nil
	}
	ids := make([]string, len(uses))
	ats := make([]time.Time, len(uses))
	for i, u := range uses {
		ids[i], ats[i] = u.TokenID, pgTime(u.At)
	}
	rows, err := x.q.Query(ctx, touchLastUsedAllQuery, ids, ats)
	if err != nil {
		return nil, fmt.Errorf("postgres: recording uses of %d tokens: %w", len(uses), err)
	}
	defer rows.Close()
	var revoked map[string]time.Time
	for rows.Next() {
		var (
			id        string
			revokedAt *time.Time
		)
		if err := rows.Scan(&id, &revokedAt); err != nil {
			return nil, fmt.Errorf("postgres: recording uses of %d tokens: %w", len(uses), err)
		}
		if revokedAt != nil {
			if revoked == nil {
				revoked = map[string]time.Time{}
			}
			revoked[id] = revokedAt.UTC()
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: recording uses of %d tokens: %w", len(uses), err)
	}
	return revoked, nil
}

// PurgeTokens deletes the tokens expired or revoked before before; their subject blind
// indexes are a column of the row and go with it.
func (x *tx) PurgeTokens(ctx context.Context, before time.Time) (int, error) {
	tag, err := x.q.Exec(ctx,
		"DELETE FROM tokens WHERE expires_at < $1 OR (status = $2 AND revoked_at IS NOT NULL AND revoked_at < $1)",
		pgTime(before), store.StatusRevoked)
	if err != nil {
		return 0, fmt.Errorf("postgres: purging retired tokens: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// Limits of ListTokens and ListAudit.
const (
	DefaultListLimit = 100  // a limit of zero (or less) means this many
	MaxListLimit     = 1000 // larger limits are lowered to this
)

// tx implements store.Tx on a pgx transaction. View hands it out as a store.Reader on a READ
// ONLY transaction, so even a type assertion to store.Tx cannot write through it.
type tx struct {
	q        pgx.Tx
	auditKey *audit.Key // what AppendAudits chains under (nil: unkeyed)
}

var _ store.Tx = (*tx)(nil)

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

// pgTime is the instant PostgreSQL stores for t: timestamptz keeps microseconds. Truncating
// here, rather than leaving it to the encoding, makes the stored value the same whether pgx
// sends it in binary (which truncates) or as text (which the server would round).
func pgTime(t time.Time) time.Time { return t.Truncate(time.Microsecond) }

func optPGTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := pgTime(*t)
	return &v
}

// utc returns a scanned instant in UTC (pgx returns time.Local).
func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.UTC()
	return &v
}

// jsonMap encodes a string map for a jsonb column: SQL NULL for a nil map, so that nil and
// empty stay distinct.
func jsonMap(m map[string]string) (any, error) {
	if m == nil {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// parseJSONMap decodes a jsonb column written by jsonMap.
func parseJSONMap(b []byte) (map[string]string, error) {
	if b == nil {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// textArray passes a string slice for a text[] column: a nil slice as SQL NULL and an empty
// one as an empty array.
func textArray(s []string) any {
	if s == nil {
		return nil
	}
	return s
}

// bytesOrNull passes a byte slice for a bytea column: nil as SQL NULL.
func bytesOrNull(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

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

// clampLimit applies DefaultListLimit and MaxListLimit.
func clampLimit(n int) int {
	if n <= 0 {
		return DefaultListLimit
	}
	return min(n, MaxListLimit)
}

// ListTokens returns the tokens matching every non-zero field of f, in byte order of id
// (the column is COLLATE "C"), starting after f.AfterID, at most clampLimit(f.Limit) of them.
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
	args = append(args, clampLimit(f.Limit))
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

// PutIdempotency stores rec; store.ErrConflict when its key exists (the first record
// stays). The key is the table's primary key, so two instances racing with one key cannot
// both succeed. A conflict leaves the transaction usable.
func (x *tx) PutIdempotency(ctx context.Context, rec store.Idempotency) error {
	tag, err := x.q.Exec(ctx,
		`INSERT INTO idempotency (key, request_hash, status, response, created_at)
		 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
		rec.Key, bytesOrNull(rec.RequestHash), rec.Status, bytesOrNull(rec.Response), pgTime(rec.CreatedAt))
	if err != nil {
		return fmt.Errorf("postgres: storing idempotency record: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: storing idempotency record: key already used: %w", store.ErrConflict)
	}
	return nil
}

// idempotencyColumns lists the idempotency columns in the order scanIdempotency reads them.
const idempotencyColumns = "key, request_hash, status, response, created_at"

// scanIdempotency reads one row of idempotencyColumns.
func scanIdempotency(row pgx.Row) (store.Idempotency, error) {
	var rec store.Idempotency
	if err := row.Scan(&rec.Key, &rec.RequestHash, &rec.Status, &rec.Response, &rec.CreatedAt); err != nil {
		return store.Idempotency{}, err
	}
	rec.CreatedAt = rec.CreatedAt.UTC()
	return rec, nil
}

// GetIdempotency returns the record stored under key, or store.ErrNotFound.
func (x *tx) GetIdempotency(ctx context.Context, key string) (store.Idempotency, error) {
	rec, err := scanIdempotency(x.q.QueryRow(ctx,
		"SELECT "+idempotencyColumns+" FROM idempotency WHERE key = $1", key))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return store.Idempotency{}, fmt.Errorf("postgres: getting idempotency record: %w", store.ErrNotFound)
	case err != nil:
		return store.Idempotency{}, fmt.Errorf("postgres: getting idempotency record: %w", err)
	}
	return rec, nil
}

// ListIdempotency returns the records with keys greater than afterKey, in byte order of key
// (the column is COLLATE "C" since migration 0003), at most clampLimit(limit) of them.
func (x *tx) ListIdempotency(ctx context.Context, afterKey string, limit int) ([]store.Idempotency, error) {
	rows, err := x.q.Query(ctx,
		"SELECT "+idempotencyColumns+" FROM idempotency WHERE key > $1 ORDER BY key LIMIT $2", afterKey, clampLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("postgres: listing idempotency records: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Idempotency, error) { return scanIdempotency(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: listing idempotency records: %w", err)
	}
	return out, nil
}

// SetIdempotencyResponse replaces the stored response of key; store.ErrNotFound when no
// record has this key.
func (x *tx) SetIdempotencyResponse(ctx context.Context, key string, response []byte) error {
	tag, err := x.q.Exec(ctx, "UPDATE idempotency SET response = $2 WHERE key = $1", key, bytesOrNull(response))
	if err != nil {
		return fmt.Errorf("postgres: replacing an idempotent response: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: replacing an idempotent response: idempotency record %w", store.ErrNotFound)
	}
	return nil
}

// ReplaceIdempotency replaces the status and the response of key; store.ErrNotFound when no
// record has this key.
func (x *tx) ReplaceIdempotency(ctx context.Context, key string, status int, response []byte) error {
	tag, err := x.q.Exec(ctx, "UPDATE idempotency SET status = $2, response = $3 WHERE key = $1", key, status, bytesOrNull(response))
	if err != nil {
		return fmt.Errorf("postgres: replacing an idempotent answer: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: replacing an idempotent answer: idempotency record %w", store.ErrNotFound)
	}
	return nil
}

// PurgeIdempotency deletes the records created before before.
func (x *tx) PurgeIdempotency(ctx context.Context, before time.Time) (int, error) {
	tag, err := x.q.Exec(ctx, "DELETE FROM idempotency WHERE created_at < $1", pgTime(before))
	if err != nil {
		return 0, fmt.Errorf("postgres: purging idempotency records: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// auditColumns lists the audit columns in the order scanAudit reads them.
const auditColumns = "seq, prev_hash, hash, time, actor, action, token_id, fingerprint, outcome, details, key_id"

func scanAudit(row pgx.Row) (audit.Record, error) {
	var (
		rec     audit.Record
		details []byte
	)
	if err := row.Scan(&rec.Seq, &rec.PrevHash, &rec.Hash, &rec.Time, &rec.Actor, &rec.Action,
		&rec.TokenID, &rec.Fingerprint, &rec.Outcome, &details, &rec.KeyID); err != nil {
		return audit.Record{}, err
	}
	rec.Time = rec.Time.UTC()
	var err error
	if rec.Details, err = parseJSONMap(details); err != nil {
		return audit.Record{}, fmt.Errorf("audit record %d: decoding details: %w", rec.Seq, err)
	}
	return rec, nil
}

// ListAudit returns the records with Seq > afterSeq in sequence order, at most
// clampLimit(limit) of them.
func (x *tx) ListAudit(ctx context.Context, afterSeq int64, limit int) ([]audit.Record, error) {
	rows, err := x.q.Query(ctx,
		"SELECT "+auditColumns+" FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2", afterSeq, clampLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("postgres: listing audit records: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (audit.Record, error) { return scanAudit(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: listing audit records: %w", err)
	}
	return out, nil
}

// AuditHead returns the last audit record and the sequence number of the first keyed one
// (store.Reader). Keyed records follow every unkeyed one, so the second query walks the
// primary key only over the unkeyed prefix the chain had when it became keyed.
func (x *tx) AuditHead(ctx context.Context) (audit.Record, int64, error) {
	head, err := scanAudit(x.q.QueryRow(ctx, "SELECT "+auditColumns+" FROM audit ORDER BY seq DESC LIMIT 1"))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return audit.Record{}, 0, nil
	case err != nil:
		return audit.Record{}, 0, fmt.Errorf("postgres: reading the audit head: %w", err)
	}
	var keyedFrom int64
	err = x.q.QueryRow(ctx, "SELECT seq FROM audit WHERE key_id <> '' ORDER BY seq LIMIT 1").Scan(&keyedFrom)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return audit.Record{}, 0, fmt.Errorf("postgres: reading the first keyed audit record: %w", err)
	}
	return head, keyedFrom, nil
}

// AppendAudit chains event after the current head and stores it (AppendAudits of one
// event).
func (x *tx) AppendAudit(ctx context.Context, event audit.Event) (audit.Record, error) {
	recs, err := x.AppendAudits(ctx, []audit.Event{event})
	if err != nil {
		return audit.Record{}, err
	}
	return recs[0], nil
}

// appendAuditsQuery inserts the records given as one array per column ($1 to $10, details
// as JSON text or NULL) under the key id $11 and moves audit_head to the last of them, in
// one statement.
const appendAuditsQuery = `WITH appended AS (
		INSERT INTO audit (` + auditColumns + `)
		SELECT seq, prev_hash, hash, time, actor, action, token_id, fingerprint, outcome, details::jsonb, $11::text
		FROM unnest($1::bigint[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::text[],
			$7::text[], $8::text[], $9::text[], $10::text[])
			AS r(seq, prev_hash, hash, time, actor, action, token_id, fingerprint, outcome, details)
		RETURNING seq, hash, key_id)
	UPDATE audit_head SET seq = last.seq, hash = last.hash, key_id = last.key_id
	FROM (SELECT seq, hash, key_id FROM appended ORDER BY seq DESC LIMIT 1) AS last
	WHERE audit_head.id`

// AppendAudits chains events after the current head, in order, and stores them with one
// statement that also moves audit_head: two round trips whatever the number of events. The
// head row is locked (FOR UPDATE; Update has locked it already, so this only reads it) until
// the transaction ends, so no other writer, in this process or another, can append in
// between; the UNIQUE prev_hash makes a fork impossible even so.
func (x *tx) AppendAudits(ctx context.Context, events []audit.Event) ([]audit.Record, error) {
	if len(events) == 0 {
		return nil, nil
	}
	var (
		headSeq   int64
		headHash  *string
		headKeyID string
	)
	if err := x.q.QueryRow(ctx, "SELECT seq, hash, key_id FROM audit_head WHERE id FOR UPDATE").Scan(&headSeq, &headHash, &headKeyID); err != nil {
		return nil, fmt.Errorf("postgres: reading audit head: %w", err)
	}
	if x.auditKey == nil && headKeyID != "" {
		return nil, fmt.Errorf("postgres: appending audit records: %w", store.ErrAuditKeyNeeded)
	}
	keyID := ""
	if x.auditKey != nil {
		keyID = x.auditKey.ID()
	}
	var prev *audit.Record
	if headSeq > 0 && headHash != nil {
		prev = &audit.Record{Seq: headSeq, Hash: *headHash} // Chain needs only the hash
	}
	n := len(events)
	var (
		recs                                = make([]audit.Record, 0, n)
		seqs                                = make([]int64, 0, n)
		times                               = make([]time.Time, 0, n)
		prevHashes, hashes, actors, actions = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		tokenIDs, fingerprints, outcomes    = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		details                             = make([]*string, 0, n)
	)
	for _, event := range events {
		rec := audit.ChainKeyed(prev, headSeq+int64(len(recs))+1, event, x.auditKey)
		var d *string
		if len(rec.Details) > 0 { // nil and empty hash alike (omitempty); store both as NULL
			b, err := json.Marshal(rec.Details)
			if err != nil {
				return nil, fmt.Errorf("postgres: encoding audit details: %w", err)
			}
			v := string(b)
			d = &v
		}
		recs = append(recs, rec)
		prev = &recs[len(recs)-1]
		seqs, prevHashes, hashes, times = append(seqs, rec.Seq), append(prevHashes, rec.PrevHash), append(hashes, rec.Hash), append(times, rec.Time)
		actors, actions, tokenIDs = append(actors, rec.Actor), append(actions, rec.Action), append(tokenIDs, rec.TokenID)
		fingerprints, outcomes, details = append(fingerprints, rec.Fingerprint), append(outcomes, rec.Outcome), append(details, d)
	}
	first, last := recs[0].Seq, recs[n-1].Seq
	tag, err := x.q.Exec(ctx, appendAuditsQuery,
		seqs, prevHashes, hashes, times, actors, actions, tokenIDs, fingerprints, outcomes, details, keyID)
	if err != nil {
		if state := sqlState(err); state == uniqueViolation || state == integrityConstraintViolation {
			return nil, fmt.Errorf("postgres: appending audit records %d to %d: the chain would fork: %w", first, last, store.ErrConflict)
		}
		return nil, fmt.Errorf("postgres: appending audit records %d to %d: %w", first, last, err)
	}
	if tag.RowsAffected() != 1 {
		return nil, fmt.Errorf("postgres: appending audit records %d to %d: audit_head was not updated (the row is missing: the schema is damaged)", first, last)
	}
	return recs, nil
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

package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// readForIntrospectionQuery reads, for each pair of hashes $1[i] (a credential's) and $2[i]
// (a token secret's), the credential and the token (each by its current secret first, then
// the previous one) as row i; the columns of what is not found are NULL. Both are joined by
// their primary keys, so each pair gives exactly one row; each row also holds the
// introspection revision of the statement's snapshot. coalesce evaluates its second lookup
// only when the first finds nothing.
const readForIntrospectionQuery = `SELECT l.i, c.id, c.rights, c.revoked_at,
	t.id, t.status, t.created_at, t.expires_at, t.owner_cipher, t.scopes, t.audiences,
	t.secret_hash, t.prev_secret_hash, t.prev_valid_until, t.rotated_at,
	c.owner_index, c.secret_hash, c.prev_valid_until, c.prev_secret_hash, c.grant_mac,
	(SELECT revision FROM introspection_revision)
FROM unnest($1::bytea[], $2::bytea[]) WITH ORDINALITY AS l(credential_hash, token_hash, i)
LEFT JOIN credentials AS c ON c.id = coalesce(
	(SELECT id FROM credentials WHERE secret_hash = l.credential_hash),
	(SELECT id FROM credentials WHERE prev_secret_hash = l.credential_hash))
LEFT JOIN LATERAL (
	SELECT * FROM tokens WHERE id = coalesce(
		(SELECT id FROM tokens WHERE secret_hash = l.token_hash LIMIT 1),
		(SELECT id FROM tokens WHERE prev_secret_hash = l.token_hash LIMIT 1))
) AS t ON true`

// Limits of the introspection lookups' coalescing (introspectionReads).
const (
	// introspectionQueriesInFlight is how many coalesced lookup statements run at once; the
	// lookups that arrive meanwhile wait for the next statement.
	introspectionQueriesInFlight = 2
	// maxIntrospectionBatch is the most lookups one statement makes.
	maxIntrospectionBatch = 128
	// introspectionQueryTimeout bounds one coalesced statement; it serves several requests,
	// so no single request's context may cancel it.
	introspectionQueryTimeout = 30 * time.Second
)

// ReadForIntrospection reads the credential whose secret hash is credentialHash and the
// token whose current or previous secret hash is tokenHash, in one statement without an
// explicit transaction: one round trip, where a View takes four (BEGIN, two queries,
// ROLLBACK).
//
// Concurrent calls are coalesced (see introspectionReads): while introspectionQueriesInFlight
// statements run, the lookups that arrive wait and then share the next statement, one row
// each. Every statement starts after each of its lookups was asked for and reads one
// snapshot of committed data (READ COMMITTED), so a lookup sees every write committed before
// the call, by any instance: nothing is cached, a revocation is never missed.
func (s *Store) ReadForIntrospection(ctx context.Context, credentialHash, tokenHash []byte) (_ store.IntrospectionRead, err error) {
	defer func() { err = classify(err) }()
	if len(credentialHash) == 0 || len(tokenHash) == 0 {
		return store.IntrospectionRead{}, errors.New("postgres: reading for introspection: empty secret hash")
	}
	return s.introspections.read(ctx, credentialHash, tokenHash)
}

// introspectionLookup is one ReadForIntrospection call waiting for its statement.
type introspectionLookup struct {
	credentialHash, tokenHash []byte
	got                       store.IntrospectionRead
	err                       error
	done                      chan struct{} // closed once got or err is set
}

// introspectionReads coalesces concurrent ReadForIntrospection calls: a call queues its
// lookup, and if fewer than introspectionQueriesInFlight statements run, it starts a leader
// goroutine that runs the queued lookups (up to maxIntrospectionBatch per statement) until
// the queue is empty. Under light load each lookup gets a statement of its own at once;
// under heavy load the lookups that arrive during a statement share the next one, so the
// database runs fewer, larger statements.
type introspectionReads struct {
	run func(ctx context.Context, batch []*introspectionLookup) error // runs one statement

	mu      sync.Mutex
	queue   []*introspectionLookup
	leaders int // goroutines running statements
}

// read queues a lookup and waits for its result or for ctx to end.
func (r *introspectionReads) read(ctx context.Context, credentialHash, tokenHash []byte) (store.IntrospectionRead, error) {
	l := &introspectionLookup{credentialHash: credentialHash, tokenHash: tokenHash, done: make(chan struct{})}
	r.mu.Lock()
	r.queue = append(r.queue, l)
	lead := r.leaders < introspectionQueriesInFlight
	if lead {
		r.leaders++
	}
	r.mu.Unlock()
	if lead {
		// The leader serves the lookups of many requests, so no one request's context may end
		// it; each statement it runs is bounded by introspectionQueryTimeout.
		go r.lead() //nolint:gosec // G118: see above
	}
	select {
	case <-l.done:
		return l.got, l.err
	case <-ctx.Done():
		// The statement still runs for the other lookups of its batch; this result is dropped.
		return store.IntrospectionRead{}, fmt.Errorf("postgres: reading for introspection: %w", ctx.Err())
	}
}

// lead runs statements for the queued lookups until the queue is empty.
func (r *introspectionReads) lead() {
	for {
		r.mu.Lock()
		n := min(len(r.queue), maxIntrospectionBatch)
		if n == 0 {
			r.leaders--
			r.mu.Unlock()
			return
		}
		batch := make([]*introspectionLookup, n)
		copy(batch, r.queue)
		r.queue = append(r.queue[:0], r.queue[n:]...)
		r.mu.Unlock()

		ctx, cancel := context.WithTimeout(context.Background(), introspectionQueryTimeout)
		err := r.run(ctx, batch)
		cancel()
		for _, l := range batch {
			if err != nil {
				l.err = err
			}
			close(l.done)
		}
	}
}

// readForIntrospection runs readForIntrospectionQuery for batch on the lookup pool and sets
// each lookup's result.
func (s *Store) readForIntrospection(ctx context.Context, batch []*introspectionLookup) error {
	credentialHashes := make([][]byte, len(batch))
	tokenHashes := make([][]byte, len(batch))
	for i, l := range batch {
		credentialHashes[i], tokenHashes[i] = l.credentialHash, l.tokenHash
	}
	conn, err := acquire(ctx, s.lookup)
	if err != nil {
		return fmt.Errorf("postgres: reading for introspection: %w", err)
	}
	defer conn.Release() // after rows.Close (deferred calls run last first)
	rows, err := conn.Query(ctx, readForIntrospectionQuery, credentialHashes, tokenHashes)
	if err != nil {
		return fmt.Errorf("postgres: reading for introspection: %w", err)
	}
	defer rows.Close()
	seen := 0
	for rows.Next() {
		var (
			i                                                int64
			got                                              store.IntrospectionRead
			credID, tokID, status                            *string
			credRevoked, tokCreated, expires, prevU, rotated *time.Time
			credOwner, credMAC                               *string
			credPrevU                                        *time.Time
			rev                                              *[16]byte
			c, t                                             = &got.Credential, &got.Token
		)
		if err := rows.Scan(&i, &credID, &c.Rights, &credRevoked,
			&tokID, &status, &tokCreated, &expires, &t.OwnerCipher, &t.Scopes, &t.Audiences,
			&t.SecretHash, &t.PrevSecretHash, &prevU, &rotated, &credOwner, &c.SecretHash, &credPrevU, &c.PrevSecretHash, &credMAC, &rev); err != nil {
			return fmt.Errorf("postgres: reading for introspection: %w", err)
		}
		if i < 1 || i > int64(len(batch)) {
			return fmt.Errorf("postgres: reading for introspection: row for lookup %d of %d", i, len(batch))
		}
		if rev == nil {
			return errors.New("postgres: reading for introspection: introspection_revision has no row (deleted by hand?)")
		}
		got.Revision = *rev
		if credID != nil {
			got.CredentialFound = true
			c.ID, c.RevokedAt, c.PrevValidUntil = *credID, utc(credRevoked), utc(credPrevU)
			if credOwner != nil {
				c.OwnerIndex = *credOwner
			}
			if credMAC != nil {
				c.GrantMAC = *credMAC
			}
		} else {
			got.Credential = store.Credential{}
		}
		if tokID != nil && status != nil && tokCreated != nil && expires != nil {
			got.TokenFound = true
			t.ID, t.Status, t.CreatedAt, t.ExpiresAt, t.PrevValidUntil = *tokID, *status, tokCreated.UTC(), expires.UTC(), utc(prevU)
			t.RotatedAt = utc(rotated)
		} else {
			got.Token = store.Token{}
		}
		batch[i-1].got = got
		seen++
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("postgres: reading for introspection: %w", err)
	}
	if seen != len(batch) {
		return fmt.Errorf("postgres: reading for introspection: %d rows for %d lookups", seen, len(batch))
	}
	return nil
}

// ReadRevision reads the introspection revision (store.Store) on the read pool, in a
// statement of its own: under READ COMMITTED it reads the last committed state when it starts.
//
// The same statement counts the triggers of revisionTriggers in place (on their tables, enabled
// ALWAYS), and ReadRevision fails when one is not (dropped or disabled by hand while the
// service runs), so that no kept read is trusted.
func (s *Store) ReadRevision(ctx context.Context) (_ store.Revision, err error) {
	defer func() { err = classify(err) }()
	var (
		rev      [16]byte
		triggers int
	)
	if err := s.read.QueryRow(ctx, readRevisionQuery).Scan(&rev, &triggers); err != nil {
		return store.Revision{}, fmt.Errorf("postgres: reading the introspection revision: %w", err)
	}
	if triggers != len(revisionTriggers) {
		return store.Revision{}, errors.New("postgres: a trigger that records changes of tokens and credentials is missing or not enabled ALWAYS: kept introspection reads cannot be trusted (restore it as migration 0008_introspection_revision.sql creates it)")
	}
	return rev, nil
}

// readRevisionQuery reads the introspection revision and counts the triggers of
// revisionTriggers in place, on their tables of the search_path, enabled ALWAYS.
var readRevisionQuery = `SELECT r.revision, (SELECT count(*) FROM pg_trigger AS t
	WHERE NOT t.tgisinternal AND t.tgenabled = 'A' AND (t.tgrelid, t.tgname) IN (` + revisionTriggerPairs() + `))
FROM introspection_revision AS r`

// revisionTriggerPairs is revisionTriggers as SQL row values (table oid, 'name'), ...
func revisionTriggerPairs() string {
	pairs := make([]string, len(revisionTriggers))
	for i, tr := range revisionTriggers {
		pairs[i] = "(to_regclass('" + tr.table + "')::oid, '" + tr.name + "'::name)"
	}
	return strings.Join(pairs, ", ")
}

// revisionTriggers are the triggers of migration 0008 that change the introspection
// revision, by table.
var revisionTriggers = []struct{ name, table string }{
	{"tokens_revision_write", "tokens"}, {"tokens_revision_update", "tokens"}, {"credentials_revision_write", "credentials"},
}

// CheckRevisionTriggers (store.Store) finds every trigger of revisionTriggers on its table
// of the schema the store uses, enabled ALWAYS (so that it fires in every session, also under
// session_replication_role = replica), and introspection_revision with its one row.
func (s *Store) CheckRevisionTriggers(ctx context.Context) error {
	var missing []string
	for _, tr := range revisionTriggers {
		var enabled string
		err := s.read.QueryRow(ctx, `SELECT t.tgenabled::text FROM pg_trigger AS t
			WHERE t.tgrelid = to_regclass($1) AND t.tgname = $2 AND NOT t.tgisinternal`, tr.table, tr.name).Scan(&enabled)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			missing = append(missing, tr.name+" on "+tr.table+" (missing)")
		case err != nil:
			return fmt.Errorf("postgres: checking the introspection revision triggers: %w", err)
		case enabled != "A":
			missing = append(missing, tr.name+" on "+tr.table+" (not enabled ALWAYS)")
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("postgres: the trigger(s) %s that record every change of a token or credential are not in place (changed by hand?): without them a revocation made outside the service could go unseen; restore them as migration 0008_introspection_revision.sql creates them and check the tokens and credentials for other changes",
			strings.Join(missing, ", "))
	}
	if _, err := s.ReadRevision(ctx); err != nil {
		return err
	}
	return nil
}

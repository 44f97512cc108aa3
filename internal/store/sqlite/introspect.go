package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"

	moderncsqlite "modernc.org/sqlite"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// readForIntrospectionQuery reads the credential of ?1 and the token of ?2 (each by its
// current secret first, then the previous one) as one row; the columns of what is not found
// are NULL, and the introspection revision of the same snapshot. Both are joined by their
// primary keys, so there is exactly one row. coalesce evaluates its second lookup only when
// the first finds nothing.
const readForIntrospectionQuery = `SELECT c.id, c.rights, c.revoked_at,
	t.id, t.status, t.created_at, t.expires_at, t.owner_cipher, t.scopes, t.audiences,
	t.secret_hash, t.prev_secret_hash, t.prev_valid_until, t.rotated_at,
	c.owner_index, c.secret_hash, c.prev_valid_until, c.prev_secret_hash, c.grant_mac,
	(SELECT revision FROM introspection_revision)
FROM (SELECT 1) AS one
LEFT JOIN credentials AS c ON c.id = coalesce(
	(SELECT id FROM credentials WHERE secret_hash = ?1),
	(SELECT id FROM credentials WHERE prev_secret_hash = ?1))
LEFT JOIN tokens AS t ON t.id = coalesce(
	(SELECT id FROM tokens WHERE secret_hash = ?2 LIMIT 1),
	(SELECT id FROM tokens WHERE prev_secret_hash = ?2 LIMIT 1))`

// readForIntrospectionColumns is how many columns readForIntrospectionQuery returns.
const readForIntrospectionColumns = 20

// readRevisionQuery reads the introspection revision (store.Revision) and the schema
// version (which SQLite changes with every change of the schema, such as a dropped trigger),
// and, unless the schema version is ?1 (the last one whose triggers were found in place),
// counts the revisionTriggers in place in the same snapshot (-1 when not counted).
var readRevisionQuery = `SELECT r.revision, s.schema_version,
	CASE WHEN s.schema_version = ?1 THEN -1 ELSE (SELECT count(*) FROM sqlite_schema
		WHERE type = 'trigger' AND (name, tbl_name) IN (VALUES ` + revisionTriggerPairs() + `)
		AND instr(sql, 'UPDATE introspection_revision SET revision = randomblob(16);') > 0) END
FROM introspection_revision AS r, pragma_schema_version AS s`

// revisionTriggerPairs is revisionTriggers as SQL row values ('name', 'table'), ...
func revisionTriggerPairs() string {
	pairs := make([]string, len(revisionTriggers))
	for i, tr := range revisionTriggers {
		pairs[i] = "('" + tr.name + "', '" + tr.table + "')"
	}
	return strings.Join(pairs, ", ")
}

// errRevisionTriggers is the error of a revision read that found a trigger of
// revisionTriggers missing.
var errRevisionTriggers = errors.New("a trigger that records changes of tokens and credentials is missing: kept introspection reads cannot be trusted (restore it from migration 0007_introspection_revision.sql)")

// introspectionReader is one read-only driver connection of its own with
// readForIntrospectionQuery and readRevisionQuery prepared on it, used by one
// ReadForIntrospection or ReadRevision at a time.
type introspectionReader struct {
	conn    driver.Conn
	stmt    driver.Stmt
	revStmt driver.Stmt
	dest    []driver.Value // one row of readForIntrospectionQuery, reused
}

// introspectionReaders are the connections ReadForIntrospection reads on. They are driver
// connections outside database/sql: its shared statement takes locks and looks up the
// connection's copy of the statement on every use, its rows start a goroutine per query to
// watch the context, and its Scan converts every column again (21 of the 184 allocations of
// an introspection in BenchmarkIntrospect_handler went with them).
type introspectionReaders struct {
	free   chan *introspectionReader
	all    []*introspectionReader
	closed chan struct{} // closed by close: no more reads
	// verifiedSchema is the last schema version a revision read found every trigger of
	// revisionTriggers in (-1: none yet).
	verifiedSchema atomic.Int64
}

// openIntrospectionReaders opens n read-only connections to path (the read pool's pragmas
// but the memory map) and prepares readForIntrospectionQuery and readRevisionQuery on each.
//
// They read without a memory map: a read that finds the database changed since the
// connection's last read drops its page cache and, with a map, unmaps the whole file (a
// munmap, which interrupts every thread of the process) to map it again. The verification
// log commits every few milliseconds, so most reads found it changed; the revision read
// touches one page, which a plain read of the file costs less (about 5 µs less CPU per
// introspection in BenchmarkIntrospect_handler).
func openIntrospectionReaders(ctx context.Context, path string, n int) (*introspectionReaders, error) {
	rs := &introspectionReaders{free: make(chan *introspectionReader, n), closed: make(chan struct{})}
	rs.verifiedSchema.Store(-1)
	var drv moderncsqlite.Driver
	for range n {
		conn, err := drv.Open(dsnMapped(path, false, 0))
		if err != nil {
			return nil, errors.Join(err, rs.close())
		}
		r := &introspectionReader{conn: conn, dest: make([]driver.Value, readForIntrospectionColumns)}
		if r.stmt, err = prepareOn(ctx, conn, readForIntrospectionQuery); err != nil {
			return nil, errors.Join(err, conn.Close(), rs.close())
		}
		if r.revStmt, err = prepareOn(ctx, conn, readRevisionQuery); err != nil {
			return nil, errors.Join(err, r.stmt.Close(), conn.Close(), rs.close())
		}
		rs.all = append(rs.all, r)
		rs.free <- r
	}
	return rs, nil
}

// prepareOn prepares query on the driver connection conn.
func prepareOn(ctx context.Context, conn driver.Conn, query string) (driver.Stmt, error) {
	if p, ok := conn.(driver.ConnPrepareContext); ok {
		return p.PrepareContext(ctx, query)
	}
	return conn.Prepare(query)
}

// close waits for the readers in use to be returned, then closes every statement and
// connection. Reads that start afterwards fail.
func (rs *introspectionReaders) close() error {
	close(rs.closed)
	var errs []error
	for range rs.all {
		r := <-rs.free
		errs = append(errs, r.stmt.Close(), r.revStmt.Close(), r.conn.Close())
	}
	return errors.Join(errs...)
}

// errStoreClosed is the error of a read after Close.
var errStoreClosed = errors.New("the store is closed")

// read runs readForIntrospectionQuery with the hashes on a free reader and returns the row
// in a fresh slice. Waiting for a free reader ends with ctx; the statement itself is not
// interrupted by ctx, which spares the driver a goroutine and a progress handler per read: it
// reads one row by index lookups, and a WAL reader waits for a lock only in rare cases (WAL
// recovery), for at most BusyTimeoutMillis.
func (rs *introspectionReaders) read(ctx context.Context, credentialHash, tokenHash []byte) ([]driver.Value, error) {
	r, err := rs.take(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { rs.free <- r }()
	if err := queryRow(r.stmt, []driver.NamedValue{{Ordinal: 1, Value: credentialHash}, {Ordinal: 2, Value: tokenHash}}, r.dest); err != nil {
		return nil, err
	}
	return append([]driver.Value(nil), r.dest...), nil
}

// readRevision runs readRevisionQuery on a free reader (see read).
func (rs *introspectionReaders) readRevision(ctx context.Context) (store.Revision, error) {
	r, err := rs.take(ctx)
	if err != nil {
		return store.Revision{}, err
	}
	defer func() { rs.free <- r }()
	var dest [3]driver.Value
	verified := rs.verifiedSchema.Load()
	if err := queryRow(r.revStmt, []driver.NamedValue{{Ordinal: 1, Value: verified}}, dest[:]); err != nil {
		return store.Revision{}, err
	}
	schema, ok1 := dest[1].(int64)
	triggers, ok2 := dest[2].(int64)
	switch {
	case !ok1 || !ok2:
		return store.Revision{}, fmt.Errorf("unexpected schema version %T and trigger count %T", dest[1], dest[2])
	case triggers == -1: // the schema is the one verified last
	case triggers == int64(len(revisionTriggers)):
		rs.verifiedSchema.CompareAndSwap(verified, schema)
	default:
		return store.Revision{}, errRevisionTriggers
	}
	return revisionOf(dest[0])
}

// take waits for a free reader, until ctx ends or the readers are closed.
func (rs *introspectionReaders) take(ctx context.Context) (*introspectionReader, error) {
	select {
	case <-rs.closed:
		return nil, errStoreClosed
	default:
	}
	select {
	case r := <-rs.free:
		if err := ctx.Err(); err != nil {
			rs.free <- r
			return nil, err
		}
		return r, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-rs.closed:
		return nil, errStoreClosed
	}
}

// queryRow runs stmt with args and reads its one row into dest.
func queryRow(stmt driver.Stmt, args []driver.NamedValue, dest []driver.Value) error {
	rows, err := stmt.(driver.StmtQueryContext).QueryContext(context.Background(), args)
	if err != nil {
		return err
	}
	clear(dest)
	err = rows.Next(dest)
	if errors.Is(err, io.EOF) {
		err = errors.New("the statement returned no row")
	}
	if closeErr := rows.Close(); err == nil {
		err = closeErr
	}
	return err
}

// revisionOf is the store.Revision in the column value v.
func revisionOf(v driver.Value) (store.Revision, error) {
	var rev store.Revision
	b, ok := v.([]byte)
	if !ok || len(b) != len(rev) {
		return rev, fmt.Errorf("the introspection revision is %T of %d bytes, want %d bytes (has introspection_revision been changed by hand?)", v, len(b), len(rev))
	}
	copy(rev[:], b)
	return rev, nil
}

// ReadRevision reads the introspection revision (store.Store) on a connection of
// introspectionReaders, in a statement of its own: it reads the last committed state when it
// starts. Whenever the schema has changed since the last read, the same statement also checks
// that every trigger of revisionTriggers is in place, and ReadRevision fails when one is not
// (dropped or replaced by hand while the service runs), so that no kept read is trusted.
func (s *Store) ReadRevision(ctx context.Context) (_ store.Revision, err error) {
	defer func() { err = classify(err) }()
	rev, err := s.introspection.readRevision(ctx)
	if err != nil {
		return store.Revision{}, fmt.Errorf("sqlite: reading the introspection revision: %w", err)
	}
	return rev, nil
}

// revisionTriggers are the triggers of migration 0007 that change the introspection
// revision, by table.
var revisionTriggers = []struct{ name, table string }{
	{"tokens_revision_insert", "tokens"}, {"tokens_revision_delete", "tokens"}, {"tokens_revision_update", "tokens"},
	{"credentials_revision_insert", "credentials"}, {"credentials_revision_delete", "credentials"},
	{"credentials_revision_update", "credentials"},
}

// CheckRevisionTriggers (store.Store) finds every trigger of revisionTriggers on its table,
// and introspection_revision with its one row.
func (s *Store) CheckRevisionTriggers(ctx context.Context) error {
	var missing []string
	for _, tr := range revisionTriggers {
		var n int
		if err := s.read.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND name = ? AND tbl_name = ?",
			tr.name, tr.table).Scan(&n); err != nil {
			return fmt.Errorf("sqlite: checking the introspection revision triggers: %w", err)
		}
		if n != 1 {
			missing = append(missing, tr.name+" on "+tr.table)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("sqlite: %s: the trigger(s) %s that record every change of a token or credential are missing (dropped by hand?): without them a revocation made outside the service could go unseen; restore them from migration 0007_introspection_revision.sql and check the tokens and credentials for other changes",
			s.path, strings.Join(missing, ", "))
	}
	if _, err := s.ReadRevision(ctx); err != nil {
		return err
	}
	return nil
}

// ReadForIntrospection reads the credential whose secret hash is credentialHash and the
// token whose current or previous secret hash is tokenHash in one statement, prepared once on
// each connection of its own (introspectionReaders). A statement outside a transaction reads
// one snapshot of the last committed state, taken when it starts, so no BEGIN and ROLLBACK
// are needed.
func (s *Store) ReadForIntrospection(ctx context.Context, credentialHash, tokenHash []byte) (_ store.IntrospectionRead, err error) {
	defer func() { err = classify(err) }()
	if len(credentialHash) == 0 || len(tokenHash) == 0 {
		return store.IntrospectionRead{}, errors.New("sqlite: reading for introspection: empty secret hash")
	}
	row, err := s.introspection.read(ctx, credentialHash, tokenHash)
	if err != nil {
		return store.IntrospectionRead{}, fmt.Errorf("sqlite: reading for introspection: %w", err)
	}
	var (
		got   store.IntrospectionRead
		c     = &got.Credential
		t     = &got.Token
		d     decoder
		col   columnReader
		valid bool
	)
	if c.ID, valid = col.text(row[0]); valid {
		got.CredentialFound = true
		rights, _ := col.text(row[1])
		c.Rights = d.strings("rights", rights)
		c.RevokedAt = d.optTime("revoked_at", col.nullText(row[2]))
		c.OwnerIndex, _ = col.text(row[14])
		c.SecretHash = col.blob(row[15])
		c.PrevValidUntil = d.optTime("prev_valid_until", col.nullText(row[16]))
		c.PrevSecretHash = col.blob(row[17])
		c.GrantMAC, _ = col.text(row[18])
		if err := errors.Join(col.err, d.err); err != nil {
			return store.IntrospectionRead{}, fmt.Errorf("sqlite: reading for introspection: credential %q: %w", c.ID, err)
		}
	}
	if got.Revision, err = revisionOf(row[19]); err != nil {
		return store.IntrospectionRead{}, fmt.Errorf("sqlite: reading for introspection: %w", err)
	}
	if t.ID, valid = col.text(row[3]); valid {
		got.TokenFound = true
		t.Status, _ = col.text(row[4])
		created, _ := col.text(row[5])
		expires, _ := col.text(row[6])
		scopes, _ := col.text(row[8])
		audiences, _ := col.text(row[9])
		t.CreatedAt = d.time("created_at", created)
		t.ExpiresAt = d.time("expires_at", expires)
		t.OwnerCipher = col.blob(row[7])
		t.Scopes = d.strings("scopes", scopes)
		t.Audiences = d.strings("audiences", audiences)
		t.SecretHash = col.blob(row[10])
		t.PrevSecretHash = col.blob(row[11])
		t.PrevValidUntil = d.optTime("prev_valid_until", col.nullText(row[12]))
		t.RotatedAt = d.optTime("rotated_at", col.nullText(row[13]))
		if err := errors.Join(col.err, d.err); err != nil {
			return store.IntrospectionRead{}, fmt.Errorf("sqlite: reading for introspection: token %q: %w", t.ID, err)
		}
	}
	return got, nil
}

// columnReader converts the driver's values of a row, keeping the first value of an
// unexpected type as err.
type columnReader struct{ err error }

// text is v as a string; valid is false when v is NULL.
func (cr *columnReader) text(v driver.Value) (s string, valid bool) {
	switch v := v.(type) {
	case nil:
		return "", false
	case string:
		return v, true
	case []byte:
		return string(v), true
	}
	cr.fail(v)
	return "", false
}

// nullText is v as a sql.NullString.
func (cr *columnReader) nullText(v driver.Value) sql.NullString {
	s, valid := cr.text(v)
	return sql.NullString{String: s, Valid: valid}
}

// blob is v as bytes (nil when NULL). The driver copies a blob out of SQLite's memory, so the
// slice is the caller's.
func (cr *columnReader) blob(v driver.Value) []byte {
	switch v := v.(type) {
	case nil:
		return nil
	case []byte:
		return v
	case string:
		return []byte(v)
	}
	cr.fail(v)
	return nil
}

// fail records that a column held a value of type v's, which no column of
// readForIntrospectionQuery holds.
func (cr *columnReader) fail(v driver.Value) {
	if cr.err == nil {
		cr.err = fmt.Errorf("unexpected column value of type %T", v)
	}
}

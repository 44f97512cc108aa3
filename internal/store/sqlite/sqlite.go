// Package sqlite is the embedded, single-file implementation of store.Store, on the pure-Go
// modernc.org/sqlite driver.
//
// The database runs in WAL mode with synchronous=FULL, so a committed Update survives a power
// cut, and readers never wait for the writer. Two connection pools share the file:
//
//   - one write connection, whose transactions start with BEGIN IMMEDIATE: writers in this
//     process queue for that connection, and writers in other processes wait (busy_timeout)
//     for the database write lock, so the audit chain can never fork;
//   - a pool of read-only (query_only) connections for View, which see the last committed
//     state and run concurrently with the writer. They read the database file through a
//     memory map (mmap_size): every commit empties a reader's page cache, and with the map
//     the pages it needs again cost no read system call. (The writer keeps plain reads; an
//     I/O error while reading the map ends the process instead of failing the read, as SQLite
//     documents for mmap; committed data is not affected.)
//
// ReadForIntrospection and ReadRevision run on read-only driver connections of their own,
// without the memory map (see openIntrospectionReaders).
//
// Instants are stored in UTC with nanosecond precision and are returned in UTC, equal
// (time.Time.Equal, and == when written in UTC) to what was written.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	moderncsqlite "modernc.org/sqlite"
	sqlitelib "modernc.org/sqlite/lib"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// ReadMapBytes is the most of the database file a read connection maps into memory.
const ReadMapBytes = 1 << 30

// BusyTimeoutMillis is how long a connection waits for a lock held by another process before
// failing with "database is locked" (SQLITE_BUSY, store.ErrBusy, answered 503 by the
// service): below the service's default request timeout (10 s), so the answer comes within
// the request's deadline.
const BusyTimeoutMillis = 5000

// Store is a tokenguard database in one SQLite file. It is safe for concurrent use.
type Store struct {
	path  string
	write *sql.DB  // exactly one connection: in-process writers queue here
	read  *sql.DB  // query_only connections for View and Ping
	hot   hotStmts // the introspection path's reads and the verification log's writes, prepared once
	// introspection are ReadForIntrospection's connections of its own
	introspection *introspectionReaders

	// auditKey is the key new audit records are chained under (nil: unkeyed).
	auditKey atomic.Pointer[audit.Key]

	closeOnce sync.Once
	closeErr  error
}

// SetAuditKey chains the audit records appended from now on under key (store.Store).
func (s *Store) SetAuditKey(key *audit.Key) { s.auditKey.Store(key) }

var _ store.Store = (*Store)(nil)

// Open opens the database at path, creating the file with mode 0600 when it does not exist,
// and applies any pending schema migrations. Close the Store when done.
func Open(ctx context.Context, path string) (*Store, error) {
	if err := checkPath(path); err != nil {
		return nil, err
	}
	if err := createFile(path); err != nil {
		return nil, err
	}
	write, err := openPool(ctx, path, true)
	if err != nil {
		return nil, err
	}
	if _, err := migrate(ctx, write); err != nil {
		_ = write.Close()
		return nil, fmt.Errorf("sqlite: migrating %s: %w", path, err)
	}
	read, err := openPool(ctx, path, false)
	if err != nil {
		_ = write.Close()
		return nil, err
	}
	hot, err := prepareHot(ctx, read, write)
	if err != nil {
		_ = read.Close()
		_ = write.Close()
		return nil, fmt.Errorf("sqlite: preparing statements on %s: %w", path, err)
	}
	introspection, err := openIntrospectionReaders(ctx, path, readPoolSize())
	if err != nil {
		_ = hot.close()
		_ = read.Close()
		_ = write.Close()
		return nil, fmt.Errorf("sqlite: opening introspection readers on %s: %w", path, err)
	}
	return &Store{path: path, write: write, read: read, hot: hot, introspection: introspection}, nil
}

// hotStmts are the statements of the introspection path and of the verification log,
// prepared once: the driver parses a query on every call otherwise (ReadForIntrospection's
// statement is prepared on connections of its own, see introspectionReaders). The read
// statements are prepared on the read pool (database/sql prepares each again, once, on every
// read connection it is used on and keeps it there) and the write statements on the one write
// connection; transactions use them through Tx.StmtContext. A nil statement (a read statement
// in a transaction of Update, say) falls back to a plain query.
type hotStmts struct {
	// read pool
	findTokenByHash     *sql.Stmt
	getCredentialByHash *sql.Stmt
	// write connection
	auditHead       *sql.Stmt
	insertAudit     *sql.Stmt
	insertAudits    *sql.Stmt // auditInsertRows records at once
	touchLastUsedIf *sql.Stmt
}

// prepareHot prepares the read statements on read and the write statements on write.
func prepareHot(ctx context.Context, read, write *sql.DB) (hotStmts, error) {
	var h hotStmts
	for _, p := range []struct {
		db    *sql.DB
		query string
		into  **sql.Stmt
	}{
		{read, findTokenByHashQuery, &h.findTokenByHash},
		{read, getCredentialByHashQuery, &h.getCredentialByHash},
		{write, auditHeadQuery, &h.auditHead},
		{write, insertAuditQuery, &h.insertAudit},
		{write, insertAuditsQuery, &h.insertAudits},
		{write, touchLastUsedAllQuery, &h.touchLastUsedIf},
	} {
		st, err := p.db.PrepareContext(ctx, p.query)
		if err != nil {
			_ = h.close()
			return hotStmts{}, err
		}
		*p.into = st
	}
	return h, nil
}

// close closes the prepared statements, if any.
func (h hotStmts) close() error {
	var errs []error
	for _, st := range []*sql.Stmt{h.findTokenByHash, h.getCredentialByHash,
		h.auditHead, h.insertAudit, h.insertAudits, h.touchLastUsedIf} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

// readOnly is h with its write statements left out, for View.
func (h hotStmts) readOnly() hotStmts {
	return hotStmts{findTokenByHash: h.findTokenByHash, getCredentialByHash: h.getCredentialByHash}
}

// writeOnly is h with its read-pool statements left out, for Update.
func (h hotStmts) writeOnly() hotStmts {
	return hotStmts{auditHead: h.auditHead, insertAudit: h.insertAudit, insertAudits: h.insertAudits,
		touchLastUsedIf: h.touchLastUsedIf}
}

// Path is the file the Store was opened on.
func (s *Store) Path() string { return s.path }

// checkPath rejects names the driver would not treat as a plain file path.
func checkPath(path string) error {
	switch {
	case path == "":
		return errors.New("sqlite: database path is empty: give the path of the database file")
	case path == ":memory:" || strings.HasPrefix(path, "file:"):
		return fmt.Errorf("sqlite: database path %q is not a file path: give the path of the database file", path)
	case strings.ContainsRune(path, '?'):
		return fmt.Errorf("sqlite: database path %q contains '?': rename the file or its directory", path)
	}
	return nil
}

// createFile creates path with mode 0600 if it does not exist, so the database (and the WAL
// and shared-memory files SQLite creates with the database file's mode) is never readable by
// other users. An existing file is left as it is.
func createFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600) //nolint:gosec // the operator chooses the database path
	switch {
	case err == nil:
		if err := f.Close(); err != nil {
			return fmt.Errorf("sqlite: creating database file: %w", err)
		}
		return nil
	case errors.Is(err, fs.ErrExist):
		return nil
	default:
		return fmt.Errorf("sqlite: creating database file: %w", err)
	}
}

// dsn returns the data source name for path. The pragmas are DSN parameters, so the driver
// applies them to every connection it opens, including ones the pool opens later.
func dsn(path string, writer bool) string {
	mapBytes := 0
	if !writer {
		mapBytes = ReadMapBytes
	}
	return dsnMapped(path, writer, mapBytes)
}

// dsnMapped is dsn with a memory map of mapBytes for a reader (none when 0).
func dsnMapped(path string, writer bool, mapBytes int) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", BusyTimeoutMillis))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(FULL)")
	if writer {
		q.Add("_pragma", "journal_mode(WAL)") // persistent in the file; readers inherit it
		q.Set("_txlock", "immediate")
	} else {
		q.Set("_query_only", "1")
		q.Add("_pragma", fmt.Sprintf("mmap_size(%d)", mapBytes))
	}
	return path + "?" + q.Encode()
}

// readPoolSize is how many read connections the read pool keeps, and how many
// ReadForIntrospection keeps of its own.
func readPoolSize() int { return max(4, runtime.GOMAXPROCS(0)) }

func openPool(ctx context.Context, path string, writer bool) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn(path, writer))
	if err != nil {
		return nil, fmt.Errorf("sqlite: opening %s: %w", path, err)
	}
	if writer {
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
	} else {
		n := readPoolSize()
		db.SetMaxOpenConns(n)
		db.SetMaxIdleConns(n)
	}
	// Connecting applies the pragmas; a file that is not a database fails here.
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqlite: opening %s: %w", path, err)
	}
	if writer {
		var mode string
		if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("sqlite: reading journal mode of %s: %w", path, err)
		}
		if !strings.EqualFold(mode, "wal") {
			_ = db.Close()
			return nil, fmt.Errorf("sqlite: %s: journal mode is %q, not WAL (is the file on a file system without shared memory support?)", path, mode)
		}
	}
	return db, nil
}

// View runs fn in a read-only transaction on a snapshot of the last committed state. It does
// not wait for a write in progress. A panic in fn is recovered and returned as an error.
func (s *Store) View(ctx context.Context, fn func(store.Reader) error) (err error) {
	defer func() { err = classify(err) }()
	sqlTx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("sqlite: beginning read transaction: %w", err)
	}
	defer func() {
		if r := recover(); r != nil {
			_ = sqlTx.Rollback()
			err = panicError(r)
		}
	}()
	fnErr := fn(&tx{q: sqlTx, hot: s.hot.readOnly()})
	// A read transaction has nothing to keep; rolling back ends it and frees the snapshot.
	if rbErr := sqlTx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) && fnErr == nil {
		return fmt.Errorf("sqlite: ending read transaction: %w", rbErr)
	}
	return fnErr
}

// Update runs fn in a write transaction and commits it durably (WAL, synchronous=FULL)
// before returning. Write transactions are serialised: one at a time in this process, and
// BEGIN IMMEDIATE against other processes. If fn returns an error, the transaction is rolled
// back and that error is returned as it is. If fn panics, the transaction is rolled back and
// Update returns an error describing the panic instead of re-panicking.
//
// fn must not call Update on the same Store: the write connection is already in use and the
// call would wait for itself.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) (err error) {
	defer func() { err = classify(err) }()
	sqlTx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: beginning write transaction: %w", err)
	}
	defer func() {
		if r := recover(); r != nil {
			_ = sqlTx.Rollback()
			err = panicError(r)
		}
	}()
	if fnErr := fn(&tx{q: sqlTx, hot: s.hot.writeOnly(), auditKey: s.auditKey.Load()}); fnErr != nil {
		// ErrTxDone: the context ended and database/sql has rolled back already.
		if rbErr := sqlTx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
			return errors.Join(fnErr, fmt.Errorf("sqlite: rolling back: %w", rbErr))
		}
		return fnErr
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("sqlite: committing: %w", err)
	}
	return nil
}

// panicError turns a recovered panic value into the error View and Update return.
func panicError(r any) error {
	if e, ok := r.(error); ok {
		return fmt.Errorf("sqlite: transaction rolled back: function panicked: %w", e)
	}
	return fmt.Errorf("sqlite: transaction rolled back: function panicked: %v", r)
}

// Ping reports whether the database answers a query. It uses a read connection, so a long
// write does not make the store look unavailable.
func (s *Store) Ping(ctx context.Context) (err error) {
	defer func() { err = classify(err) }()
	var one int
	if err := s.read.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// Close closes both connection pools. Closing a closed Store returns the first result again.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closeErr = errors.Join(s.introspection.close(), s.hot.close(), s.read.Close(), s.write.Close())
	})
	return s.closeErr
}

// isChainViolation reports whether err is the refusal of an audit record that would not
// extend the chain: a sequence number already used (primary key) or a record not chained to
// the one before it (trigger audit_chain_linked).
func isChainViolation(err error) bool {
	var se *moderncsqlite.Error
	return isUniqueViolation(err) || (errors.As(err, &se) && se.Code() == sqlitelib.SQLITE_CONSTRAINT_TRIGGER)
}

// isUniqueViolation reports whether err is a primary-key or unique constraint violation.
func isUniqueViolation(err error) bool {
	var se *moderncsqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() {
	case sqlitelib.SQLITE_CONSTRAINT_UNIQUE, sqlitelib.SQLITE_CONSTRAINT_PRIMARYKEY:
		return true
	}
	return false
}

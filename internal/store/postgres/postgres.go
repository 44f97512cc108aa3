// Package postgres is the PostgreSQL implementation of store.Store, on pgx v5 (pgxpool), for
// several stateless tokenguard instances sharing one database.
//
// Nothing is cached in the process: every read goes to the database, so a write committed
// by one instance (a revocation, say) is seen by the next read on every other instance.
//
// Write transactions (Update) run at READ COMMITTED and begin by locking the single row of
// audit_head (SELECT ... FOR UPDATE). That row lock serialises every write transaction on
// the database, whichever process runs it, the way SQLite's write lock does:
//
//   - the audit chain cannot fork, and one transaction's audit records are contiguous;
//   - every statement after the lock sees everything committed before it was granted;
//   - writers cannot deadlock each other and never fail with serialization errors, so
//     Update never needs to run fn twice (and never does).
//
// Read transactions (View) are READ ONLY at REPEATABLE READ: one snapshot of committed
// data for the whole of fn, taken without waiting for any writer.
//
// A constraint violation inside Update (duplicate id, owner and name, credential secret
// hash or idempotency key) is reported as store.ErrConflict and does not abort the
// transaction: fn may handle the conflict and go on, as it can with the SQLite store.
//
// Instants are stored as timestamptz, truncated to the microsecond, and returned in UTC.
// Strings are PostgreSQL text: they must be valid UTF-8 without NUL characters.
//
// The schema lives in the first schema of the connection's search_path (set it with a
// search_path parameter in the URL to keep tokenguard's tables apart). Open applies the
// embedded migrations under a transaction-level advisory lock, so instances starting
// together do not race.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// WriteConns is the size of a Store's write pool. Only one write transaction runs at a time
// on the database, so more connections would only wait; the second one queues at the lock,
// so the next writer of this process starts as soon as the lock is released.
const WriteConns = 2

// ServiceLockConns is the connection a running service keeps for its service lock
// (HoldAsService), outside the pools but inside the pool_max_conns budget.
const ServiceLockConns = 1

// Session timeouts every connection sets, unless the database URL gives its own
// (?statement_timeout=...&lock_timeout=..., in milliseconds or with a unit such as 2s). Both
// are below the service's default request timeout (10 s), so a stuck database is answered
// 503 within the request's deadline.
const (
	DefaultStatementTimeout = 5 * time.Second
	DefaultLockTimeout      = 3 * time.Second
)

// Store is a tokenguard database on a PostgreSQL server. It is safe for concurrent use, and
// several Stores (in one process or many) may share one database.
//
// Connection budget: an instance opens at most pool_max_conns connections in all (the URL
// parameter; WriteConns + introspectionQueriesInFlight + ServiceLockConns of them are
// reserved, at least one more is needed for reads), or pgx's default read pool size
// max(4, CPUs) + 5 without it. N
// instances need N × pool_max_conns <= max_connections − superuser_reserved_connections.
//
// It has two connection pools, as the SQLite store does: WriteConns connections for Update,
// where writers of this process queue without holding a connection of the read pool, and a
// read pool (pgx's default size, or pool_max_conns from the URL) for View and Ping, so that
// reads are never starved by writers waiting for the write lock. A third pool of
// introspectionQueriesInFlight connections runs ReadForIntrospection's coalesced lookups.
type Store struct {
	read           *pgxpool.Pool
	write          *pgxpool.Pool
	lookup         *pgxpool.Pool       // introspectionQueriesInFlight connections for ReadForIntrospection
	introspections *introspectionReads // coalesces ReadForIntrospection calls
	backoff        *reconnectBackoff   // shared by the pools: reconnects back off with jitter
	// auditKey is the key new audit records are chained under (nil: unkeyed).
	auditKey atomic.Pointer[audit.Key]

	closeOnce sync.Once
}

// SetAuditKey chains the audit records appended from now on under key (store.Store).
func (s *Store) SetAuditKey(key *audit.Key) { s.auditKey.Store(key) }

var _ store.Store = (*Store)(nil)

// Open connects to the database at databaseURL (postgres://user:password@host:port/db?params; pgx
// and libpq parameters such as sslmode, search_path and pool_max_conns are honoured),
// checks that commits are durable, and applies any pending schema migrations. Close the
// Store when done. Errors never show the password.
func Open(ctx context.Context, databaseURL string) (*Store, error) {
	s, err := connect(ctx, databaseURL)
	if err != nil {
		return nil, err
	}
	where := describe(s.write.Config())
	if err := s.write.Ping(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("postgres: connecting to %s: %w", where, err)
	}
	if err := checkDurable(ctx, s.write); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("postgres: %s: %w", where, err)
	}
	if _, err := migrate(ctx, s.write); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("postgres: migrating %s: %w", where, err)
	}
	return s, nil
}

// connect parses databaseURL and creates the Store's pools; connections are made when
// first used.
func connect(ctx context.Context, databaseURL string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, parseError(databaseURL, err)
	}
	// Every session bounds its waits (unless the URL sets its own): a statement or a lock
	// wait that passes them fails with 57014 or 55P03, which the service answers 503, instead
	// of holding a request until the HTTP server's write timeout closes its connection.
	if cfg.ConnConfig.RuntimeParams == nil {
		cfg.ConnConfig.RuntimeParams = map[string]string{}
	}
	for name, value := range map[string]string{
		"statement_timeout": strconv.Itoa(int(DefaultStatementTimeout.Milliseconds())),
		"lock_timeout":      strconv.Itoa(int(DefaultLockTimeout.Milliseconds())),
	} {
		if _, set := cfg.ConnConfig.RuntimeParams[name]; !set {
			cfg.ConnConfig.RuntimeParams[name] = value
		}
	}
	// pool_max_conns is the instance's whole connection budget: the write and lookup pools
	// take their fixed shares and the read pool the rest. Without it, the read pool keeps
	// pgx's default size and the budget is that plus the fixed shares.
	fixed := int32(WriteConns + introspectionQueriesInFlight + ServiceLockConns)
	if strings.Contains(databaseURL, "pool_max_conns") {
		if cfg.MaxConns < fixed+1 {
			return nil, fmt.Errorf("postgres: pool_max_conns=%d is too small: it bounds all of an instance's connections (%d for writes, %d for introspection lookups, %d for the service lock, the rest for reads): give at least %d",
				cfg.MaxConns, WriteConns, introspectionQueriesInFlight, ServiceLockConns, fixed+1)
		}
		cfg.MaxConns -= fixed
	}
	backoff := &reconnectBackoff{}
	backoff.install(cfg)
	writeCfg := cfg.Copy()
	writeCfg.MaxConns = WriteConns
	writeCfg.MinConns = 0
	// The introspection lookups' statement is the same on every call but for its arrays:
	// planning it again on every execution (PostgreSQL's custom plans) cost more than running
	// it, so its connections keep the generic plan.
	lookupCfg := cfg.Copy()
	lookupCfg.MaxConns = introspectionQueriesInFlight
	lookupCfg.MinConns = 0
	if lookupCfg.ConnConfig.RuntimeParams == nil {
		lookupCfg.ConnConfig.RuntimeParams = map[string]string{}
	}
	lookupCfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
	read, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connecting to %s: %w", describe(cfg), err)
	}
	write, err := pgxpool.NewWithConfig(ctx, writeCfg)
	if err != nil {
		read.Close()
		return nil, fmt.Errorf("postgres: connecting to %s: %w", describe(cfg), err)
	}
	lookup, err := pgxpool.NewWithConfig(ctx, lookupCfg)
	if err != nil {
		read.Close()
		write.Close()
		return nil, fmt.Errorf("postgres: connecting to %s: %w", describe(cfg), err)
	}
	s := &Store{read: read, write: write, lookup: lookup, backoff: backoff}
	s.introspections = &introspectionReads{run: s.readForIntrospection}
	return s, nil
}

// describe names the database of cfg for error messages: host, port, database and user,
// never the password.
func describe(cfg *pgxpool.Config) string {
	c := cfg.ConnConfig
	return fmt.Sprintf("database %q on %s:%d as user %q", c.Database, c.Host, c.Port, c.User)
}

// parseError reports a URL pgx could not parse. pgx redacts passwords on a best-effort
// basis only, so its message is kept only when the URL parses well enough to know the
// password and the message does not contain it.
func parseError(raw string, err error) error {
	const generic = "postgres: the database URL is not valid (it is not shown, as it may hold a password): expected postgres://user:password@host:port/database?param=value"
	u, perr := url.Parse(raw)
	if perr != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return errors.New(generic)
	}
	msg := err.Error()
	if pw, ok := u.User.Password(); ok && pw != "" {
		if strings.Contains(msg, pw) || strings.Contains(msg, url.PathEscape(pw)) || strings.Contains(msg, url.QueryEscape(pw)) {
			return errors.New(generic)
		}
	}
	for _, key := range []string{"password", "sslpassword"} {
		if v := u.Query().Get(key); v != "" && strings.Contains(msg, v) {
			return errors.New(generic)
		}
	}
	return fmt.Errorf("postgres: the database URL is not valid: %s", msg)
}

// checkDurable refuses synchronous_commit=off, under which a commit can be lost after
// Update returned: the service promises that a mutation it acknowledged is durable.
func checkDurable(ctx context.Context, pool *pgxpool.Pool) error {
	var mode string
	if err := pool.QueryRow(ctx, "SELECT current_setting('synchronous_commit')").Scan(&mode); err != nil {
		return fmt.Errorf("reading synchronous_commit: %w", err)
	}
	if mode == "off" {
		return errors.New("synchronous_commit is off, so a committed write can be lost: set it to on (or remote_write, remote_apply, local) for this database or role, or add synchronous_commit=on to the URL")
	}
	return nil
}

// View runs fn in a read-only REPEATABLE READ transaction: one snapshot of committed data,
// taken without waiting for writers. A panic in fn is recovered and returned as an error.
func (s *Store) View(ctx context.Context, fn func(store.Reader) error) (err error) {
	defer func() { err = classify(err) }()
	conn, err := acquire(ctx, s.read)
	if err != nil {
		return fmt.Errorf("postgres: beginning read transaction: %w", err)
	}
	defer conn.Release() // after the transaction has ended (deferred calls run last first)
	pgTx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("postgres: beginning read transaction: %w", err)
	}
	defer func() {
		if r := recover(); r != nil {
			rollback(ctx, pgTx)
			err = panicError(r)
		}
	}()
	fnErr := fn(&tx{q: pgTx})
	// A read transaction has nothing to keep; rolling back ends it.
	if rbErr := pgTx.Rollback(ctx); rbErr != nil && !errors.Is(rbErr, pgx.ErrTxClosed) && fnErr == nil {
		return fmt.Errorf("postgres: ending read transaction: %w", rbErr)
	}
	return fnErr
}

// Update runs fn in a write transaction and commits it before returning (durable as the
// server's synchronous_commit makes it; Open refuses "off").
//
// The transaction first locks the audit_head row, so write transactions on the database
// run one at a time, across all processes; fn runs exactly once. If fn returns an error,
// the transaction is rolled back and that error is returned as it is. If fn panics, the
// transaction is rolled back and Update returns an error describing the panic instead of
// re-panicking.
//
// fn must not call Update on a Store on the same database: the inner call would wait for
// the lock the outer one holds, for ever.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) (err error) {
	defer func() { err = classify(err) }()
	conn, err := acquire(ctx, s.write)
	if err != nil {
		return fmt.Errorf("postgres: beginning write transaction: %w", err)
	}
	defer conn.Release() // after the transaction has ended (deferred calls run last first)
	pgTx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted, AccessMode: pgx.ReadWrite})
	if err != nil {
		return fmt.Errorf("postgres: beginning write transaction: %w", err)
	}
	defer func() {
		if r := recover(); r != nil {
			rollback(ctx, pgTx)
			err = panicError(r)
		}
	}()
	var locked bool
	if err := pgTx.QueryRow(ctx, "SELECT true FROM audit_head WHERE id FOR UPDATE").Scan(&locked); err != nil {
		rollback(ctx, pgTx)
		if errors.Is(err, pgx.ErrNoRows) {
			return errors.New("postgres: taking the write lock: the audit_head row is missing (the schema is damaged; restore it from a backup)")
		}
		return fmt.Errorf("postgres: taking the write lock: %w", err)
	}
	if fnErr := fn(&tx{q: pgTx, auditKey: s.auditKey.Load()}); fnErr != nil {
		if rbErr := pgTx.Rollback(context.WithoutCancel(ctx)); rbErr != nil && !errors.Is(rbErr, pgx.ErrTxClosed) {
			return errors.Join(fnErr, fmt.Errorf("postgres: rolling back: %w", rbErr))
		}
		return fnErr
	}
	if err := pgTx.Commit(ctx); err != nil {
		if errors.Is(err, pgx.ErrTxCommitRollback) {
			return errors.New("postgres: committing: the server rolled the transaction back because a statement in it failed (fn ignored an error)")
		}
		return fmt.Errorf("postgres: committing: %w", err)
	}
	return nil
}

// rollbackTimeout bounds a rollback run after ctx has ended, so a dead connection cannot
// hold up the caller; pgx closes the connection when a rollback fails, which ends the
// transaction on the server too.
const rollbackTimeout = 10 * time.Second

// rollback ends pgTx, ignoring the result: it runs on paths that already return an error.
// It does not use ctx's cancellation, so a cancelled request still sends ROLLBACK.
func rollback(ctx context.Context, pgTx pgx.Tx) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	_ = pgTx.Rollback(rctx)
}

// panicError turns a recovered panic value into the error View and Update return.
func panicError(r any) error {
	if e, ok := r.(error); ok {
		return fmt.Errorf("postgres: transaction rolled back: function panicked: %w", e)
	}
	return fmt.Errorf("postgres: transaction rolled back: function panicked: %v", r)
}

// Ping reports whether the database answers a query. It uses the read pool, so a long write
// does not make the store look unavailable.
func (s *Store) Ping(ctx context.Context) (err error) {
	defer func() { err = classify(err) }()
	conn, err := acquire(ctx, s.read)
	if err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	defer conn.Release()
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// Close closes both connection pools, waiting for connections in use to be returned.
// Closing a closed Store does nothing.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.read.Close()
		s.write.Close()
		s.lookup.Close()
	})
	return nil
}

// sqlState returns the SQLSTATE of a server error, or "" for other errors.
func sqlState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// uniqueViolation is the SQLSTATE of a unique constraint violation.
const uniqueViolation = "23505"

// integrityConstraintViolation is the SQLSTATE the audit_chain_linked trigger raises for a
// record that does not chain to the one before it.
const integrityConstraintViolation = "23000"

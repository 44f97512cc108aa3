package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// serviceLockClass is the first key of the advisory lock every running service holds
// (shared) and admin rekey takes (exclusive); the second is hashtext(current_schema()), so
// that tokenguard schemas sharing one database do not block each other. ("tgsv" in ASCII.)
const serviceLockClass int32 = 0x74677376

// serviceLockProbe is how often a held service lock's session is checked; a lost session
// (server restarted, connection cut) is opened again at once, then with the reconnect
// backoff, and the lock taken again.
const serviceLockProbe = time.Second

// ServiceLock is the advisory lock a running service holds on its own session (one
// connection outside the pools, counted in pool_max_conns), for as long as it runs.
type ServiceLock struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	held    bool
	retaken int // times the lock was taken again after its session was lost
}

// HoldAsService takes the shared service lock on a session of its own and keeps it until
// Release: while an admin rekey holds the exclusive lock, it waits for the rekey to end (or
// ctx). If the session is lost (the server restarts, the connection is cut), the lock is
// taken again on a new session as soon as the server answers. onWaiting, if not nil, is told
// when the first take has to wait for an admin command; onRetaken, if not nil, is
// told each time, with whether a rekey ran meanwhile (the lock was held exclusively when
// the new session asked for it).
func (s *Store) HoldAsService(ctx context.Context, onWaiting func(), onRetaken func(waitedForRekey bool)) (*ServiceLock, error) {
	conn, _, err := s.takeServiceLock(ctx, onWaiting)
	if err != nil {
		return nil, err
	}
	// The lock outlives the call that took it: it lasts until Release, not until ctx ends.
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l := &ServiceLock{cancel: cancel, done: make(chan struct{}), held: true}
	go l.keep(runCtx, s, conn, onRetaken) //nolint:gosec // G118: the lock lasts until Release, not until ctx ends
	return l, nil
}

// Held reports whether the lock is held now, and how many times it was taken again after
// its session was lost.
func (l *ServiceLock) Held() (held bool, retaken int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held, l.retaken
}

// Release ends the lock's session, which releases the lock.
func (l *ServiceLock) Release() error {
	l.cancel()
	<-l.done
	return nil
}

// keep probes the session and takes the lock again on a new one when it is lost.
func (l *ServiceLock) keep(ctx context.Context, s *Store, conn *pgx.Conn, onRetaken func(bool)) {
	defer close(l.done)
	defer func() {
		if conn != nil {
			closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = conn.Close(closeCtx)
			cancel()
		}
	}()
	wait := reconnectFirstWait
	tick := time.NewTicker(serviceLockProbe)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if conn != nil {
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := conn.Ping(pctx)
			cancel()
			if err == nil {
				continue
			}
			_ = conn.Close(context.Background())
			conn = nil
			l.mu.Lock()
			l.held = false
			l.mu.Unlock()
		}
		for conn == nil {
			c, waited, err := s.takeServiceLock(ctx, nil)
			if err == nil {
				conn, wait = c, reconnectFirstWait
				l.mu.Lock()
				l.held, l.retaken = true, l.retaken+1
				l.mu.Unlock()
				if onRetaken != nil {
					onRetaken(waited)
				}
				break
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait + rand.N(wait/2+1)): //nolint:gosec // G404: jitter, not a secret
			}
			wait = min(2*wait, reconnectLongestWait)
		}
	}
}

// takeServiceLock opens a session and takes the shared service lock on it, waiting while
// an admin command holds it exclusively; waited says whether it had to.
func (s *Store) takeServiceLock(ctx context.Context, onWaiting func()) (*pgx.Conn, bool, error) {
	cfg := s.write.Config().ConnConfig.Copy()
	// The wait for a running rekey may be longer than any statement timeout.
	cfg.RuntimeParams["statement_timeout"] = "0"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, false, classify(fmt.Errorf("postgres: opening the service lock's session: %w", err))
	}
	var ok bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock_shared($1, hashtext(current_schema()))", serviceLockClass).Scan(&ok); err != nil {
		_ = conn.Close(context.Background())
		return nil, false, classify(fmt.Errorf("postgres: taking the service lock: %w", err))
	}
	if ok {
		return conn, false, nil
	}
	if onWaiting != nil {
		onWaiting()
	}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock_shared($1, hashtext(current_schema()))", serviceLockClass); err != nil {
		_ = conn.Close(context.Background())
		return nil, false, classify(fmt.Errorf("postgres: waiting for an admin command to release the service lock: %w", err))
	}
	return conn, true, nil
}

// MaintenanceLock is the exclusive service lock an admin command holds.
type MaintenanceLock struct{ conn *pgx.Conn }

// Release ends the lock's session, which releases the lock.
func (l *MaintenanceLock) Release() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return l.conn.Close(ctx)
}

// maintenanceLockWait is how long HoldForMaintenance waits for the service lock: a service
// that has just exited may leave its session for a moment before the server notices.
const maintenanceLockWait = 3 * time.Second

// HoldForMaintenance takes the service lock exclusively, for a command that must not run
// beside a service (admin rekey). While any service on the database and schema holds its
// shared lock it fails, after waiting at most maintenanceLockWait for services that are
// exiting, with an error that is store.ErrServiceRunning and says how many hold it. While it
// is held, services that start wait for it.
func (s *Store) HoldForMaintenance(ctx context.Context) (*MaintenanceLock, error) {
	cfg := s.write.Config().ConnConfig.Copy()
	cfg.RuntimeParams["lock_timeout"] = strconv.Itoa(int(maintenanceLockWait.Milliseconds()))
	cfg.RuntimeParams["statement_timeout"] = strconv.Itoa(int((maintenanceLockWait + 5*time.Second).Milliseconds()))
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, classify(fmt.Errorf("postgres: opening the maintenance lock's session: %w", err))
	}
	_, err = conn.Exec(ctx, "SELECT pg_advisory_lock($1, hashtext(current_schema()))", serviceLockClass)
	if err == nil {
		return &MaintenanceLock{conn: conn}, nil
	}
	defer func() { _ = conn.Close(context.Background()) }()
	if sqlState(err) != "55P03" {
		return nil, classify(fmt.Errorf("postgres: taking the service lock: %w", err))
	}
	var holders int
	err = conn.QueryRow(ctx, `SELECT count(*) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND mode = 'ShareLock'
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND classid = $1::int4::oid AND objid = hashtext(current_schema())::oid AND objsubid = 2`, serviceLockClass).Scan(&holders)
	if err != nil {
		return nil, classify(fmt.Errorf("postgres: counting the services that hold the database: %w", err))
	}
	if holders == 0 {
		return nil, errors.New("postgres: the service lock is held by another admin command (admin rekey): wait for it to finish")
	}
	return nil, fmt.Errorf("%w: %d tokenguard serve instance(s) hold its service lock", store.ErrServiceRunning, holders)
}

package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// Reconnect backoff: after a connection attempt fails to reach the server, no new attempt is
// made for reconnectFirstWait, doubling with each further failure up to reconnectLongestWait,
// each wait with up to half of it again added at random (jitter) so that instances do not
// reconnect in step. A request that needs a connection meanwhile fails at once with
// store.ErrUnavailable (503 with Retry-After) instead of dialling: while PostgreSQL was down,
// instances used to reconnect thousands of times a second.
const (
	reconnectFirstWait   = 50 * time.Millisecond
	reconnectLongestWait = 2 * time.Second
)

// reconnectBackoff is shared by a Store's pools.
type reconnectBackoff struct {
	mu        sync.Mutex
	failures  int
	notBefore time.Time
	dials     atomic.Int64 // connection attempts made (for tests and figures)
}

// install makes the connections of cfg's pools go through b: the window is checked once per
// connection (BeforeConnect), and every dial, fallback addresses included, is recorded (so a
// failed IPv6 address followed by a working IPv4 one leaves no window).
func (b *reconnectBackoff) install(cfg *pgxpool.Config) {
	cfg.BeforeConnect = func(context.Context, *pgx.ConnConfig) error { return b.wait() }
	dial := cfg.ConnConfig.DialFunc
	if dial == nil {
		d := &net.Dialer{KeepAlive: 5 * time.Minute}
		dial = d.DialContext
	}
	cfg.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		b.dials.Add(1)
		conn, err := dial(ctx, network, addr)
		b.record(err)
		return conn, err
	}
}

// wait refuses an attempt inside the backoff window.
func (b *reconnectBackoff) wait() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if left := time.Until(b.notBefore); left > 0 {
		return store.Fault(store.ErrUnavailable,
			fmt.Errorf("postgres: the server could not be reached %d times in a row: next connection attempt in %s", b.failures, left.Round(time.Millisecond)))
	}
	return nil
}

// record moves the window after a failed attempt and clears it after a successful one. A
// cancelled attempt says nothing about the server.
func (b *reconnectBackoff) record(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err == nil {
		b.failures = 0
		b.notBefore = time.Time{}
		return
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return
	}
	b.failures++
	wait := reconnectFirstWait << min(b.failures-1, 10)
	wait = min(wait, reconnectLongestWait)
	wait += rand.N(wait/2 + 1) //nolint:gosec // G404: jitter, not a secret
	b.notBefore = time.Now().Add(wait)
}

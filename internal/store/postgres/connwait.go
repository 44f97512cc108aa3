package postgres

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Waiting for a connection when the server has none to give: a new connection refused with
// too_many_connections (SQLSTATE 53300, max_connections reached by all clients together) is
// asked for again, after tooManyFirstWait doubling up to tooManyLongestWait with jitter, until
// the caller's context ends (its deadline: the request timeout) or, for a context without a
// deadline, for at most tooManyWaitWithoutDeadline. Connections are freed as other clients'
// requests end, so a request waits for one instead of failing at once; only when none is
// freed in time does it fail with store.ErrUnavailable (503 with Retry-After).
const (
	tooManyFirstWait           = 10 * time.Millisecond
	tooManyLongestWait         = 250 * time.Millisecond
	tooManyWaitWithoutDeadline = 10 * time.Second
)

// acquire takes a connection of pool, waiting as above while the server has too many.
func acquire(ctx context.Context, pool *pgxpool.Pool) (*pgxpool.Conn, error) {
	conn, err := pool.Acquire(ctx)
	if err == nil || sqlState(err) != "53300" {
		return conn, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, tooManyWaitWithoutDeadline)
		defer cancel()
	}
	wait := tooManyFirstWait
	for {
		pause := time.NewTimer(wait + rand.N(wait/2+1)) //nolint:gosec // G404: jitter, not a secret
		select {
		case <-ctx.Done():
			pause.Stop()
			return nil, err // the last refusal says why better than the context's end
		case <-pause.C:
		}
		var next error
		conn, next = pool.Acquire(ctx)
		if next == nil || (sqlState(next) != "53300" && ctx.Err() == nil) {
			return conn, next
		}
		if sqlState(next) == "53300" {
			err = next
		}
		wait = min(2*wait, tooManyLongestWait)
	}
}

package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// Defaults of the verification log, applied by New to zero Config fields.
const (
	// DefaultVerifyBatchSize is the most verification records one group commit holds.
	DefaultVerifyBatchSize = 256
	// DefaultVerifyFlushInterval is the longest a verification record waits for its batch to
	// fill before the batch is committed anyway.
	DefaultVerifyFlushInterval = 10 * time.Millisecond
)

// ErrServerClosed is returned by Flush after Close.
var ErrServerClosed = errors.New("server: closed: the verification log accepts no more flushes")

// errVerifyLogFailing is the refusal of an introspection while the verification log cannot
// write and its queue is full: answering would leave the answer without its audit record
// beyond the documented bound, so the caller gets 503 with Retry-After instead.
var errVerifyLogFailing = errors.New("server: the verification log cannot be written and its queue is full")

// Backoff of a failed verification batch: the first retry after verifyRetryFirst, doubling up
// to verifyRetryLongest, each wait with up to half of it again added at random (jitter), so that
// instances sharing a database do not retry in step.
const (
	verifyRetryFirst   = 10 * time.Millisecond
	verifyRetryLongest = 2 * time.Second
)

// verification is what an introspection leaves behind: its audit event and, for an active
// answer, the instant to move the token's last_used_at to.
type verification struct {
	event  audit.Event
	active bool // the token was used: TouchLastUsed(event.TokenID, event.Time)
}

// verifyLog group-commits verification records. Introspections answer from one read of the
// store (Store.ReadForIntrospection) and hand their record to add; one goroutine appends the
// records in arrival order, a batch per write transaction (AppendAudits of its records, then
// TouchLastUsedAll with the latest instant of each token used in the batch). A batch is
// committed when it holds batchSize records or flushInterval after its first record,
// whichever comes first.
//
// Durability bound: a record is committed at most flushInterval plus the duration of one
// commit after its introspection answered (while the database accepts writes), and the
// records not yet committed are never more than 2*batchSize (the batch being committed and a
// full queue; when the queue is full, add waits for room, bounded by the request's context,
// instead of dropping the record). A batch whose commit fails is kept and retried with
// exponential backoff and jitter until it is written; meanwhile the log is failing
// (healthy reports it, /readyz answers 503), and an add that finds the queue full is refused
// at once (errVerifyLogFailing, answered 503) instead of answering unaudited. A crash
// (SIGKILL, power loss) can lose those 2*batchSize records and no others; the audit chain
// stays verifiable because a batch commits whole or not at all. Close writes every accepted
// record; if its context ends first, the writer gives up and logs how many it lost.
type verifyLog struct {
	store         store.Store
	log           *slog.Logger
	batchSize     int
	flushInterval time.Duration

	queue   chan verification
	flushes chan chan error
	stop    chan struct{}
	done    chan struct{}
	pending atomic.Int64  // records accepted and not yet committed (or given up on)
	failing atomic.Bool   // the last commit attempt failed; the writer is retrying
	abandon chan struct{} // closed when Close's context ends: the writer stops retrying

	abandonOnce sync.Once

	mu     sync.RWMutex // held shared while sending to queue, exclusively by Close
	closed bool
	once   sync.Once
}

// newVerifyLog starts the writer goroutine of a verification log on st.
func newVerifyLog(st store.Store, log *slog.Logger, batchSize int, flushInterval time.Duration) *verifyLog {
	l := &verifyLog{
		store: st, log: log, batchSize: batchSize, flushInterval: flushInterval,
		queue:   make(chan verification, batchSize),
		flushes: make(chan chan error),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		abandon: make(chan struct{}),
	}
	go l.run()
	return l
}

// add hands v to the writer. It waits while the queue is full, until ctx ends (then it
// returns ctx's error and the caller must fail the request: the record was not accepted).
// After Close it writes v in a transaction of its own, so no record is ever dropped.
func (l *verifyLog) add(ctx context.Context, v verification) error {
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return l.store.Update(ctx, func(tx store.Tx) error { return appendVerifications(ctx, tx, []verification{v}) })
	}
	l.pending.Add(1)
	if l.failing.Load() {
		// The writer cannot write: take the record only if the queue has room (the bound
		// holds), else refuse the answer now rather than wait for a database that is down.
		select {
		case l.queue <- v:
			l.mu.RUnlock()
			return nil
		default:
			l.pending.Add(-1)
			l.mu.RUnlock()
			return errVerifyLogFailing
		}
	}
	select {
	case l.queue <- v:
		l.mu.RUnlock()
		return nil
	case <-ctx.Done():
		l.pending.Add(-1)
		l.mu.RUnlock()
		return fmt.Errorf("recording the verification: %w", ctx.Err())
	}
}

// flush returns once every record accepted before the call is committed (or its commit
// failed: then the error).
func (l *verifyLog) flush(ctx context.Context) error {
	if l.pending.Load() == 0 {
		return nil // nothing accepted is uncommitted: no round trip to the writer
	}
	if l.failing.Load() {
		return errVerifyLogFailing // the writer is retrying: do not wait for the database to return
	}
	reply := make(chan error, 1)
	select {
	case l.flushes <- reply:
	case <-l.done:
		return ErrServerClosed
	case <-ctx.Done():
		return fmt.Errorf("flushing verification records: %w", ctx.Err())
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return fmt.Errorf("flushing verification records: %w", ctx.Err())
	}
}

// close stops accepting records into the queue, commits everything accepted and stops the
// writer. It waits for the writer until ctx ends. Safe to call more than once.
func (l *verifyLog) close(ctx context.Context) error {
	l.once.Do(func() {
		// Exclusive lock: no add is between its closed check and its send, so once the writer
		// sees stop, the queue holds every record it will ever get.
		l.mu.Lock()
		l.closed = true
		l.mu.Unlock()
		close(l.stop)
	})
	select {
	case <-l.done:
		return nil
	case <-ctx.Done():
		l.abandonOnce.Do(func() { close(l.abandon) })
		return fmt.Errorf("closing the verification log: %d records not yet written: %w", l.pending.Load(), ctx.Err())
	}
}

// healthy reports whether the writer's last commit succeeded, and how many accepted records
// are not yet committed.
func (l *verifyLog) healthy() (bool, int64) { return !l.failing.Load(), l.pending.Load() }

// run is the writer goroutine.
func (l *verifyLog) run() {
	defer close(l.done)
	batch := make([]verification, 0, l.batchSize)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	armed := false
	disarm := func() {
		if armed {
			timer.Stop()
			armed = false
		}
	}
	// drain moves the records queued now into batch and commits them. Records queued now are
	// every record accepted before a flush request (or, after Close, every record at all);
	// later ones wait for the next batch, so a flush under load still ends.
	drain := func() error {
		var errs []error
		for n := len(l.queue); n > 0; n-- {
			batch = append(batch, <-l.queue)
			if len(batch) >= l.batchSize {
				errs = append(errs, l.commit(batch))
				batch = batch[:0]
			}
		}
		errs = append(errs, l.commit(batch))
		batch = batch[:0]
		return errors.Join(errs...)
	}
	for {
		select {
		case v := <-l.queue:
			batch = append(batch, v)
			if len(batch) >= l.batchSize {
				disarm()
				_ = l.commit(batch) // a failure is logged by commit
				batch = batch[:0]
			} else if !armed {
				timer.Reset(l.flushInterval)
				armed = true
			}
		case <-timer.C:
			armed = false
			_ = l.commit(batch)
			batch = batch[:0]
		case reply := <-l.flushes:
			disarm()
			reply <- drain()
		case <-l.stop:
			disarm()
			_ = drain()
			return
		}
	}
}

// commit writes batch in one transaction. A failed batch is kept and retried with
// exponential backoff and jitter until it is written (the log is failing meanwhile); after
// the second failure its records are tried one by one once, so that one bad record cannot
// hold the others back, and only the records that still fail are retried. Only Close giving
// up (its context ended) stops the retries: the records left are then logged (ids, action and
// outcome, no secret) and counted as lost.
func (l *verifyLog) commit(batch []verification) error {
	if len(batch) == 0 {
		return nil
	}
	defer l.pending.Add(-int64(len(batch)))
	write := func(vs []verification) error {
		// The writer's context is not a request's: the records were accepted and must be
		// written even if every client has gone.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		return l.store.Update(ctx, func(tx store.Tx) error { return appendVerifications(ctx, tx, vs) })
	}
	wait := verifyRetryFirst
	for attempt := 1; ; attempt++ {
		err := write(batch)
		if err == nil {
			if attempt > 1 {
				l.log.Info("verification log: writing again after failures", "attempts", attempt, "records", len(batch))
			}
			l.failing.Store(false)
			return nil
		}
		l.failing.Store(true)
		if attempt == 1 || attempt%50 == 0 {
			l.log.Warn("verification log: batch commit failed; keeping it and retrying with backoff",
				"records", len(batch), "attempt", attempt, "error", err.Error())
		}
		if attempt == 2 {
			var left []verification
			for _, v := range batch {
				if write([]verification{v}) != nil {
					left = append(left, v)
				}
			}
			if len(left) == 0 {
				l.failing.Store(false)
				return nil
			}
			batch = left
		}
		jittered := wait + rand.N(wait/2+1) //nolint:gosec // G404: jitter, not a secret
		timer := time.NewTimer(jittered)
		select {
		case <-timer.C:
		case <-l.abandon:
			timer.Stop()
			for _, v := range batch {
				l.log.Error("verification log: a verification record could not be written before shutdown",
					"token_id", v.event.TokenID, "actor", v.event.Actor, "outcome", v.event.Outcome)
			}
			return fmt.Errorf("verification log: %d verification records could not be written: %w", len(batch), err)
		}
		wait = min(2*wait, verifyRetryLongest)
	}
}

// appendVerifications appends the audit records of vs in order, and moves the last_used_at
// of every token used in vs to the latest instant it was used at: two store calls whatever
// the size of the batch.
//
// Evidence in order: a verification decided on a state read before a revocation committed
// may reach this transaction after the revocation, with a decision time later than
// revoked_at (the revocation takes its instant before its commit, and the introspection's
// read began in between). Both its last_used_at (TouchLastUsedAll) and its audit record's
// time are then stamped at revoked_at: no record of a successful verification is later than
// the revocation that precedes it in commit order. Records committed before the revocation
// are not later than it either: revocationInstant starts a revocation no earlier than the
// token's last_used_at.
func appendVerifications(ctx context.Context, tx store.Tx, vs []verification) error {
	events := make([]audit.Event, len(vs))
	var uses []store.TokenUse
	latest := make(map[string]int) // token id -> its index in uses
	for i, v := range vs {
		events[i] = v.event
		if !v.active {
			continue
		}
		if j, seen := latest[v.event.TokenID]; !seen {
			latest[v.event.TokenID] = len(uses)
			uses = append(uses, store.TokenUse{TokenID: v.event.TokenID, At: v.event.Time})
		} else if v.event.Time.After(uses[j].At) {
			uses[j].At = v.event.Time
		}
	}
	revoked, err := tx.TouchLastUsedAll(ctx, uses)
	if err != nil {
		return err
	}
	for i, v := range vs {
		if r, ok := revoked[v.event.TokenID]; ok && v.active && events[i].Time.After(r) {
			events[i].Time = r
		}
	}
	_, err = tx.AppendAudits(ctx, events)
	return err
}

// revocationInstant is the instant a revocation of t decided at now records: now, or t's
// last_used_at when that is later (another instance's clock ahead of this one's), so that
// no use committed before the revocation is recorded after it.
func revocationInstant(now time.Time, t store.Token) time.Time {
	if t.LastUsedAt != nil && t.LastUsedAt.After(now) {
		return *t.LastUsedAt
	}
	return now
}

// flushForRead commits the pending verification records before an API read of the audit log
// or of last_used_at, so the read includes every introspection this instance answered before
// it. Only the request's end stops the read: a record the writer failed to write is already
// logged, and the read answers what is committed.
func (s *Server) flushForRead(ctx context.Context) error {
	err := s.Flush(ctx)
	if err != nil && ctx.Err() != nil {
		return err
	}
	return nil
}

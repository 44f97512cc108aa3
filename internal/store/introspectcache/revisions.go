package introspectcache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// revisionReadTimeout bounds one revision read: it serves several requests, so no single
// request's context may cancel it.
const revisionReadTimeout = 30 * time.Second

// revisionReads coalesces revision reads. Each caller of read gets the result of a read that
// started after the caller arrived, never of one already running, and at most one read runs
// at a time: callers that arrive while a read runs share the next one, which starts when the
// running one ends. Under load one cheap statement so serves every request that arrived
// during the statement before it.
type revisionReads struct {
	readRevision func(context.Context) (store.Revision, error)
	// joined, when set (by tests), is called by each caller once it has joined a round.
	joined func()

	reads atomic.Uint64 // revision reads started

	mu      sync.Mutex
	running *revisionRound // the round whose read runs, or is about to; nil when none
	next    *revisionRound // the round that starts after running ends; nil when nobody waits for it
}

// revisionRound is one revision read and the callers that share it. Its first caller runs it.
type revisionRound struct {
	done chan struct{} // closed once rev and err are set
	rev  store.Revision
	err  error
}

// read returns the result of a revision read that started after the call.
func (r *revisionReads) read(ctx context.Context) (store.Revision, error) {
	r.mu.Lock()
	if r.running == nil {
		// Nothing runs: this caller starts a read now.
		round := &revisionRound{done: make(chan struct{})}
		r.running = round
		r.mu.Unlock()
		r.hook()
		r.run(ctx, round)
		return round.rev, round.err
	}
	if round := r.next; round != nil {
		// A read runs and the next one, not started yet, has callers: share it.
		r.mu.Unlock()
		r.hook()
		select {
		case <-round.done:
			return round.rev, round.err
		case <-ctx.Done():
			return store.Revision{}, fmt.Errorf("reading the introspection revision: %w", ctx.Err())
		}
	}
	// A read runs that started before this caller arrived: this caller runs the next one once
	// it ends (and must, even if its own context ends, for the callers who join it).
	round := &revisionRound{done: make(chan struct{})}
	r.next = round
	before := r.running
	r.mu.Unlock()
	r.hook()
	<-before.done
	r.run(ctx, round)
	return round.rev, round.err
}

// run reads the revision into round, makes the next round (if anyone waits for it) the running
// one, and releases round's callers. The read is not cancelled with ctx: other callers share
// it.
func (r *revisionReads) run(ctx context.Context, round *revisionRound) {
	defer func() { // also when read panics (net/http recovers a handler's panic)
		r.mu.Lock()
		// The next round's runner waits for round.done; from now on nobody may join that round.
		r.running, r.next = r.next, nil
		r.mu.Unlock()
		close(round.done)
	}()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), revisionReadTimeout)
	defer cancel()
	r.reads.Add(1)
	round.err = errors.New("reading the introspection revision: the read panicked")
	round.rev, round.err = r.readRevision(ctx)
}

// hook calls joined when it is set.
func (r *revisionReads) hook() {
	if r.joined != nil {
		r.joined()
	}
}

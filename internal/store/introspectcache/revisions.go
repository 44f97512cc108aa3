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
// started after the caller arrived, never of one already running, and at most inFlight reads
// run at a time: callers that arrive while no slot is free share the next read, which starts
// as soon as one is. Under load one cheap statement so serves every request that arrived
// while the statements before it ran.
type revisionReads struct {
	readRevision func(context.Context) (store.Revision, error)
	// slots holds a token per running read; its capacity is how many may run at once.
	slots chan struct{}
	// joined, when set (by tests), is called by each caller once it has joined a round.
	joined func()

	reads atomic.Uint64 // revision reads started

	mu   sync.Mutex
	next *revisionRound // the round not started yet that arriving callers join; nil when none
}

// newRevisionReads returns coalesced reads of readRevision, at most inFlight at a time.
func newRevisionReads(readRevision func(context.Context) (store.Revision, error), inFlight int) *revisionReads {
	return &revisionReads{readRevision: readRevision, slots: make(chan struct{}, max(1, inFlight))}
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
	if round := r.next; round != nil {
		// A read that has not started yet has callers: share it.
		r.mu.Unlock()
		r.hook()
		select {
		case <-round.done:
			return round.rev, round.err
		case <-ctx.Done():
			return store.Revision{}, fmt.Errorf("reading the introspection revision: %w", ctx.Err())
		}
	}
	// This caller opens a round and runs it once a slot is free (and must, even if its own
	// context ends, for the callers who join it meanwhile).
	round := &revisionRound{done: make(chan struct{})}
	r.next = round
	r.mu.Unlock()
	r.hook()
	r.slots <- struct{}{}
	r.mu.Lock()
	r.next = nil // from now on nobody joins this round: its read starts after all who did arrived
	r.mu.Unlock()
	r.run(ctx, round)
	return round.rev, round.err
}

// run reads the revision into round, frees its slot and releases round's callers. The read is
// not cancelled with ctx: other callers share it.
func (r *revisionReads) run(ctx context.Context, round *revisionRound) {
	defer func() { // also when read panics (net/http recovers a handler's panic)
		<-r.slots
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

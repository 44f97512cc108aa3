package introspectcache

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// gatedReads is a revision read function whose n-th call (from 1) announces itself on
// started and returns store.Revision{n} once the test sends on release.
type gatedReads struct {
	started chan int
	release chan struct{}
	calls   int // only touched by the read function: reads never overlap
}

func newGatedReads() *gatedReads {
	return &gatedReads{started: make(chan int, 16), release: make(chan struct{})}
}

func (g *gatedReads) read(context.Context) (store.Revision, error) {
	g.calls++
	n := g.calls
	g.started <- n
	<-g.release
	return store.Revision{byte(n % 256)}, nil //nolint:gosec // G115: n%256 fits a byte
}

// waitStarted waits for read n to start; after 10 s it fails the test (a coalescer that
// served the waiting callers from an older read starts no read for them).
func (g *gatedReads) waitStarted(t *testing.T, n int) {
	t.Helper()
	select {
	case got := <-g.started:
		if got != n {
			t.Fatalf("read %d started, want read %d", got, n)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("read %d did not start within 10 s: were its callers served by an earlier read?", n)
	}
}

// result is what one caller of revisionReads.read got.
type result struct {
	rev store.Revision
	err error
}

// expectNothing fails when anything arrives on c now: everything the test waits for is
// announced by channels, so a value here is a read or an answer that should not exist yet.
func expectNothing[T any](t *testing.T, c <-chan T, what string) {
	t.Helper()
	select {
	case v := <-c:
		t.Fatalf("%s: got %v, want nothing yet", what, v)
	default:
	}
}

// TestRevisionReads_aCallerIsNeverServedByAReadThatStartedBeforeItArrived drives the coalescer
// step by step with hooks: caller A starts read 1; B, C and D arrive while read 1 runs (the
// joined hook says when each has joined); read 1 ends and only A gets it; read 2 starts after
// B, C and D arrived and all three share it; E arrives while read 2 runs and gets read 3.
// A coalescer that let a caller join the running read would hand B read 1 and fail.
func TestRevisionReads_aCallerIsNeverServedByAReadThatStartedBeforeItArrived(t *testing.T) {
	g := newGatedReads()
	joined := make(chan struct{}, 16)
	r := newRevisionReads(g.read, 1)
	r.joined = func() { joined <- struct{}{} }
	ctx := t.Context()
	call := func() <-chan result {
		out := make(chan result, 1)
		go func() {
			rev, err := r.read(ctx)
			out <- result{rev, err}
		}()
		<-joined // the caller has arrived and joined a round
		return out
	}
	a := call()
	g.waitStarted(t, 1)
	b, c, d := call(), call(), call()
	expectNothing(t, g.started, "a read started while read 1 runs")
	g.release <- struct{}{} // read 1 ends
	if got := <-a; got.err != nil || got.rev != (store.Revision{1}) {
		t.Fatalf("A (arrived before read 1) = %v, %v; want read 1", got.rev, got.err)
	}
	g.waitStarted(t, 2)
	expectNothing(t, b, "B answered before read 2 ended")
	e := call() // arrives while read 2 runs
	g.release <- struct{}{}
	for name, ch := range map[string]<-chan result{"B": b, "C": c, "D": d} {
		if got := <-ch; got.err != nil || got.rev != (store.Revision{2}) {
			t.Errorf("%s (arrived while read 1 ran) = %v, %v; want read 2, the first to start after it arrived", name, got.rev, got.err)
		}
	}
	g.waitStarted(t, 3)
	expectNothing(t, e, "E answered before read 3 ended")
	g.release <- struct{}{}
	if got := <-e; got.err != nil || got.rev != (store.Revision{3}) {
		t.Errorf("E (arrived while read 2 ran) = %v, %v; want read 3", got.rev, got.err)
	}
	if g.calls != 3 {
		t.Errorf("%d reads for 5 callers, want 3", g.calls)
	}
}

// TestRevisionReads_aWaiterWhoseContextEndsLeavesTheOthersTheirRead: C and D share the read
// after A's; C's context ends while it waits: C gets its context's error at once, D still gets
// the shared read.
func TestRevisionReads_aWaiterWhoseContextEndsLeavesTheOthersTheirRead(t *testing.T) {
	g := newGatedReads()
	joined := make(chan struct{}, 16)
	r := newRevisionReads(g.read, 1)
	r.joined = func() { joined <- struct{}{} }
	call := func(ctx context.Context) <-chan result {
		out := make(chan result, 1)
		go func() {
			rev, err := r.read(ctx)
			out <- result{rev, err}
		}()
		<-joined
		return out
	}
	a := call(t.Context())
	<-g.started
	b := call(t.Context()) // runs read 2
	cctx, cancel := context.WithCancel(t.Context())
	c := call(cctx)
	d := call(t.Context())
	cancel()
	select {
	case got := <-c:
		if !errors.Is(got.err, context.Canceled) {
			t.Errorf("C after its context ended = %v, %v; want context.Canceled", got.rev, got.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("C still waits 10 s after its context ended")
	}
	g.release <- struct{}{}
	<-a
	<-g.started
	g.release <- struct{}{}
	for name, ch := range map[string]<-chan result{"B": b, "D": d} {
		if got := <-ch; got.err != nil || got.rev != (store.Revision{2}) {
			t.Errorf("%s = %v, %v; want read 2", name, got.rev, got.err)
		}
	}
}

// TestRevisionReads_aReadThatPanicsReleasesItsCallers: the panic reaches the caller that ran
// the read (net/http recovers it), the others sharing the read get an error, and the next
// caller gets a read of its own instead of waiting forever.
func TestRevisionReads_aReadThatPanicsReleasesItsCallers(t *testing.T) {
	calls := 0
	r := newRevisionReads(func(context.Context) (store.Revision, error) {
		calls++
		if calls == 1 {
			panic("boom")
		}
		return store.Revision{7}, nil
	}, 1)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the panic of the read did not reach its caller")
			}
		}()
		_, _ = r.read(t.Context())
	}()
	done := make(chan result, 1)
	go func() {
		rev, err := r.read(t.Context())
		done <- result{rev, err}
	}()
	select {
	case got := <-done:
		if got.err != nil || got.rev != (store.Revision{7}) {
			t.Errorf("read after the panic = %v, %v; want revision 7", got.rev, got.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a read after a panicking read still waits after 10 s")
	}
}

// TestRevisionReads_twoInFlightStillServeOnlyLaterArrivals: with two reads allowed at once, A
// and B each start one (B arrived while A's ran, and a slot was free), C arrives while both
// run and gets read 3, which starts only when a slot frees, after C arrived.
func TestRevisionReads_twoInFlightStillServeOnlyLaterArrivals(t *testing.T) {
	g := newGatedReads()
	joined := make(chan struct{}, 16)
	r := newRevisionReads(g.read, 2)
	r.joined = func() { joined <- struct{}{} }
	call := func() <-chan result {
		out := make(chan result, 1)
		go func() {
			rev, err := r.read(t.Context())
			out <- result{rev, err}
		}()
		<-joined
		return out
	}
	a := call()
	g.waitStarted(t, 1)
	b := call()
	g.waitStarted(t, 2)
	c := call()
	expectNothing(t, g.started, "a third read started while two run")
	g.release <- struct{}{} // one of reads 1 and 2 ends
	g.waitStarted(t, 3)
	g.release <- struct{}{}
	g.release <- struct{}{}
	got := map[string]result{"A": <-a, "B": <-b, "C": <-c}
	if got["C"].rev != (store.Revision{3}) {
		t.Errorf("C (arrived while reads 1 and 2 ran) = %v; want read 3", got["C"].rev)
	}
	if got["A"].rev == (store.Revision{3}) || got["B"].rev == (store.Revision{3}) || got["A"].rev == got["B"].rev {
		t.Errorf("A = %v, B = %v; want reads 1 and 2, one each", got["A"].rev, got["B"].rev)
	}
}

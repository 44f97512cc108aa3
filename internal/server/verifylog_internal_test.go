package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store/sqlite"
)

// countingStore counts write transactions and, while gate is set, holds each one open until
// the gate is closed, after announcing it on entered.
type countingStore struct {
	store.Store
	mu      sync.Mutex
	updates int
	gate    chan struct{}
	entered chan struct{}
}

func (s *countingStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	s.mu.Lock()
	s.updates++
	gate, entered := s.gate, s.entered
	s.mu.Unlock()
	if gate != nil {
		entered <- struct{}{}
		<-gate
	}
	return s.Store.Update(ctx, fn)
}

func (s *countingStore) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.updates
}

func openCountingStore(t *testing.T) *countingStore {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "tokenguard.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return &countingStore{Store: st}
}

// event is the n-th test verification record (of no token: it touches no last_used_at).
func event(n int) verification {
	return verification{event: audit.Event{Time: time.Date(2030, 1, 1, 0, 0, n, 0, time.UTC), Actor: "cred_test",
		Action: audit.ActionIntrospect, Outcome: "inactive", Details: map[string]string{"n": fmt.Sprint(n)}}}
}

// auditedNumbers returns the "n" detail of every audit record, in chain order, after checking
// the chain.
func auditedNumbers(t *testing.T, st store.Store) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	var v audit.Verifier
	err := st.View(ctx, func(r store.Reader) error {
		recs, err := r.ListAudit(ctx, 0, 1000)
		if err != nil {
			return err
		}
		for _, rec := range recs {
			if err := v.Add(rec); err != nil {
				return err
			}
			out = append(out, rec.Details["n"])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestVerifyLog_batchesBySizeAndFlushWritesTheRestInOrder: with a batch size of 4 and a flush
// interval no test waits for, 10 records take exactly 3 write transactions (4, 4, and the 2
// the flush writes), and the chain holds them in the order they were added.
func TestVerifyLog_batchesBySizeAndFlushWritesTheRestInOrder(t *testing.T) {
	ctx := context.Background()
	st := openCountingStore(t)
	l := newVerifyLog(st, slog.New(slog.DiscardHandler), 4, time.Hour)
	defer func() { _ = l.close(ctx) }()
	for n := 1; n <= 10; n++ {
		if err := l.add(ctx, event(n)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := st.count(); got != 3 {
		t.Fatalf("write transactions = %d, want 3 (batches of 4, 4 and 2)", got)
	}
	if got, want := fmt.Sprint(auditedNumbers(t, st)), "[1 2 3 4 5 6 7 8 9 10]"; got != want {
		t.Fatalf("audited records = %s, want %s", got, want)
	}
	if p := l.pending.Load(); p != 0 {
		t.Fatalf("pending after flush = %d, want 0", p)
	}
	// A flush with nothing pending writes nothing.
	if err := l.flush(ctx); err != nil || st.count() != 3 {
		t.Fatalf("empty flush: err %v, write transactions %d, want nil and 3", err, st.count())
	}
}

// TestVerifyLog_fullQueueWaitsForRoomUntilTheRequestEnds: while a commit is stuck, the queue
// fills up and the next record is refused with the request's context error instead of being
// dropped silently; once the commit goes through, every accepted record is written and the
// refused one is not.
func TestVerifyLog_fullQueueWaitsForRoomUntilTheRequestEnds(t *testing.T) {
	ctx := context.Background()
	st := openCountingStore(t)
	st.gate, st.entered = make(chan struct{}), make(chan struct{}, 8)
	l := newVerifyLog(st, slog.New(slog.DiscardHandler), 2, time.Hour)
	for n := 1; n <= 2; n++ { // a full batch: the writer commits it and blocks in the gate
		if err := l.add(ctx, event(n)); err != nil {
			t.Fatal(err)
		}
	}
	<-st.entered
	for n := 3; n <= 4; n++ { // fills the queue (capacity 2) while the writer is stuck
		if err := l.add(ctx, event(n)); err != nil {
			t.Fatal(err)
		}
	}
	ended, cancel := context.WithCancel(ctx)
	cancel()
	if err := l.add(ended, event(5)); !errors.Is(err, context.Canceled) {
		t.Fatalf("add to a full queue with an ended request = %v, want context.Canceled", err)
	}
	st.mu.Lock()
	gate := st.gate
	st.gate = nil // later transactions go straight through
	st.mu.Unlock()
	close(gate)
	if err := l.close(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(auditedNumbers(t, st)), "[1 2 3 4]"; got != want {
		t.Fatalf("audited records = %s, want %s", got, want)
	}
}

// TestVerifyLog_closeWritesEverythingAndLaterRecordsStillLand: Close commits every accepted
// record (none had reached a batch boundary or the flush interval), and a record added after
// Close is written in a transaction of its own rather than dropped.
func TestVerifyLog_closeWritesEverythingAndLaterRecordsStillLand(t *testing.T) {
	ctx := context.Background()
	st := openCountingStore(t)
	l := newVerifyLog(st, slog.New(slog.DiscardHandler), 256, time.Hour)
	for n := 1; n <= 3; n++ {
		if err := l.add(ctx, event(n)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.close(ctx); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if got, want := fmt.Sprint(auditedNumbers(t, st)), "[1 2 3]"; got != want {
		t.Fatalf("audited records after close = %s, want %s", got, want)
	}
	if err := l.add(ctx, event(4)); err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(auditedNumbers(t, st)), "[1 2 3 4]"; got != want {
		t.Fatalf("audited records after a late add = %s, want %s", got, want)
	}
	if err := l.flush(ctx); err != nil {
		t.Fatalf("flush after close with nothing pending = %v, want nil", err)
	}
}

// TestVerifyLog_partialBatchIsCommittedAfterTheFlushInterval: a record alone in its batch is
// committed by the interval timer, without a flush, Close or a full batch. The test waits for
// the commit to start (the wait bounds a hang; nothing is asserted about time).
func TestVerifyLog_partialBatchIsCommittedAfterTheFlushInterval(t *testing.T) {
	ctx := context.Background()
	st := openCountingStore(t)
	gate := make(chan struct{})
	close(gate) // announce each transaction, do not hold it
	st.gate, st.entered = gate, make(chan struct{}, 8)
	l := newVerifyLog(st, slog.New(slog.DiscardHandler), 256, time.Millisecond)
	defer func() { _ = l.close(ctx) }()
	if err := l.add(ctx, event(1)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-st.entered:
	case <-time.After(time.Minute):
		t.Fatal("a partial batch was not committed by the flush interval")
	}
}

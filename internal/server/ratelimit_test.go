package server

import (
	"fmt"
	"testing"
	"time"
)

func TestFailureLimiter_sourcesAreIndependentAndMemoryIsBounded(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newFailureLimiter(2, func() time.Time { return now })
	l.maxSources = 100
	l.fail("10.0.0.1")
	l.fail("10.0.0.1")
	if _, blocked := l.blocked("10.0.0.1"); !blocked {
		t.Fatal("source with two failures at a limit of 2 is not blocked")
	}
	if _, blocked := l.blocked("10.0.0.2"); blocked {
		t.Fatal("another source is blocked")
	}
	// A flood of sources never grows the table past maxSources.
	for i := range 10000 {
		l.fail(fmt.Sprintf("192.0.2.%d/%d", i%256, i))
		if n := l.size(); n > l.maxSources {
			t.Fatalf("after %d sources the limiter tracks %d, more than %d", i+1, n, l.maxSources)
		}
	}
	// Buckets that refilled are dropped first when room is needed.
	now = now.Add(time.Hour)
	l.fail("203.0.113.9")
	if n := l.size(); n != 1 {
		t.Fatalf("after every bucket refilled, one new failure leaves %d tracked sources, want 1", n)
	}
	if newFailureLimiter(0, time.Now) != nil || newFailureLimiter(-1, time.Now) != nil {
		t.Fatal("a non-positive limit should disable the limiter")
	}
	var off *failureLimiter // disabled: every call is a no-op
	off.fail("x")
	if _, blocked := off.blocked("x"); blocked {
		t.Fatal("disabled limiter blocked")
	}
}

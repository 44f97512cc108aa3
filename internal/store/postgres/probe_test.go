package postgres

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/testenv"
)

// TestProbeWrite_failsOnAPausedAndAStoppedServer runs a PostgreSQL of the test's own and
// checks ProbeWrite: it passes on a writable server; it fails within its context's 1 s deadline while
// the server is paused with SIGSTOP (connections open, nothing answers); it fails with
// store.ErrUnavailable while the server is stopped; and it passes again once the server is
// back.
func TestProbeWrite_failsOnAPausedAndAStoppedServer(t *testing.T) {
	ctx := context.Background()
	url, ctl := testenv.OwnPostgres(t, "TOKENGUARD_PG_MAX_CONNECTIONS=50")
	st, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	if err := st.ProbeWrite(ctx); err != nil {
		t.Fatalf("ProbeWrite on a writable server: %v", err)
	}

	ctl("pause")
	short, cancel := context.WithTimeout(ctx, time.Second)
	err = st.ProbeWrite(short)
	cancel()
	ctl("unpause")
	if err == nil {
		t.Fatal("ProbeWrite on a paused server passed")
	}
	if short.Err() == nil {
		t.Fatalf("ProbeWrite on a paused server returned before its deadline: %v", err)
	}
	if err := st.ProbeWrite(ctx); err != nil {
		t.Fatalf("ProbeWrite after the server was resumed: %v", err)
	}

	ctl("halt", "fast")
	if err := st.ProbeWrite(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("ProbeWrite on a stopped server: %v, want store.ErrUnavailable", err)
	}
	ctl("resume")
	for {
		err := st.ProbeWrite(ctx)
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("ProbeWrite after the server was started again: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // polling until the reconnect backoff lets it through
	}
}

package postgres

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/testenv"
)

// TestTooManyConnections_waitsForAConnectionWithinTheDeadline runs a PostgreSQL with
// max_connections=8 and takes every connection slot from the test, so that the server
// refuses new sessions with too_many_connections (53300). A View with a 200 ms deadline
// fails with store.ErrUnavailable after asking again (more than one connection attempt),
// not at the first refusal; a View, an Update and an introspection lookup with a 30 s
// deadline each wait: they succeed once the test frees three slots (freed only after each had
// been refused at least twice, so they did wait).
func TestTooManyConnections_waitsForAConnectionWithinTheDeadline(t *testing.T) {
	ctx := context.Background()
	url, _ := testenv.OwnPostgres(t, "TOKENGUARD_PG_MAX_CONNECTIONS=8")
	st, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	st.read.Reset() // Open's connections go back to the server: the hogs take every slot
	st.write.Reset()
	st.lookup.Reset()
	var hogs []*pgx.Conn
	defer func() {
		for _, c := range hogs {
			_ = c.Close(ctx)
		}
	}()
	for {
		c, err := pgx.Connect(ctx, url)
		if err != nil {
			if sqlState(err) != "53300" {
				t.Fatalf("filling the server's connection slots: %v", err)
			}
			break
		}
		hogs = append(hogs, c)
		if len(hogs) > 20 {
			t.Fatal("max_connections=8 but 20 connections were accepted")
		}
	}
	if len(hogs) == 0 {
		t.Fatal("no connection could be made")
	}

	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	dials := st.backoff.dials.Load()
	err = st.View(short, func(r store.Reader) error { _, _, err := r.AuditHead(short); return err })
	cancel()
	if !errors.Is(err, store.ErrUnavailable) || sqlState(err) != "53300" {
		t.Fatalf("View with every slot taken and a 200 ms deadline: %v, want store.ErrUnavailable (53300)", err)
	}
	if n := st.backoff.dials.Load() - dials; n < 2 {
		t.Fatalf("View with every slot taken made %d connection attempt(s) in its 200 ms, want it to ask again", n)
	}

	long, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	dials = st.backoff.dials.Load()
	done := make(chan error, 3)
	go func() {
		done <- st.View(long, func(r store.Reader) error { _, _, err := r.AuditHead(long); return err })
	}()
	go func() {
		done <- st.Update(long, func(tx store.Tx) error {
			_, err := tx.AppendAudit(long, audit.Event{Time: time.Now(), Actor: "test", Action: "test", Outcome: "ok"})
			return err
		})
	}()
	go func() {
		_, err := st.ReadForIntrospection(long, []byte("credential-hash"), []byte("token-hash"))
		done <- err
	}()
	// Free a slot only once the three have been refused at least twice each.
	for st.backoff.dials.Load()-dials < 6 {
		select {
		case err := <-done:
			t.Fatalf("a request returned while every slot was taken: %v", err)
		case <-time.After(10 * time.Millisecond): // polling a counter, not asserting time
		}
	}
	// Each of the three needs a connection of its own pool (read, write, lookup), and a pool
	// keeps its connection once made: free three slots.
	if len(hogs) < 3 {
		t.Fatalf("only %d connections held", len(hogs))
	}
	for _, c := range hogs[:3] {
		_ = c.Close(ctx)
	}
	hogs = hogs[3:]
	for range 3 {
		if err := <-done; err != nil {
			t.Fatalf("request waiting for a connection slot: %v, want success once one was freed", err)
		}
	}
	t.Logf("%d connection attempts refused with 53300 before a slot was freed", st.backoff.dials.Load()-dials-1)
}

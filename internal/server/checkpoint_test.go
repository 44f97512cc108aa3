package server_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/keyring"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store/sqlite"
)

// lockedBuffer is an io.Writer safe for the checkpoint goroutine and the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// The service writes a signed checkpoint every AuditCheckpointInterval and one more on Close,
// each a line that verifies with the key file and states the head of the chain.
func TestAuditCheckpoint_writtenAtTheIntervalAndOnClose(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir()+"/tg.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	keys, err := keyring.New()
	if err != nil {
		t.Fatal(err)
	}
	var out lockedBuffer
	srv, err := server.New(server.Config{Store: st, Keyring: keys, AuditCheckpoint: &out, AuditCheckpointInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Bootstrap(ctx, "tgc_checkpoint-test-admin-credential-0123456789"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute) // a hang guard, not a timing assertion
	for strings.Count(out.String(), "\n") < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := strings.Count(out.String(), "\n"); n < 2 {
		t.Fatalf("%d checkpoints written before the deadline, want at least 2", n)
	}
	if err := srv.Close(ctx); err != nil {
		t.Fatal(err)
	}
	cps, err := audit.ReadCheckpoints(strings.NewReader(out.String()), "out")
	if err != nil {
		t.Fatal(err)
	}
	last := cps[len(cps)-1]
	if err := last.Verify(keys); err != nil || last.Seq != 1 || last.KeyedFrom != 1 || last.KeyID != keys.KeyID() {
		t.Fatalf("last checkpoint = %+v (%v); want record 1, keyed from 1, signed by %s", last, err, keys.KeyID())
	}
}

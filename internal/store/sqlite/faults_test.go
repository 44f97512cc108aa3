package sqlite

import (
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// TestFaults_lockHeldByAnotherProcessIsBusyWithinTheBusyTimeout holds the database's write
// lock from another connection (as another process would, BEGIN IMMEDIATE) while an Update
// waits for it: after BusyTimeoutMillis the Update fails with store.ErrBusy (SQLITE_BUSY),
// not a bare driver error and not an endless wait; once the lock is released, it succeeds.
func TestFaults_lockHeldByAnotherProcessIsBusyWithinTheBusyTimeout(t *testing.T) {
	if BusyTimeoutMillis > 5000 {
		t.Fatalf("BusyTimeoutMillis = %d, want at most 5000: below the service's 10 s request timeout", BusyTimeoutMillis)
	}
	path := filepath.Join(t.TempDir(), "tokenguard.db")
	s := openTemp(t, path)
	ctx := t.Context()
	other, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(0)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = other.Close() }()
	hold, err := other.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	append1 := func() error {
		return s.Update(ctx, func(tx store.Tx) error {
			_, err := tx.AppendAudit(ctx, audit.Event{Time: time.Now(), Actor: "test", Action: "test", Outcome: "ok"})
			return err
		})
	}
	err = append1()
	if !errors.Is(err, store.ErrBusy) {
		_ = hold.Rollback()
		t.Fatalf("Update while another connection holds the write lock: %v, want store.ErrBusy", err)
	}
	if err := hold.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := append1(); err != nil {
		t.Fatalf("Update after the lock was released: %v", err)
	}
}

package postgres

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/testenv"
)

// TestFaults_lockTimeoutIsBusy holds the database's write lock (the audit_head row) from
// another session while an Update waits for it under a 200 ms lock_timeout: the Update fails
// with store.ErrBusy (SQLSTATE 55P03) instead of waiting for ever, and the default session
// settings are the documented ones.
func TestFaults_lockTimeoutIsBusy(t *testing.T) {
	ctx := context.Background()
	raw := freshSchemaURL(t)
	st, err := Open(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	var stmt, lock string
	if err := st.read.QueryRow(ctx, "SELECT current_setting('statement_timeout'), current_setting('lock_timeout')").Scan(&stmt, &lock); err != nil {
		t.Fatal(err)
	}
	if stmt != "5s" || lock != "3s" {
		t.Fatalf("session statement_timeout=%s lock_timeout=%s, want 5s and 3s (DefaultStatementTimeout, DefaultLockTimeout)", stmt, lock)
	}
	short, err := withParams(raw, "", map[string]string{"lock_timeout": "200"})
	if err != nil {
		t.Fatal(err)
	}
	busy, err := Open(ctx, short)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = busy.Close() }()
	holder, err := pgx.Connect(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = holder.Close(ctx) }()
	hold, err := holder.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hold.Exec(ctx, "SELECT true FROM audit_head WHERE id FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	err = busy.Update(ctx, func(tx store.Tx) error {
		_, err := tx.AppendAudit(ctx, audit.Event{Time: time.Now(), Actor: "test", Action: "test", Outcome: "ok"})
		return err
	})
	_ = hold.Rollback(ctx)
	if !errors.Is(err, store.ErrBusy) {
		t.Fatalf("Update while another session holds the write lock: %v, want store.ErrBusy", err)
	}
	if errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrStorageFull) {
		t.Fatalf("Update error %v is classified as more than busy", err)
	}
}

// TestFaults_stoppedServerIsUnavailable starts a PostgreSQL of its own
// (scripts/pg-test-server.sh with its own state file), opens a store on it, stops the server
// with pg_ctl (through the script) and checks that Ping, View and Update fail with
// store.ErrUnavailable, each within the context's deadline.
func TestFaults_stoppedServerIsUnavailable(t *testing.T) {
	url, run := testenv.OwnPostgres(t)
	ctx := context.Background()
	st, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	if err := st.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	run("stop")
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	checks := map[string]func() error{
		"Ping": func() error { return st.Ping(ctx) },
		"View": func() error {
			return st.View(ctx, func(r store.Reader) error { _, _, err := r.AuditHead(ctx); return err })
		},
		"Update": func() error {
			return st.Update(ctx, func(tx store.Tx) error { _, _, err := tx.AuditHead(ctx); return err })
		},
	}
	for name, check := range checks {
		err := check()
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s with the server stopped: %v, want store.ErrUnavailable", name, err)
		}
	}
	if ctx.Err() != nil {
		t.Errorf("the checks ran past their 20 s deadline")
	}
	// Reconnects back off: 200 requests while the server is down make a handful of
	// connection attempts, not one (or more) each.
	dialsBefore := st.backoff.dials.Load()
	for range 200 {
		if err := st.Ping(ctx); !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("Ping with the server stopped: %v, want store.ErrUnavailable", err)
		}
	}
	dials := st.backoff.dials.Load() - dialsBefore
	t.Logf("200 pings with the server stopped: %d connection attempts", dials)
	if dials > 20 {
		t.Errorf("200 pings with the server stopped made %d connection attempts, want at most 20 (backoff)", dials)
	}
}

// TestConnectionBudget_poolMaxConnsBoundsEveryConnectionOfTheInstance opens a store with
// pool_max_conns=6 and a unique application_name, holds its service lock (as serve does),
// drives 24 concurrent readers, writers and
// introspection lookups, and counts the store's sessions in pg_stat_activity while they run
// (sampled after each round): never more than 6. A budget too small for the fixed pools is
// refused at Open with an error naming pool_max_conns.
func TestConnectionBudget_poolMaxConnsBoundsEveryConnectionOfTheInstance(t *testing.T) {
	ctx := context.Background()
	raw := freshSchemaURL(t)
	small, err := withParams(raw, "", map[string]string{"pool_max_conns": "4"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, small); err == nil || !strings.Contains(err.Error(), "pool_max_conns=4 is too small") || !strings.Contains(err.Error(), "give at least 6") {
		t.Fatalf("Open with pool_max_conns=4: %v, want a refusal naming pool_max_conns and the least budget, 6", err)
	}
	app := "tg_budget_" + randomName("")
	budgeted, err := withParams(raw, "", map[string]string{"pool_max_conns": "6", "application_name": app})
	if err != nil {
		t.Fatal(err)
	}
	st, err := Open(ctx, budgeted)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	// A serving instance also holds the service lock on a session of its own: in the budget.
	lock, err := st.HoldAsService(ctx, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lock.Release() }()
	observer, err := pgx.Connect(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = observer.Close(ctx) }()
	most := 0
	for round := range 5 {
		done := make(chan error, 24)
		for i := range 24 {
			go func() {
				var err error
				switch i % 3 {
				case 0:
					err = st.View(ctx, func(r store.Reader) error { _, _, err := r.AuditHead(ctx); return err })
				case 1:
					err = st.Update(ctx, func(tx store.Tx) error {
						_, err := tx.AppendAudit(ctx, audit.Event{Time: time.Now(), Actor: "test", Action: "test", Outcome: "ok"})
						return err
					})
				default:
					_, err = st.ReadForIntrospection(ctx, []byte("credential-hash"), []byte("token-hash"))
				}
				done <- err
			}()
		}
		var n int
		if err := observer.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", app).Scan(&n); err != nil {
			t.Fatal(err)
		}
		most = max(most, n)
		for range 24 {
			if err := <-done; err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if err := observer.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", app).Scan(&n); err != nil {
			t.Fatal(err)
		}
		most = max(most, n)
	}
	t.Logf("pool_max_conns=6: at most %d sessions seen", most)
	if most > 6 || most == 0 {
		t.Fatalf("at most %d sessions of the store seen, want 1..6", most)
	}
}

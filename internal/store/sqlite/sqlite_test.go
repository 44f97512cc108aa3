package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store/storetest"
)

// factory opens each database in its own temporary directory.
type factory struct{}

func (factory) Open(t *testing.T) store.Store {
	return openTemp(t, filepath.Join(t.TempDir(), "tokenguard.db"))
}

func (factory) Reopen(t *testing.T, s store.Store) store.Store {
	path := s.(*Store).Path()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return openTemp(t, path)
}

func openTemp(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestStore_passesConformanceSuite(t *testing.T) {
	storetest.Run(t, factory{})
}

// closeConn returns c to the pool, failing the test if that fails.
func closeConn(t *testing.T, c *sql.Conn) {
	t.Helper()
	if err := c.Close(); err != nil {
		t.Errorf("closing a connection: %v", err)
	}
}

// pragmaValue reads a pragma on one connection.
func pragmaValue(t *testing.T, c *sql.Conn, name string) string {
	t.Helper()
	var v string
	if err := c.QueryRowContext(t.Context(), "PRAGMA "+name).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}

func TestOpen_appliesPragmasOnEveryPooledConnection(t *testing.T) {
	s := openTemp(t, filepath.Join(t.TempDir(), "tokenguard.db"))
	ctx := t.Context()
	want := map[string]string{
		"journal_mode": "wal",
		"synchronous":  "2", // FULL
		"foreign_keys": "1",
		"busy_timeout": fmt.Sprint(BusyTimeoutMillis),
	}
	// Hold several read connections at once so the pool has to open more than one.
	var conns []*sql.Conn
	for range 3 {
		c, err := s.read.Conn(ctx)
		if err != nil {
			t.Fatalf("read connection: %v", err)
		}
		defer closeConn(t, c)
		conns = append(conns, c)
	}
	w, err := s.write.Conn(ctx)
	if err != nil {
		t.Fatalf("write connection: %v", err)
	}
	defer closeConn(t, w)
	conns = append(conns, w)
	for i, c := range conns {
		for name, value := range want {
			if got := pragmaValue(t, c, name); got != value {
				t.Errorf("connection %d: PRAGMA %s = %s, want %s", i, name, got, value)
			}
		}
	}
	for i, c := range conns[:3] {
		if got := pragmaValue(t, c, "query_only"); got != "1" {
			t.Errorf("read connection %d: PRAGMA query_only = %s, want 1", i, got)
		}
	}
	if got := pragmaValue(t, w, "query_only"); got != "0" {
		t.Errorf("write connection: PRAGMA query_only = %s, want 0", got)
	}
}

func TestOpen_createsDatabaseAndWALFilesWithMode0600(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokenguard.db")
	s := openTemp(t, path)
	// A write creates the WAL file; SQLite gives it the database file's mode.
	if err := s.Update(t.Context(), func(tx store.Tx) error {
		_, err := tx.AppendAudit(t.Context(), audit.Event{Time: time.Unix(0, 0), Actor: "a", Action: audit.ActionBootstrap, Outcome: "ok"})
		return err
	}); err != nil {
		t.Fatalf("Update: %v", err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		info, err := os.Stat(p)
		if err != nil {
			t.Fatalf("stat %s: %v", p, err)
		}
		if perm := info.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s has mode %o, want 600", filepath.Base(p), perm)
		}
	}
}

func TestOpen_rejectsNamesThatAreNotFilePaths(t *testing.T) {
	dir := t.TempDir()
	for _, path := range []string{"", ":memory:", "file:" + filepath.Join(dir, "a.db"), filepath.Join(dir, "a.db?mode=ro")} {
		s, err := Open(t.Context(), path)
		if err == nil {
			_ = s.Close() // the test already fails: only release the store
			t.Errorf("Open(%q) succeeded, want an error", path)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("rejected opens left files behind: %v", entries)
	}
}

func TestOpen_rejectsAFileThatIsNotADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(path, []byte(strings.Repeat("not a database\n", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.Context(), path)
	if err == nil {
		_ = s.Close() // the test already fails: only release the store
		t.Fatal("Open of a text file succeeded, want an error")
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the file", err)
	}
}

func TestOpen_failsClearlyWhenTheDirectoryIsMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "tokenguard.db")
	s, err := Open(t.Context(), path)
	if err == nil {
		_ = s.Close() // the test already fails: only release the store
		t.Fatal("Open in a missing directory succeeded, want an error")
	}
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error = %v, want one wrapping os.ErrNotExist", err)
	}
}

func TestMigrations_applyOnceAndNothingOnReopen(t *testing.T) {
	migrations, err := loadMigrations()
	if err != nil {
		t.Fatalf("loadMigrations: %v", err)
	}
	if len(migrations) == 0 || migrations[0].Version != 1 {
		t.Fatalf("embedded migrations = %d, want at least 0001", len(migrations))
	}
	path := filepath.Join(t.TempDir(), "tokenguard.db")
	for round := range 3 {
		s, err := Open(t.Context(), path)
		if err != nil {
			t.Fatalf("open %d: %v", round+1, err)
		}
		applied, err := migrate(t.Context(), s.write)
		if err != nil {
			t.Fatalf("migrate after open %d: %v", round+1, err)
		}
		if applied != 0 {
			t.Errorf("migrate after open %d applied %d migrations, want 0", round+1, applied)
		}
		var versions []int
		rows, err := s.read.QueryContext(t.Context(), "SELECT version FROM schema_migrations ORDER BY version")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				t.Fatal(err)
			}
			versions = append(versions, v)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		if len(versions) != len(migrations) {
			t.Errorf("open %d: schema_migrations has versions %v, want one row per embedded migration (%d)", round+1, versions, len(migrations))
		}
		for i, m := range migrations {
			if i < len(versions) && versions[i] != m.Version {
				t.Errorf("open %d: schema_migrations row %d is version %d, want %d", round+1, i, versions[i], m.Version)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMigrations_refuseADatabaseWrittenByANewerVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokenguard.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.write.ExecContext(t.Context(),
		"INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_future.sql', '2030-01-01T00:00:00.000000000Z')"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(t.Context(), path)
	if err == nil {
		_ = s.Close() // the test already fails: only release the store
		t.Fatal("Open of a database with an unknown schema version succeeded, want an error")
	}
	if !strings.Contains(err.Error(), "9999") {
		t.Errorf("error %q does not name the unknown version", err)
	}
}

func TestView_cannotWriteEvenThroughATypeAssertion(t *testing.T) {
	s := openTemp(t, filepath.Join(t.TempDir(), "tokenguard.db"))
	ctx := t.Context()
	var writeErr error
	err := s.View(ctx, func(r store.Reader) error {
		tx, ok := r.(store.Tx)
		if !ok {
			return nil // not even assertable: nothing to prove
		}
		_, writeErr = tx.AppendAudit(ctx, audit.Event{Time: time.Unix(0, 0), Actor: "a", Action: audit.ActionBootstrap, Outcome: "ok"})
		return nil
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	if writeErr == nil {
		t.Error("a write through View succeeded, want it refused")
	}
	var n int
	if err := s.read.QueryRowContext(ctx, "SELECT count(*) FROM audit").Scan(&n); err != nil || n != 0 {
		t.Errorf("audit rows after a refused write = %d, %v; want 0", n, err)
	}
}

func TestUpdate_panicWithErrorIsReturnedWrapped(t *testing.T) {
	s := openTemp(t, filepath.Join(t.TempDir(), "tokenguard.db"))
	boom := errors.New("boom")
	err := s.Update(t.Context(), func(store.Tx) error { panic(boom) })
	if !errors.Is(err, boom) {
		t.Errorf("Update error = %v, want it to wrap the panic's error", err)
	}
	// The write connection is free again.
	if err := s.Update(t.Context(), func(store.Tx) error { return nil }); err != nil {
		t.Errorf("Update after a panic: %v", err)
	}
}

func TestUpdate_serialisesWritersAcrossTwoStoresOnOneFile(t *testing.T) {
	// Two Stores on one file behave like two processes: only BEGIN IMMEDIATE and
	// busy_timeout keep their appends from forking the chain.
	path := filepath.Join(t.TempDir(), "tokenguard.db")
	stores := []*Store{openTemp(t, path), openTemp(t, path)}
	const perWriter = 15
	errs := make(chan error, 2*2*perWriter)
	var wg sync.WaitGroup
	for i, s := range stores {
		for g := range 2 {
			wg.Go(func() {
				for n := range perWriter {
					errs <- s.Update(t.Context(), func(tx store.Tx) error {
						_, err := tx.AppendAudit(t.Context(), audit.Event{
							Time: time.Unix(int64(n), 0), Actor: fmt.Sprintf("store%d-g%d", i, g),
							Action: audit.ActionIntrospect, Outcome: "ok",
						})
						return err
					})
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Update: %v", err)
		}
	}
	var v audit.Verifier
	err := stores[1].View(t.Context(), func(r store.Reader) error {
		recs, err := r.ListAudit(t.Context(), 0, store.MaxListLimit)
		if err != nil {
			return err
		}
		for _, rec := range recs {
			if err := v.Add(rec); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("verifying the chain: %v", err)
	}
	if v.Count() != 2*2*perWriter {
		t.Errorf("chain has %d records, want %d", v.Count(), 2*2*perWriter)
	}
}

func TestAuditTable_refusesARecordNotChainedToTheOneBeforeIt(t *testing.T) {
	s := openTemp(t, filepath.Join(t.TempDir(), "tokenguard.db"))
	ctx := t.Context()
	var first audit.Record
	if err := s.Update(ctx, func(tx store.Tx) (err error) {
		first, err = tx.AppendAudit(ctx, audit.Event{Time: time.Unix(0, 0), Actor: "a", Action: audit.ActionBootstrap, Outcome: "ok"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	insert := func(seq int64, prevHash string) error {
		_, err := s.write.ExecContext(ctx, "INSERT INTO audit ("+unkeyedAuditColumns+") VALUES (?, ?, 'h', ?, 'a', 'x', '', '', 'ok', NULL)",
			seq, prevHash, formatTime(time.Unix(0, 0)))
		return err
	}
	for _, c := range []struct {
		what     string
		seq      int64
		prevHash string
	}{
		{"a second record chained to the genesis hash (a fork)", 2, first.PrevHash},
		{"a record chained to a hash that is not its predecessor's", 2, strings.Repeat("ab", 32)},
		{"a record after a gap in the sequence", 3, first.Hash},
		{"a record with the sequence number of an existing one", 1, audit.GenesisHash},
	} {
		if err := insert(c.seq, c.prevHash); !isChainViolation(err) {
			t.Errorf("%s: error = %v, want the chain constraint to refuse it", c.what, err)
		}
	}
	if err := insert(2, first.Hash); err != nil {
		t.Errorf("a record chained to its predecessor: %v", err)
	}
}

func TestListLimits_defaultTo100AndCapAt1000ForAudit(t *testing.T) {
	s := openTemp(t, filepath.Join(t.TempDir(), "tokenguard.db"))
	ctx := t.Context()
	if err := s.Update(ctx, func(tx store.Tx) error {
		for i := range store.MaxListLimit + 5 {
			if _, err := tx.AppendAudit(ctx, audit.Event{Time: time.Unix(int64(i), 0), Actor: "a", Action: audit.ActionIntrospect, Outcome: "ok"}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for limit, want := range map[int]int{0: store.DefaultListLimit, -1: store.DefaultListLimit, 3: 3, 5000: store.MaxListLimit} {
		var got int
		if err := s.View(ctx, func(r store.Reader) error {
			recs, err := r.ListAudit(ctx, 0, limit)
			got = len(recs)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("ListAudit(limit %d) returned %d records, want %d", limit, got, want)
		}
	}
}

func TestTimes_roundTripToTheNanosecond(t *testing.T) {
	s := openTemp(t, filepath.Join(t.TempDir(), "tokenguard.db"))
	ctx := t.Context()
	created := time.Date(2026, 2, 3, 4, 5, 6, 789012345, time.FixedZone("PST", -8*3600))
	used := time.Date(2262, 1, 1, 0, 0, 0, 1, time.UTC)
	tok := store.Token{ID: "tok_ns", Name: "ns", OwnerIndex: "o", Status: store.StatusActive,
		CreatedAt: created, UpdatedAt: time.Time{}, ExpiresAt: created.Add(time.Nanosecond), LastUsedAt: &used}
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.InsertToken(ctx, tok) }); err != nil {
		t.Fatal(err)
	}
	var got store.Token
	if err := s.View(ctx, func(r store.Reader) (err error) { got, err = r.GetToken(ctx, tok.ID); return err }); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want time.Time
	}{
		{"CreatedAt", got.CreatedAt, created.UTC()},
		{"UpdatedAt (zero)", got.UpdatedAt, time.Time{}},
		{"ExpiresAt", got.ExpiresAt, created.Add(time.Nanosecond).UTC()},
		{"LastUsedAt", *got.LastUsedAt, used},
	}
	for _, c := range checks {
		if c.got != c.want { // == : same instant, same location (UTC), no monotonic reading
			t.Errorf("%s = %v, want exactly %v", c.name, c.got, c.want)
		}
	}
}

func TestInsertToken_rejectsYearsOutsideTheStoredRange(t *testing.T) {
	s := openTemp(t, filepath.Join(t.TempDir(), "tokenguard.db"))
	ctx := t.Context()
	tok := store.Token{ID: "tok_far", Name: "far", OwnerIndex: "o", Status: store.StatusActive,
		ExpiresAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	err := s.Update(ctx, func(tx store.Tx) error { return tx.InsertToken(ctx, tok) })
	if err == nil || !strings.Contains(err.Error(), "expires_at") {
		t.Errorf("InsertToken with year 10000: error = %v, want one naming expires_at", err)
	}
}

func TestReadForIntrospection_failsAfterCloseInsteadOfWaiting(t *testing.T) {
	s := openTemp(t, filepath.Join(t.TempDir(), "tokenguard.db"))
	if _, err := s.ReadForIntrospection(t.Context(), []byte("credential"), []byte("token")); err != nil {
		t.Fatalf("ReadForIntrospection before Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.ReadForIntrospection(t.Context(), []byte("credential"), []byte("token"))
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "closed") {
			t.Errorf("ReadForIntrospection after Close = %v, want an error saying the store is closed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ReadForIntrospection after Close still waits after 10 s")
	}
}

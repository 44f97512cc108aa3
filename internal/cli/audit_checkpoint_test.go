package cli

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // database/sql driver "sqlite", to tamper with the audit table

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/keyring"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// checkpointWorld is a database written by a real "tokenguard serve" with
// --audit-checkpoint, stopped, with its key file and checkpoint files.
type checkpointWorld struct {
	db, keyFile        string
	served, onDemand   string // checkpoint files: the service's own, and audit checkpoint's output
	head               int64
	clone              func(t *testing.T) string // a copy of the database to attack
	exec               func(t *testing.T, db, query string, args ...any)
	placeholder        func(n int) string
	resetHead          string // SQL that points the store's own head bookkeeping at record 4 (PostgreSQL's audit_head)
	serveArgs          []string
	restartAndAppendTo func(t *testing.T, db string) // serve db again and create a token
}

// newCheckpointWorld serves db (SQLite path or PostgreSQL URL) with --audit-checkpoint,
// drives seven audited operations through the API, asks for one checkpoint on demand with
// tokenguard audit checkpoint after five, and stops the service (which writes its last
// checkpoint).
func newCheckpointWorld(t *testing.T, w *checkpointWorld) {
	t.Helper()
	t.Setenv("TOKENGUARD_ADMIN_TOKEN", crashAdminToken)
	dir := t.TempDir()
	w.served, w.onDemand = filepath.Join(dir, "served.checkpoints"), filepath.Join(dir, "on-demand.checkpoints")
	w.serveArgs = []string{"--db", w.db, "--key-file", w.keyFile, "--audit-checkpoint", w.served, "--audit-checkpoint-interval", "1h"}
	url, _, stop := startServe(t, w.serveArgs...)
	c, err := client.New(client.Config{Endpoint: url, Token: crashAdminToken, RetryMax: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, err := c.CreateToken(ctx, multiCreateRequest("checkpoint-a"), "") // 2 (1 is the bootstrap)
	if err != nil {
		t.Fatal(err)
	}
	if in, err := c.Introspect(ctx, a.Secret); err != nil || !in.Active { // 3
		t.Fatalf("introspect: %v %v", in, err)
	}
	if _, err := c.RotateToken(ctx, a.ID, wire.RotateRequest{}, ""); err != nil { // 4
		t.Fatal(err)
	}
	b, err := c.CreateToken(ctx, multiCreateRequest("checkpoint-b"), "") // 5
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("TOKENGUARD_ENDPOINT", url)
	t.Setenv("TOKENGUARD_TOKEN", crashAdminToken)
	code, out, errs := run(t, "", "audit", "checkpoint")
	if code != 0 || !strings.Contains(out, `"seq":5,`) {
		t.Fatalf("audit checkpoint = %d %q %q; want a checkpoint of record 5", code, out, errs)
	}
	if err := os.WriteFile(w.onDemand, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	// Through the API: with the key file the chain verifies against the checkpoint; without
	// it the keyed records cannot be checked, and verify says what it needs (exit 2).
	if code, out, errs := run(t, "", "audit", "verify", "--key-file", w.keyFile, "--checkpoint", w.onDemand); code != 0 ||
		!strings.Contains(out, "audit chain verified: 5 records\nhead: record 5, hash ") || !strings.Contains(out, "extends all 1 signed checkpoints") {
		t.Fatalf("audit verify through the service = %d %q %q", code, out, errs)
	}
	t.Setenv("TOKENGUARD_KEY_FILE", "")
	if code, out, errs := run(t, "", "audit", "verify"); code != ExitUsage || !strings.Contains(errs, "at record 1: it is chained under audit key") ||
		!strings.Contains(errs, "--key-file") {
		t.Fatalf("audit verify through the service without the key file = %d %q %q; want exit 2 asking for it", code, out, errs)
	}
	if _, err := c.Introspect(ctx, b.Secret); err != nil { // 6
		t.Fatal(err)
	}
	if _, err := c.RevokeToken(ctx, b.ID); err != nil { // 7
		t.Fatal(err)
	}
	if code := stop(); code != 0 {
		t.Fatalf("serve exited %d", code)
	}
	w.head = 7
	served, err := os.ReadFile(w.served)
	if err != nil || !strings.Contains(string(served), `"seq":7,`) {
		t.Fatalf("--audit-checkpoint file after shutdown = %q, %v; want the checkpoint of record 7", served, err)
	}
}

// verify runs audit verify on db with both checkpoint files (and extra arguments).
func (w *checkpointWorld) verify(t *testing.T, db string, extra ...string) (int, string, string) {
	t.Helper()
	args := append([]string{"audit", "verify", "--db", db, "--key-file", w.keyFile, "--checkpoint", w.served, "--checkpoint", w.onDemand}, extra...)
	return run(t, "", args...)
}

// records reads the audit log of db with the store package, which holds no key.
func records(t *testing.T, db string) []audit.Record {
	t.Helper()
	ctx := context.Background()
	st, err := openDatabase(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	var recs []audit.Record
	if err := st.View(ctx, func(r store.Reader) error {
		var err error
		recs, err = r.ListAudit(ctx, 0, 1000)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return recs
}

// rechain rewrites records from..head of db as an attacker with the internal/audit package
// and no key file would: record from gets outcome "denied", and every record from it on is
// chained again with chain (Chain, or ChainKeyed under a key the attacker made up).
func (w *checkpointWorld) rechain(t *testing.T, db string, from int64, chain func(prev *audit.Record, seq int64, ev audit.Event) audit.Record) {
	t.Helper()
	recs := records(t, db)
	var prev *audit.Record
	for i := range recs {
		r := recs[i]
		if r.Seq < from {
			prev = &recs[i]
			continue
		}
		if r.Seq == from {
			r.Outcome = "denied"
		}
		recs[i] = chain(prev, r.Seq, r.Event)
		prev = &recs[i]
		p := w.placeholder
		w.exec(t, db, fmt.Sprintf("UPDATE audit SET outcome = %s, prev_hash = %s, hash = %s, key_id = %s WHERE seq = %s", p(1), p(2), p(3), p(4), p(5)),
			recs[i].Outcome, recs[i].PrevHash, recs[i].Hash, recs[i].KeyID, recs[i].Seq)
	}
}

// runCheckpointAttacks runs every attack on a fresh copy of the world's database and checks
// that audit verify --checkpoint fails naming the first bad record, and that the untouched
// database verifies and prints its head.
func runCheckpointAttacks(t *testing.T, w *checkpointWorld) {
	code, out, errs := w.verify(t, w.db)
	want := records(t, w.db)[w.head-1]
	if code != 0 || !strings.Contains(out, fmt.Sprintf("audit chain verified: %d records\nhead: record %d, hash %s\n", w.head, w.head, want.Hash)) ||
		!strings.Contains(out, "extends all 2 signed checkpoints") {
		t.Fatalf("audit verify of the untouched database = %d %q %q", code, out, errs)
	}
	keys, err := keyring.Load(w.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	guessed := make([]byte, 32)
	_, _ = rand.Read(guessed)
	guessedKey, err := audit.NewKey(keys.KeyID(), guessed) // the real key id, a made-up key
	if err != nil {
		t.Fatal(err)
	}
	attacks := []struct {
		name    string
		attack  func(t *testing.T, db string)
		wantSeq int64
		wantMsg string
	}{
		{"truncated: DELETE FROM audit WHERE seq > 4", func(t *testing.T, db string) {
			w.exec(t, db, "DELETE FROM audit WHERE seq > 4")
		}, 5, "truncated or rolled back"},
		{"one record edited", func(t *testing.T, db string) {
			w.exec(t, db, "UPDATE audit SET outcome = 'inactive' WHERE seq = 3")
		}, 3, "altered"},
		{"re-chained unkeyed from record 3 with audit.Chain", func(t *testing.T, db string) {
			w.rechain(t, db, 3, audit.Chain)
		}, 3, "not keyed"},
		{"whole table re-chained unkeyed with audit.Chain", func(t *testing.T, db string) {
			w.rechain(t, db, 1, audit.Chain)
		}, 1, "not keyed"},
		{"re-chained from record 3 under a made-up key with the real key id", func(t *testing.T, db string) {
			w.rechain(t, db, 3, func(prev *audit.Record, seq int64, ev audit.Event) audit.Record {
				return audit.ChainKeyed(prev, seq, ev, guessedKey)
			})
		}, 3, "altered"},
		{"truncated to record 4 and re-chained unkeyed from record 2", func(t *testing.T, db string) {
			w.exec(t, db, "DELETE FROM audit WHERE seq > 4")
			w.rechain(t, db, 2, audit.Chain)
		}, 2, "not keyed"},
		{"rolled back to record 4, then the service appended again", func(t *testing.T, db string) {
			w.exec(t, db, "DELETE FROM audit WHERE seq > 4")
			if w.resetHead != "" {
				w.exec(t, db, w.resetHead)
			}
			w.exec(t, db, "UPDATE tokens SET name = name || '-old'") // free the names for new creates
			w.restartAndAppendTo(t, db)
		}, 5, "rolled back or rewritten"},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			db := w.clone(t)
			a.attack(t, db)
			code, out, errs := w.verify(t, db)
			if code != ExitFindings || !strings.Contains(errs, fmt.Sprintf("at record %d:", a.wantSeq)) || !strings.Contains(errs, a.wantMsg) {
				t.Fatalf("audit verify --checkpoint = %d %q %q; want exit 1 naming record %d (%s)", code, out, errs, a.wantSeq, a.wantMsg)
			}
		})
	}
	t.Run("truncation without a checkpoint is the documented limit", func(t *testing.T) {
		db := w.clone(t)
		w.exec(t, db, "DELETE FROM audit WHERE seq > 4")
		code, out, errs := run(t, "", "audit", "verify", "--db", db, "--key-file", w.keyFile)
		if code != 0 || !strings.Contains(out, "head: record 4, hash ") {
			t.Fatalf("audit verify without --checkpoint = %d %q %q; want it to verify the shorter chain and print its head", code, out, errs)
		}
	})
	t.Run("forged checkpoints are refused", func(t *testing.T) {
		line, err := os.ReadFile(w.onDemand)
		if err != nil {
			t.Fatal(err)
		}
		_, attackerPriv, _ := ed25519.GenerateKey(rand.Reader)
		short := audit.SignCheckpoint(records(t, w.db)[3], 1, time.Now(), keys.KeyID(), attackerPriv)
		forged := map[string]string{
			"seq lowered after signing":                     strings.Replace(string(line), `"seq":5,`, `"seq":4,`, 1),
			"signed by a key made up, with the real key id": string(short.MarshalLine()),
			"not a checkpoint line":                         "seq 7 hash abc\n",
		}
		for name, content := range forged {
			path := filepath.Join(t.TempDir(), "forged")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			code, out, errs := run(t, "", "audit", "verify", "--db", w.db, "--key-file", w.keyFile, "--checkpoint", path)
			if code == 0 || !strings.Contains(errs, "bad audit checkpoint") {
				t.Errorf("%s: audit verify = %d %q %q; want it refused as a bad audit checkpoint", name, code, out, errs)
			}
		}
	})
}

// TestAuditCheckpoint_truncationEditAndRechainFailVerifyOnSQLite proves on SQLite, against
// the real serve, that truncating, editing or re-chaining the audit table without the key
// file makes audit verify --checkpoint fail naming the first bad record.
func TestAuditCheckpoint_truncationEditAndRechainFailVerifyOnSQLite(t *testing.T) {
	dir := t.TempDir()
	w := &checkpointWorld{db: filepath.Join(dir, "tg.db"), keyFile: filepath.Join(dir, "tokenguard.key"), placeholder: func(int) string { return "?" }}
	w.exec = func(t *testing.T, db, query string, args ...any) {
		t.Helper()
		sqldb, err := sql.Open("sqlite", db)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = sqldb.Close() }()
		if _, err := sqldb.Exec(query, args...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
	w.clone = func(t *testing.T) string {
		t.Helper()
		copyDB := filepath.Join(t.TempDir(), "copy.db")
		for _, suffix := range []string{"", "-wal"} {
			b, err := os.ReadFile(w.db + suffix) //nolint:gosec // G304: the database serve wrote in the test's directory
			if err != nil && suffix != "" {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(copyDB+suffix, b, 0o600); err != nil { //nolint:gosec // G703: a copy in the test's directory
				t.Fatal(err)
			}
		}
		return copyDB
	}
	w.restartAndAppendTo = func(t *testing.T, db string) { restartAndCreate(t, db, w.keyFile) }
	newCheckpointWorld(t, w)
	runCheckpointAttacks(t, w)
}

// TestAuditCheckpoint_truncationEditAndRechainFailVerifyOnPostgreSQL is the same on
// PostgreSQL: the service and the attacker share one database server.
func TestAuditCheckpoint_truncationEditAndRechainFailVerifyOnPostgreSQL(t *testing.T) {
	db := freshPostgresDatabase(t)
	w := &checkpointWorld{db: db, keyFile: filepath.Join(t.TempDir(), "tokenguard.key"), placeholder: func(n int) string { return fmt.Sprintf("$%d", n) },
		resetHead: "UPDATE audit_head SET (seq, hash, key_id) = (SELECT seq, hash, key_id FROM audit WHERE seq = 4)"}
	w.exec = func(t *testing.T, db, query string, args ...any) {
		t.Helper()
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = conn.Close(ctx) }()
		if _, err := conn.Exec(ctx, query, args...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
	w.clone = func(t *testing.T) string {
		t.Helper()
		ctx := context.Background()
		u, err := url.Parse(w.db)
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		name := "tg_attack_" + hex.EncodeToString(b)
		conn, err := pgx.Connect(ctx, os.Getenv("TOKENGUARD_TEST_POSTGRES_URL"))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = conn.Close(ctx) }()
		from := pgx.Identifier{strings.TrimPrefix(u.Path, "/")}.Sanitize()
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE "+from); err != nil {
			t.Fatalf("copying the database: %v", err)
		}
		t.Cleanup(func() {
			if c, err := pgx.Connect(ctx, os.Getenv("TOKENGUARD_TEST_POSTGRES_URL")); err == nil {
				_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
				_ = c.Close(ctx)
			}
		})
		u.Path = "/" + name
		return u.String()
	}
	w.restartAndAppendTo = func(t *testing.T, db string) { restartAndCreate(t, db, w.keyFile) }
	newCheckpointWorld(t, w)
	runCheckpointAttacks(t, w)
}

// restartAndCreate serves db again (without checkpoints) and creates one token.
func restartAndCreate(t *testing.T, db, keyFile string) {
	t.Helper()
	url, _, stop := startServe(t, "--db", db, "--key-file", keyFile)
	c, err := client.New(client.Config{Endpoint: url, Token: crashAdminToken, RetryMax: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateToken(context.Background(), multiCreateRequest("checkpoint-after-rollback"), ""); err != nil {
		t.Fatal(err)
	}
	if code := stop(); code != 0 {
		t.Fatalf("serve exited %d", code)
	}
}

// TestAuditChain_upgradeKeepsTheUnkeyedPrefixAndRefusesUnkeyedRecordsAfterIt: a database
// whose chain was written before the audit key existed (unkeyed records) keeps verifying
// after the real serve starts on it; the service appends an audit.key record under the key
// first, so an attacker can neither append (or re-chain) unkeyed records after it nor cut
// the chain back to its unkeyed prefix.
func TestAuditChain_upgradeKeepsTheUnkeyedPrefixAndRefusesUnkeyedRecordsAfterIt(t *testing.T) {
	t.Setenv("TOKENGUARD_ADMIN_TOKEN", crashAdminToken)
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "tg.db")
	keyFile := db + ".key"
	st, err := openDatabase(ctx, db) // no audit key: the records are unkeyed, as before the upgrade
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Update(ctx, func(tx store.Tx) error {
		for i := range 3 {
			if _, err := tx.AppendAudit(ctx, audit.Event{Time: time.Unix(int64(i), 0), Actor: "cred_old", Action: audit.ActionIntrospect, Outcome: "inactive"}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	_, _, stop := startServe(t, "--db", db)
	if code := stop(); code != 0 {
		t.Fatalf("serve exited %d", code)
	}
	recs := records(t, db)
	if len(recs) != 5 || recs[2].KeyID != "" || recs[3].Action != audit.ActionKeyChain || recs[3].KeyID == "" || recs[4].KeyID == "" {
		t.Fatalf("after the upgrade: %+v; want 3 unkeyed records, then audit.key and the bootstrap under the key", recs)
	}
	if code, out, errs := run(t, "", "audit", "verify", "--db", db, "--key-file", keyFile); code != 0 || !strings.HasPrefix(out, "audit chain verified: 5 records\nhead: record 5, hash "+recs[4].Hash) {
		t.Fatalf("audit verify after the upgrade = %d %q %q", code, out, errs)
	}
	copyDB := func() string {
		t.Helper()
		b, err := os.ReadFile(db) //nolint:gosec // G304: the database serve wrote in the test's directory
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), "copy.db")
		if err := os.WriteFile(p, b, 0o600); err != nil { //nolint:gosec // G703: a copy in the test's directory
			t.Fatal(err)
		}
		return p
	}
	w := &checkpointWorld{placeholder: func(int) string { return "?" }, exec: func(t *testing.T, db, query string, args ...any) {
		t.Helper()
		sqldb, err := sql.Open("sqlite", db)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = sqldb.Close() }()
		if _, err := sqldb.Exec(query, args...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}}
	for _, c := range []struct {
		name    string
		attack  func(db string)
		wantSeq int64
	}{
		{"the last record re-chained unkeyed", func(db string) { w.rechain(t, db, 5, audit.Chain) }, 5},
		{"the keyed records deleted, leaving the unkeyed prefix", func(db string) { w.exec(t, db, "DELETE FROM audit WHERE seq > 3") }, 3},
		// Without a checkpoint (whose keyed_from would name record 4) nothing says where the
		// forgery starts: the verdict names the head.
		{"everything from the first keyed record re-chained unkeyed", func(db string) { w.rechain(t, db, 4, audit.Chain) }, 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			attacked := copyDB()
			c.attack(attacked)
			code, out, errs := run(t, "", "audit", "verify", "--db", attacked, "--key-file", keyFile)
			if code != ExitFindings || !strings.Contains(errs, fmt.Sprintf("at record %d:", c.wantSeq)) || !strings.Contains(errs, "keyed") {
				t.Fatalf("audit verify = %d %q %q; want exit 1 naming record %d", code, out, errs, c.wantSeq)
			}
		})
	}
}

// TestServe_auditCheckpointDashWritesCheckpointsToStandardOutput: --audit-checkpoint -
// writes the checkpoint lines to serve's standard output (for a log pipeline), the last one
// at shutdown, and they verify against the database.
func TestServe_auditCheckpointDashWritesCheckpointsToStandardOutput(t *testing.T) {
	t.Setenv("TOKENGUARD_ADMIN_TOKEN", crashAdminToken)
	dir := t.TempDir()
	db := filepath.Join(dir, "tg.db")
	keyFile := db + ".key" // where serve puts it without --key-file
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &listenWatcher{url: make(chan string, 1)}
	done := make(chan int, 1)
	go func() {
		done <- RunContext(ctx, []string{"serve", "--listen", "127.0.0.1:0", "--db", db, "--audit-checkpoint", "-"}, strings.NewReader(""), out, io.Discard)
	}()
	select {
	case <-out.url:
	case code := <-done:
		t.Fatalf("serve exited %d before listening: %s", code, out.String())
	case <-time.After(2 * time.Minute): // a hang guard, not a timing assertion
		t.Fatal("serve did not start listening")
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exited %d", code)
	}
	var lines []string
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(l, `{"audit_checkpoint":`) {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 || !strings.Contains(lines[0], `"seq":1,`) {
		t.Fatalf("standard output = %q; want exactly the shutdown checkpoint of record 1 (the bootstrap)", out.String())
	}
	cpFile := filepath.Join(dir, "stdout.checkpoints")
	if err := os.WriteFile(cpFile, []byte(lines[0]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, o, errs := run(t, "", "audit", "verify", "--db", db, "--key-file", keyFile, "--checkpoint", cpFile); code != 0 || !strings.Contains(o, "extends all 1 signed checkpoints") {
		t.Fatalf("audit verify against the stdout checkpoint = %d %q %q", code, o, errs)
	}
}

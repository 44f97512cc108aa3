package cli

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/keyring"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store/postgres"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store/sqlite"
)

// keyIDs returns the key ids of the key file at path.
func keyIDs(t *testing.T, path string) []string {
	t.Helper()
	keys, err := keyring.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return keys.KeyIDs()
}

// TestAdminRekey_refusesWhileAServeProcessHoldsTheSQLiteDatabase runs a real "tokenguard
// serve" process on a SQLite file: admin rekey --new-key refuses (exit 1), names the problem
// and both ways out, and changes nothing (the key file keeps its keys, the service keeps
// verifying). --force rekeys anyway and says to restart. Once the process is SIGKILLed (no
// shutdown code runs), the lock is gone and rekey runs. While rekey holds the lock, serve
// refuses to start and says why.
func TestAdminRekey_refusesWhileAServeProcessHoldsTheSQLiteDatabase(t *testing.T) {
	ctx := context.Background()
	bin := tokenguardBinary(t)
	db := filepath.Join(t.TempDir(), "tg.db")
	keyFile := db + ".key"
	p := startServeProcess(t, bin, db)
	tok, err := p.client(t).CreateToken(ctx, crashCreateRequest("held"), "")
	if err != nil {
		t.Fatal(err)
	}
	before := keyIDs(t, keyFile)

	code, out, errs := runAdmin(t, "rekey", "--db", db, "--new-key")
	if code != ExitFindings {
		t.Fatalf("rekey --new-key while serve runs = %d, want %d\n%s%s", code, ExitFindings, out, errs)
	}
	for _, want := range []string{"a running service holds the database", db + ".lock", "stop the service", "--force"} {
		if !strings.Contains(errs, want) {
			t.Fatalf("refusal %q does not say %q", errs, want)
		}
	}
	if out != "" {
		t.Fatalf("a refused rekey printed %q", out)
	}
	if after := keyIDs(t, keyFile); !slices.Equal(after, before) {
		t.Fatalf("a refused rekey changed the key file: %v -> %v", before, after)
	}
	if in, err := p.client(t).Introspect(ctx, tok.Secret); err != nil || !in.Active {
		t.Fatalf("introspection after the refused rekey: active %v, %v", in.Active, err)
	}

	// --force: done, with a warning and the instruction to restart.
	code, out, errs = runAdmin(t, "rekey", "--db", db, "--force")
	if code != 0 || !strings.Contains(errs, "warning: --force") || !strings.Contains(out, "restart running services now") {
		t.Fatalf("rekey --force while serve runs = %d\n%s%s", code, out, errs)
	}

	p.kill() // SIGKILL: the operating system releases the lock
	code, out, errs = runAdmin(t, "rekey", "--db", db, "--new-key")
	if code != 0 || !strings.Contains(out, "no service held the database") {
		t.Fatalf("rekey --new-key after serve was SIGKILLed = %d\n%s%s", code, out, errs)
	}
	if after := keyIDs(t, keyFile); len(after) != len(before)+1 {
		t.Fatalf("key file after rekey --new-key: %v, want one key more than %v", after, before)
	}

	// While an admin command holds the lock, serve refuses to start, saying why.
	lock, err := sqlite.HoldForMaintenance(db)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--db", db) //nolint:gosec // the binary this test built
	cmd.Env = append(os.Environ(), "TOKENGUARD_ADMIN_TOKEN="+crashAdminToken)
	serveOut, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(serveOut), "locked by an admin command") {
		t.Fatalf("serve while rekey holds the lock: %v\n%s", err, serveOut)
	}
	if err := lock.Release(); err != nil {
		t.Fatal(err)
	}
	p = startServeProcess(t, bin, db)
	if in, err := p.client(t).Introspect(ctx, tok.Secret); err != nil || !in.Active {
		t.Fatalf("introspection after the rekeys and a restart: active %v, %v", in.Active, err)
	}
}

// testRekeyRefusedWhileInstancesRun (PostgreSQL, two real serve processes): admin rekey
// --new-key refuses while instances hold the service lock, saying how many, and changes
// nothing; after one is SIGKILLed it still refuses (one left); after both are, it runs. An
// instance started while a rekey holds the lock waits for it (its lock request shows as
// waiting in pg_locks, and it logs why) and becomes ready once the rekey ends, with the new
// key.
func testRekeyRefusedWhileInstancesRun(t *testing.T, bin string) {
	ctx := context.Background()
	db, a, b := twoInstances(t, bin)
	keyFile := os.Getenv("TOKENGUARD_KEY_FILE")
	tok, err := a.client(t).CreateToken(ctx, multiCreateRequest("held"), "")
	if err != nil {
		t.Fatal(err)
	}
	before := keyIDs(t, keyFile)
	t.Setenv("TOKENGUARD_DB", db)
	for _, tc := range []struct {
		kill *serveProcess
		want string
	}{{nil, "2 tokenguard serve instance(s)"}, {a, "1 tokenguard serve instance(s)"}} {
		if tc.kill != nil {
			tc.kill.kill()
		}
		code, out, errs := run(t, "", "admin", "rekey", "--new-key")
		if code != ExitFindings || out != "" {
			t.Fatalf("rekey with instances running = %d, want %d\n%s%s", code, ExitFindings, out, errs)
		}
		for _, want := range []string{"a running service holds the database", tc.want, "stop every instance", "--force"} {
			if !strings.Contains(errs, want) {
				t.Fatalf("refusal %q does not say %q", errs, want)
			}
		}
		if strings.Contains(errs, "postgres://") {
			t.Fatalf("the refusal shows the database URL: %q", errs)
		}
		if after := keyIDs(t, keyFile); !slices.Equal(after, before) {
			t.Fatalf("a refused rekey changed the key file: %v -> %v", before, after)
		}
	}
	if in, err := b.client(t).Introspect(ctx, tok.Secret); err != nil || !in.Active {
		t.Fatalf("introspection on the remaining instance after the refusals: active %v, %v", in.Active, err)
	}
	b.kill()
	if code, out, errs := run(t, "", "admin", "rekey", "--new-key"); code != 0 || !strings.Contains(out, "no service held the database") {
		t.Fatalf("rekey after both instances were SIGKILLed = %d\n%s%s", code, out, errs)
	}

	// An instance that starts while the lock is held exclusively waits for it.
	st, err := postgres.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	lock, err := st.HoldForMaintenance(ctx)
	if err != nil {
		t.Fatal(err)
	}
	observer, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = observer.Close(ctx) }()
	started := make(chan *serveProcess, 1)
	go func() {
		// startServeProcess fails the test with runtime.Goexit on error: the deferred send
		// still unblocks the test goroutine, which then fails instead of hanging.
		var p *serveProcess
		defer func() { started <- p }()
		p = startServeProcess(t, bin, db)
	}()
	deadline := time.Now().Add(2 * time.Minute)
	for waiting := 0; waiting == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the starting instance never waited on the service lock within 2 minutes")
		}
		err := observer.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND mode = 'ShareLock'
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		select {
		case p := <-started:
			if p == nil {
				t.Fatal("the instance started while an admin command held the service lock failed to start")
			}
			t.Fatal("serve became ready while an admin command held the service lock")
		default:
		}
	}
	if err := lock.Release(); err != nil {
		t.Fatal(err)
	}
	waited := <-started
	if waited == nil {
		t.Fatal("the instance that waited for the lock failed to start once it was released")
	}
	if !strings.Contains(waited.stderr.String(), "waiting for an admin command (admin rekey)") {
		t.Fatalf("the instance that waited for the lock did not log why:\n%s", waited.stderr.String())
	}
	c := waited.client(t)
	if in, err := c.Introspect(ctx, tok.Secret); err != nil || !in.Active {
		t.Fatalf("introspection on an instance started after the rekey: active %v, %v", in.Active, err)
	}
}

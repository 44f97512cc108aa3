package cli

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite" // database/sql driver "sqlite", to tamper with the audit table

	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// startServe runs "tokenguard serve" on a free loopback port until the test ends and returns
// its URL, its log stream and a function that stops it and returns its exit code.
func startServe(t *testing.T, args ...string) (url string, logs *servertest.SafeBuffer, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &listenWatcher{url: make(chan string, 1)}
	logs = &servertest.SafeBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- RunContext(ctx, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...), strings.NewReader(""), out, logs)
	}()
	stopped := false
	var code int
	stop = func() int {
		if !stopped {
			cancel()
			code = <-done
			stopped = true
		}
		return code
	}
	t.Cleanup(func() { stop() })
	select {
	case url = <-out.url:
		return url, logs, stop
	case code = <-done:
		stopped = true
		t.Fatalf("serve exited with %d before listening:\n%s\n%s", code, out.String(), logs.String())
	case <-time.After(2 * time.Minute): // a hang guard, not a timing assertion
		t.Fatalf("serve did not start listening:\n%s\n%s", out.String(), logs.String())
	}
	return "", nil, nil
}

// listenWatcher is serve's stdout: it keeps the output and sends the URL of the
// "listening on" line once it is written.
type listenWatcher struct {
	servertest.SafeBuffer
	url  chan string
	sent bool
}

func (w *listenWatcher) Write(p []byte) (int, error) {
	n, err := w.SafeBuffer.Write(p)
	if !w.sent {
		for _, line := range strings.Split(w.String(), "\n") {
			if u, ok := strings.CutPrefix(line, "tokenguard: listening on "); ok && strings.HasSuffix(w.String(), "\n") {
				w.sent = true
				w.url <- strings.TrimSpace(u)
				break
			}
		}
	}
	return n, err
}

// run runs the CLI with stdin and returns the exit code, stdout and stderr.
func run(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestServeTokenAudit_fullLifecycleThroughTheCLIAndTamperDetection(t *testing.T) {
	t.Setenv("TOKENGUARD_ADMIN_TOKEN", "")
	dir := t.TempDir()
	db := filepath.Join(dir, "tg.db")
	url, logs, stop := startServe(t, "--db", db)

	tokenFile := db + ".admin-token"
	info, err := os.Stat(tokenFile)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("admin token file: %v mode %v; want mode 0600", err, info)
	}
	raw, err := os.ReadFile(tokenFile) //nolint:gosec // G304: the admin token file serve wrote in the test's directory
	if err != nil {
		t.Fatal(err)
	}
	admin := strings.TrimSpace(string(raw))
	if info, err := os.Stat(db + ".key"); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file <db>.key next to the database: %v", err)
	}
	t.Setenv("TOKENGUARD_ENDPOINT", url)
	t.Setenv("TOKENGUARD_TOKEN", admin)

	code, out, errs := run(t, "", "token", "create", "--name", "orders-sync", "--owner", "team-orders",
		"--purpose", "sync paid orders to the warehouse system", "--scope", "orders:read",
		"--data-category", "commercial", "--rotation-overlap", "1h", "--json")
	if code != 0 {
		t.Fatalf("token create = %d\n%s%s", code, out, errs)
	}
	var tok wire.Token
	if err := json.Unmarshal([]byte(out), &tok); err != nil || tok.Secret == "" {
		t.Fatalf("token create --json output %q: %v", out, err)
	}
	secrets := []string{admin, tok.Secret}

	if code, out, _ := run(t, tok.Secret+"\n", "token", "introspect"); code != 0 || !strings.Contains(out, "active: true") || !strings.Contains(out, tok.ID) {
		t.Fatalf("introspect new token = %d %q", code, out)
	}
	code, out, errs = run(t, "", "token", "rotate", tok.ID)
	if code != 0 || !strings.Contains(out, "SECRET (shown only this once") || !regexp.MustCompile(`secret version:\s+2\n`).MatchString(out) {
		t.Fatalf("token rotate = %d\n%s%s", code, out, errs)
	}
	newSecret := strings.TrimSpace(out[strings.LastIndex(strings.TrimSpace(out), "\n"):])
	secrets = append(secrets, newSecret)
	if code, _, errs := run(t, "", "token", "renew", tok.ID, "--reason", "still needed"); code != ExitUsage || !strings.Contains(errs, "reviewed_by") {
		t.Fatalf("renew without reviewer = %d %q; want exit 2 naming reviewed_by", code, errs)
	}
	if code, out, errs := run(t, "", "token", "renew", tok.ID, "--reason", "still needed", "--reviewed-by", "security-team"); code != 0 {
		t.Fatalf("renew = %d\n%s%s", code, out, errs)
	}
	if code, out, _ := run(t, "", "token", "list"); code != 0 || !strings.Contains(out, tok.ID) || !strings.Contains(out, "active") {
		t.Fatalf("token list = %d\n%s", code, out)
	}
	if code, out, _ := run(t, "", "token", "show", tok.ID); code != 0 || strings.Contains(out, "SECRET") || !strings.Contains(out, "fingerprint:") {
		t.Fatalf("token show = %d\n%s", code, out)
	}
	if code, out, _ := run(t, "", "token", "revoke", tok.ID); code != 0 || !strings.Contains(out, "revoked") {
		t.Fatalf("token revoke = %d\n%s", code, out)
	}
	if code, out, _ := run(t, newSecret+"\n", "token", "introspect", "--json"); code != ExitFindings || strings.TrimSpace(out) != `{
  "active": false
}` {
		t.Fatalf("introspect revoked = %d %q; want exit 1 and active false", code, out)
	}
	// bootstrap, create, introspect, rotate, renew, revoke, introspect: 7 records.
	// The records are HMACs under the audit key: verifying them takes the key file.
	t.Setenv("TOKENGUARD_KEY_FILE", db+".key")
	if code, out, errs := run(t, "", "audit", "verify"); code != 0 || !strings.HasPrefix(out, "audit chain verified: 7 records\nhead: record 7, hash ") {
		t.Fatalf("audit verify = %d %q %q", code, out, errs)
	}
	if code := stop(); code != 0 {
		t.Fatalf("serve exited %d after cancel", code)
	}
	for _, s := range secrets {
		if strings.Contains(logs.String(), s) {
			t.Fatal("a secret appears in the service log")
		}
	}

	if code, out, _ := run(t, "", "audit", "verify", "--db", db); code != 0 || !strings.HasPrefix(out, "audit chain verified: 7 records\nhead: record 7, hash ") {
		t.Fatalf("offline audit verify = %d %q", code, out)
	}
	sqldb, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	res, err := sqldb.Exec(`UPDATE audit SET outcome = 'inactive' WHERE seq = 3`)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		t.Fatalf("tampering updated %d rows (%v)", n, err)
	}
	if err := sqldb.Close(); err != nil {
		t.Fatal(err)
	}
	code, out, errs = run(t, "", "audit", "verify", "--db", db)
	if code != ExitFindings || !strings.Contains(errs, "record 3") {
		t.Fatalf("offline verify of a tampered database = %d %q %q; want exit 1 naming record 3", code, out, errs)
	}

	// A restarted service keeps the token's state and reports the same broken record.
	url, _, _ = startServe(t, "--db", db)
	t.Setenv("TOKENGUARD_ENDPOINT", url)
	if code, out, _ := run(t, "", "token", "show", tok.ID, "--json"); code != 0 || !strings.Contains(out, `"status": "revoked"`) {
		t.Fatalf("show after restart = %d %s", code, out)
	}
	code, _, errs = run(t, "", "audit", "verify")
	if code != ExitFindings || !strings.Contains(errs, "record 3") {
		t.Fatalf("verify of a tampered chain through the service = %d %q", code, errs)
	}
}

func TestServe_refusesUnsafeOrUnsupportedSettings(t *testing.T) {
	t.Setenv("TOKENGUARD_ADMIN_TOKEN", "")
	dir := t.TempDir()
	db := filepath.Join(dir, "tg.db")

	code, _, errs := run(t, "", "serve", "--listen", "0.0.0.0:0", "--db", db)
	if code != ExitUsage || !strings.Contains(errs, "not a loopback address") {
		t.Fatalf("non-loopback plain HTTP = %d %q", code, errs)
	}
	code, _, errs = run(t, "", "serve", "--db", "postgres://app:hunter2@db.internal/tokens")
	if code != ExitUsage || !strings.Contains(errs, "--key-file is required with a PostgreSQL --db") || strings.Contains(errs, "hunter2") {
		t.Fatalf("postgres URL = %d %q", code, errs)
	}
	code, _, errs = run(t, "", "serve", "--db", db, "--max-ttl", "10d")
	if code != ExitUsage || !strings.Contains(errs, "--default-ttl 30d is longer than --max-ttl 10d") {
		t.Fatalf("default over max = %d %q", code, errs)
	}

	// The environment supplies flags not given; a flag given wins over the environment.
	t.Setenv("TOKENGUARD_LISTEN", "0.0.0.0:1")
	code, _, errs = run(t, "", "serve", "--db", db)
	if code != ExitUsage || !strings.Contains(errs, "0.0.0.0:1 is not a loopback address") {
		t.Fatalf("TOKENGUARD_LISTEN not applied: %d %q", code, errs)
	}
	keyFile := filepath.Join(dir, "open.key")
	if err := os.WriteFile(keyFile, []byte("{}"), 0o644); err != nil { //nolint:gosec // G306: the world-readable key file serve must refuse
		t.Fatal(err)
	}
	code, _, errs = run(t, "", "serve", "--db", db, "--listen", "127.0.0.1:0", "--key-file", keyFile)
	if code != ExitFindings || !strings.Contains(errs, "chmod 600") {
		t.Fatalf("--listen did not win over TOKENGUARD_LISTEN, or key file mode not checked: %d %q", code, errs)
	}
}

func TestServe_bootstrapsAdminFromEnvironmentWithoutWritingAFile(t *testing.T) {
	admin := "tgc_from-environment-0123456789-abcdefghij"
	t.Setenv("TOKENGUARD_ADMIN_TOKEN", admin)
	db := filepath.Join(t.TempDir(), "tg.db")
	url, logs, _ := startServe(t, "--db", db)
	if _, err := os.Stat(db + ".admin-token"); !os.IsNotExist(err) {
		t.Fatalf("admin token file written although TOKENGUARD_ADMIN_TOKEN was set: %v", err)
	}
	t.Setenv("TOKENGUARD_ENDPOINT", url)
	t.Setenv("TOKENGUARD_TOKEN", admin)
	if code, out, errs := run(t, "", "token", "list", "--json"); code != 0 || strings.TrimSpace(out) != "{\n  \"tokens\": []\n}" {
		t.Fatalf("list with the environment admin = %d %q %q", code, out, errs)
	}
	t.Setenv("TOKENGUARD_TOKEN", "tgc_wrong")
	if code, _, errs := run(t, "", "token", "list"); code != ExitUsage || !strings.Contains(errs, "401") {
		t.Fatalf("list with a wrong credential = %d %q", code, errs)
	}
	if strings.Contains(logs.String(), admin) {
		t.Fatal("the admin secret appears in the log")
	}
}

func TestTokenCreate_requiresADataCategoryDeclaration(t *testing.T) {
	t.Setenv("TOKENGUARD_TOKEN", "x")
	code, _, errs := run(t, "", "token", "create", "--name", "n", "--owner", "o", "--purpose", "p", "--scope", "s")
	if code != ExitUsage || !strings.Contains(errs, "--no-personal-data") {
		t.Fatalf("create without categories = %d %q", code, errs)
	}
}

func TestCredentialCreate_printsSecretOnceAndItCanIntrospect(t *testing.T) {
	svc := servertest.Start(t, servertest.Options{})
	t.Setenv("TOKENGUARD_ENDPOINT", svc.URL)
	t.Setenv("TOKENGUARD_TOKEN", svc.AdminToken)
	var out, errb bytes.Buffer
	cmd := newCredentialCommand(&streams{in: strings.NewReader(""), out: &out, err: &errb})
	cmd.SetArgs([]string{"create", "--name", "orders-api", "--json"})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("credential create: %v %s", err, errb.String())
	}
	var cred wire.Credential
	if err := json.Unmarshal(out.Bytes(), &cred); err != nil || !strings.HasPrefix(cred.Secret, "tgc_") || strings.Join(cred.Rights, ",") != "introspect" {
		t.Fatalf("credential = %+v, %v", cred, err)
	}
	t.Setenv("TOKENGUARD_TOKEN", cred.Secret)
	if code, out, _ := run(t, "tg_live_notatoken\n", "token", "introspect"); code != ExitFindings || out != "active: false\n" {
		t.Fatalf("introspect with the new credential = %d %q", code, out)
	}
	if code, _, errs := run(t, "", "token", "list"); code != ExitUsage || !strings.Contains(errs, "403") {
		t.Fatalf("introspect-only credential listing tokens = %d %q; want 403", code, errs)
	}
}

func TestServe_refusesToReplaceAMissingKeyFileOfAnExistingDatabase(t *testing.T) {
	t.Setenv("TOKENGUARD_ADMIN_TOKEN", "")
	dir := t.TempDir()
	db := filepath.Join(dir, "tg.db")
	_, _, stop := startServe(t, "--db", db)
	if code := stop(); code != 0 {
		t.Fatalf("first serve exited %d", code)
	}
	if err := os.Remove(db + ".key"); err != nil {
		t.Fatal(err)
	}
	code, _, errs := run(t, "", "serve", "--listen", "127.0.0.1:0", "--db", db)
	if code != ExitFindings || !strings.Contains(errs, "restore the key file") {
		t.Fatalf("serve without its key file = %d %q; want exit 1 asking to restore it", code, errs)
	}
	if _, err := os.Stat(db + ".key"); !os.IsNotExist(err) {
		t.Fatal("a new key file was created for a database sealed with another key")
	}
}

// TestServe_keyFilePerDatabaseAndNothingWrittenWithoutAPort: two databases in one directory
// get two key files (<db>.key); a serve that cannot bind its port writes nothing; a database
// kept with the old default tokenguard.key still finds it, with a warning naming the rename.
func TestServe_keyFilePerDatabaseAndNothingWrittenWithoutAPort(t *testing.T) {
	t.Setenv("TOKENGUARD_ADMIN_TOKEN", "")
	t.Setenv("TOKENGUARD_KEY_FILE", "")
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db")
	for _, db := range []string{a, b} {
		_, _, stop := startServe(t, "--db", db)
		if code := stop(); code != 0 {
			t.Fatalf("serve --db %s exited %d", db, code)
		}
	}
	ka, errA := os.ReadFile(a + ".key") //nolint:gosec // G304: a key file in the test's directory
	kb, errB := os.ReadFile(b + ".key") //nolint:gosec // G304: a key file in the test's directory
	if errA != nil || errB != nil || bytes.Equal(ka, kb) {
		t.Fatalf("two databases in one directory: key files %v %v, equal %v; want two different files", errA, errB, bytes.Equal(ka, kb))
	}

	// The port is taken: nothing may be written before the listener is bound.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = busy.Close() }()
	c := filepath.Join(dir, "c.db")
	code, _, errs := run(t, "", "serve", "--listen", busy.Addr().String(), "--db", c)
	if code != ExitFindings || !strings.Contains(errs, "listening on "+busy.Addr().String()) {
		t.Errorf("serve on a taken port = %d %q", code, errs)
	}
	for _, f := range []string{c, c + ".key", c + ".admin-token", c + "-wal"} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("serve that could not listen left %s behind (%v)", f, err)
		}
	}

	// An existing database with the old default key file name.
	if err := os.Rename(a+".key", filepath.Join(dir, "tokenguard.key")); err != nil {
		t.Fatal(err)
	}
	_, logs, stop := startServe(t, "--db", a)
	if code := stop(); code != 0 {
		t.Fatalf("serve with the legacy key file exited %d:\n%s", code, logs.String())
	}
	if !strings.Contains(logs.String(), `"msg":"using the key file tokenguard.key beside the database`) || !strings.Contains(logs.String(), `"rename_to":"`+a+`.key"`) {
		t.Errorf("no warning naming the legacy key file:\n%s", logs.String())
	}
	if _, err := os.Stat(a + ".key"); !os.IsNotExist(err) {
		t.Errorf("a new key file was made beside the legacy one (%v)", err)
	}
}

package server_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// smallFileSystem mounts a tmpfs of sizeMB megabytes in a new temporary directory and
// returns it; it is unmounted when the test ends. The test is skipped, saying why, where the
// machine does not allow the mount (not root, or no mount permission in the container).
func smallFileSystem(t *testing.T, sizeMB int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "small")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	mount, err := exec.LookPath("mount")
	if err != nil {
		t.Skip("no mount command: a size-limited file system cannot be made here")
	}
	if out, err := exec.Command(mount, "-t", "tmpfs", "-o", fmt.Sprintf("size=%dm", sizeMB), "tmpfs", dir).CombinedOutput(); err != nil { //nolint:gosec // G204: mount of a tmpfs on the test's own directory
		t.Skipf("mounting a %d MB tmpfs was refused (%v: %s): the disk-full test needs root and mount permission", sizeMB, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil { //nolint:gosec // G204: unmounts the test's own tmpfs
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fillDisk writes a file in dir until the file system is full and returns its path.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path) //nolint:gosec // G304: a file in the test's own tmpfs
	if err != nil {
		t.Fatal(err)
	}
	defer closeOrFail(t, "the filler", f)
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				break
			}
			t.Fatalf("filling the disk: %v", err)
		}
	}
	// Single bytes, so that no block is left free.
	for {
		if _, err := f.Write([]byte{0}); err != nil {
			break
		}
	}
	return path
}

// TestDiskFull_mutationsAnswer507WithRetryAfterAndRecover fills the file system of a SQLite
// service's database (a real 8 MB tmpfs) and creates tokens: each answer is 201 (the write
// still fitted in pages SQLite had) or 507 storage_full with Retry-After, never 500, and at
// least one is 507. Every 201 token is there afterwards and no 507 one is; once space is
// freed, creation works again and the audit chain verifies.
func TestDiskFull_mutationsAnswer507WithRetryAfterAndRecover(t *testing.T) {
	dir := smallFileSystem(t, 8)
	svc := servertest.Start(t, servertest.Options{Dir: dir, PolicyEnforcement: "off"})
	ctx := context.Background()
	admin := svc.Client(t)
	if _, err := admin.CreateToken(ctx, compliantRequest("before-full"), ""); err != nil {
		t.Fatal(err)
	}
	filler := fillDisk(t, dir)
	created, full := map[string]bool{}, 0
	for i := range 300 {
		name := fmt.Sprintf("while-full-%03d", i)
		body, err := json.Marshal(compliantRequest(name))
		if err != nil {
			t.Fatal(err)
		}
		status, out, h := rawDo(t, "POST", svc.URL+"/v1/tokens", svc.AdminToken, string(body))
		switch status {
		case 201:
			created[name] = true
		case 507:
			full++
			var eb client.ErrorBody
			if err := json.Unmarshal(out, &eb); err != nil || eb.Error.Code != "storage_full" {
				t.Fatalf("507 body = %s, want code storage_full", out)
			}
			if h.Get("Retry-After") != "30" {
				t.Fatalf("507 Retry-After = %q, want 30", h.Get("Retry-After"))
			}
		default:
			t.Fatalf("create %d with the disk full: status %d %s, want 201 or 507", i, status, out)
		}
		if full >= 5 {
			break
		}
	}
	if full == 0 {
		t.Fatalf("300 creates with the disk full: none answered 507 (%d created)", len(created))
	}
	// The Go client treats 507 as transient: it retries (with the same Idempotency-Key), then
	// returns the service's answer.
	_, err := admin.CreateToken(ctx, compliantRequest("client-while-full"), "disk-full-idempotency-key")
	var re *client.ResponseError
	if !errors.As(err, &re) || re.StatusCode != 507 || re.Code != "storage_full" || !re.Transient() || re.Attempts != client.DefaultRetryMax+1 {
		t.Fatalf("client create with the disk full: %v (%+v), want a transient 507 storage_full after %d attempts", err, re, client.DefaultRetryMax+1)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateToken(ctx, compliantRequest("client-while-full"), "disk-full-idempotency-key"); err != nil {
		t.Fatalf("the same create, retried with its Idempotency-Key once space was freed: %v", err)
	}
	list, err := admin.ListTokens(ctx, client.ListTokensOptions{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, tok := range list.Tokens {
		names[tok.Name] = true
	}
	for name := range created {
		if !names[name] {
			t.Errorf("token %s was answered 201 with the disk full but is missing", name)
		}
	}
	if want := len(created) + 2; len(list.Tokens) != want {
		t.Errorf("%d tokens listed, want %d (201 answers and the two made with room): a 507 left a token behind", len(list.Tokens), want)
	}
	t.Logf("disk full: %d creates answered 201, %d answered 507", len(created), full)
	verifyChain(t, svc)
}

// verifyChain verifies svc's whole audit chain and returns how many introspection records
// it holds per outcome ("active", "inactive").
func verifyChain(t *testing.T, svc *servertest.Service) map[string]int {
	t.Helper()
	ctx := context.Background()
	verifier := audit.NewVerifier(svc.Keys)
	outcomes := map[string]int{}
	err := svc.Store.View(ctx, func(r store.Reader) error {
		for after := int64(0); ; {
			recs, err := r.ListAudit(ctx, after, 1000)
			if err != nil {
				return err
			}
			if len(recs) == 0 {
				return nil
			}
			for _, rec := range recs {
				if err := verifier.Add(rec); err != nil {
					return err
				}
				if rec.Action == audit.ActionIntrospect {
					outcomes[rec.Outcome]++
				}
				after = rec.Seq
			}
		}
	})
	if err != nil {
		t.Fatalf("audit chain: %v", err)
	}
	return outcomes
}

// TestRequestDeadline_lockedDatabaseAnswersJSON503 holds the SQLite write lock from another
// connection (as a second process would) while the service, with a 300 ms request timeout,
// is asked to create a token: the request ends at its deadline with a JSON 503 unavailable
// and Retry-After, not a 500 and not a wait for the lock's 5 s busy timeout or the
// server's write timeout. Once the lock is released the same request succeeds.
func TestRequestDeadline_lockedDatabaseAnswersJSON503(t *testing.T) {
	svc := servertest.Start(t, servertest.Options{PolicyEnforcement: "off", RequestTimeout: 300 * time.Millisecond})
	ctx := context.Background()
	other, err := sql.Open("sqlite", svc.DBPath+"?_pragma=busy_timeout(0)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer closeOrFail(t, "the other connection", other)
	hold, err := other.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(compliantRequest("behind-a-lock"))
	if err != nil {
		t.Fatal(err)
	}
	status, out, h := rawDo(t, "POST", svc.URL+"/v1/tokens", svc.AdminToken, string(body))
	if err := hold.Rollback(); err != nil {
		t.Fatal(err)
	}
	var eb client.ErrorBody
	if status != 503 || json.Unmarshal(out, &eb) != nil || eb.Error.Code != "unavailable" || h.Get("Retry-After") == "" {
		t.Fatalf("create while the database is locked: %d %s (Retry-After %q), want a JSON 503 unavailable with Retry-After", status, out, h.Get("Retry-After"))
	}
	if !strings.Contains(eb.Error.Message, "request timeout") {
		t.Fatalf("503 message %q does not say the request timeout passed (a busy timeout instead means the deadline did not end the wait)", eb.Error.Message)
	}
	if _, err := svc.Client(t).CreateToken(ctx, compliantRequest("behind-a-lock"), ""); err != nil {
		t.Fatalf("create after the lock was released: %v", err)
	}
}

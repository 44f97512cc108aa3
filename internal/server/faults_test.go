package server_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/testenv"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// TestDiskFull_mutationsAnswer507WithRetryAfterAndRecover fills the file system of a SQLite
// service's database (a real 8 MB tmpfs) and creates tokens: each answer is 201 (the write
// still fitted in pages SQLite had) or 507 storage_full with Retry-After, never 500, and at
// least one is 507. Every 201 token is there afterwards and no 507 one is; once space is
// freed, creation works again and the audit chain verifies.
func TestDiskFull_mutationsAnswer507WithRetryAfterAndRecover(t *testing.T) {
	dir := testenv.SmallFileSystem(t, 8)
	svc := servertest.Start(t, servertest.Options{Dir: dir, PolicyEnforcement: "off"})
	ctx := context.Background()
	admin := svc.Client(t)
	if _, err := admin.CreateToken(ctx, compliantRequest("before-full"), ""); err != nil {
		t.Fatal(err)
	}
	filler := testenv.FillFileSystem(t, dir)
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
			var eb wire.ErrorBody
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
	list, err := admin.ListTokens(ctx, wire.ListTokensOptions{Limit: 1000})
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
	var eb wire.ErrorBody
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

// TestDiskFull_noActiveAnswerWithoutItsAuditRecordBeyondTheBound fills the file system of a
// SQLite service (a real 8 MB tmpfs) and sends introspections from 8 workers. Every answer
// is 200 or 503 unavailable with Retry-After; while the disk is full, the active answers
// exceed the committed active audit records by at most 2*VerifyBatchSize (512, the documented
// crash bound) and /readyz answers 503; once space is freed, every active answer has its
// audit record (none was dropped), /readyz answers 200 and the chain verifies.
func TestDiskFull_noActiveAnswerWithoutItsAuditRecordBeyondTheBound(t *testing.T) {
	dir := testenv.SmallFileSystem(t, 8)
	svc := servertest.Start(t, servertest.Options{Dir: dir, PolicyEnforcement: "off"})
	ctx := context.Background()
	admin := svc.Client(t)
	_, credential := introspector(t, svc)
	var secrets []string
	for i := range 4 {
		tok, err := admin.CreateToken(ctx, compliantRequest(fmt.Sprintf("verified-%d", i)), "")
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, tok.Secret)
	}
	svc.Flush(t)
	before := verifyChain(t, svc)["active"]
	filler := testenv.FillFileSystem(t, dir)

	const workers, perWorker = 8, 400
	var mu sync.Mutex
	statuses := map[int]int{}
	var failures []string
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				status, active, retryAfter, err := introspectOnce(svc.URL, credential, secrets[(w+i)%len(secrets)])
				mu.Lock()
				switch {
				case err != nil:
					failures = append(failures, err.Error())
				case status == 200 && !active:
					failures = append(failures, "an active token was answered inactive")
				case status == 503 && retryAfter == "":
					failures = append(failures, "503 without Retry-After")
				case status != 200 && status != 503:
					failures = append(failures, fmt.Sprintf("status %d", status))
				}
				statuses[status]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d bad answers with the disk full, first: %s", len(failures), failures[0])
	}
	committed := verifyChain(t, svc)["active"] - before
	status, _, _ := rawDo(t, "GET", svc.URL+"/readyz", "", "")
	t.Logf("disk full: %d introspections answered 200 active, %d answered 503; %d active audit records committed meanwhile; /readyz %d",
		statuses[200], statuses[503], committed, status)
	if statuses[503] == 0 {
		t.Fatalf("no introspection was refused with the disk full (%d answered 200): the writer never failed?", statuses[200])
	}
	if unaudited := statuses[200] - committed; unaudited > 2*server.DefaultVerifyBatchSize {
		t.Fatalf("%d active answers without a committed audit record, want at most %d", unaudited, 2*server.DefaultVerifyBatchSize)
	}
	if status != 503 {
		t.Errorf("/readyz with the audit writer failing: %d, want 503", status)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	// The writer retries with backoff (at most 2-3 s apart): poll until it has written again.
	deadline := time.Now().Add(30 * time.Second)
	for svc.Server.Flush(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the verification log did not write again within 30 s of space being freed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := verifyChain(t, svc)["active"] - before; got != statuses[200] {
		t.Fatalf("after space was freed: %d active audit records for %d active answers, want equal", got, statuses[200])
	}
	if status, body, _ := rawDo(t, "GET", svc.URL+"/readyz", "", ""); status != 200 {
		t.Fatalf("/readyz after recovery: %d %s", status, body)
	}
}

// introspectOnce sends one RFC 7662 introspection and returns its status, whether it answered
// active, and its Retry-After.
func introspectOnce(base, credential, secret string) (int, bool, string, error) {
	req, err := http.NewRequest("POST", base+"/v1/introspect", strings.NewReader(url.Values{"token": {secret}}.Encode()))
	if err != nil {
		return 0, false, "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+credential)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, false, "", err
	}
	defer func() { _ = resp.Body.Close() }()
	var body struct {
		Active bool `json:"active"`
	}
	if resp.StatusCode == 200 {
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			return 0, false, "", err
		}
	}
	return resp.StatusCode, body.Active, resp.Header.Get("Retry-After"), nil
}

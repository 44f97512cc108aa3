package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store/postgres"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store/sqlite"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/testenv"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// The fault suite (issue 22): real service processes under database faults. The short
// version runs in every `go test`; TOKENGUARD_FAULTS=1 (make faults) runs the long one, with
// the durations the issue names.
const faultsEnv = "TOKENGUARD_FAULTS"

// faultDurations are how long a fault is held and how much load runs after each.
type faultDurations struct {
	stop, pause, diskFull time.Duration // how long PostgreSQL is stopped / paused, the disk full
	opsAfter              int64         // acknowledged operations to wait for after each fault
	requestTimeout        string        // serve --request-timeout
}

func faultPlan() faultDurations {
	if os.Getenv(faultsEnv) == "1" {
		return faultDurations{stop: 10 * time.Second, pause: 10 * time.Second, diskFull: 30 * time.Second, opsAfter: 2000, requestTimeout: "10s"}
	}
	return faultDurations{stop: time.Second, pause: time.Second, diskFull: 2 * time.Second, opsAfter: 60, requestTimeout: "2s"}
}

// faultLedger is what a workload asked for and what the services acknowledged.
type faultLedger struct {
	mu       sync.Mutex
	requests map[string]wire.CreateTokenRequest // idempotency key -> every create sent
	created  map[string]string                  // idempotency key -> id of an acknowledged create
	live     []wire.Token                       // acknowledged, not revoked: targets (latest secret)
	revoked  map[string]bool                    // acknowledged revocations
	version  map[string]int                     // token id -> highest acknowledged secret version
	statuses map[string]int                     // "op status" -> answers (status 0: no answer)
	bad      []string                           // answers no fault may give (500, unexpected 4xx)

	acked        atomic.Int64 // acknowledged operations (introspections included)
	activeAnswer atomic.Int64 // introspections answered 200 active
	noAnswer     atomic.Int64 // introspections without an answer (transport error)
}

func newFaultLedger() *faultLedger {
	return &faultLedger{requests: map[string]wire.CreateTokenRequest{}, created: map[string]string{},
		revoked: map[string]bool{}, version: map[string]int{}, statuses: map[string]int{}}
}

// answer records the outcome of one operation; it reports whether it was acknowledged.
// Allowed refusals: 503 (database unavailable, deadline, audit queue full), 507 (disk full),
// 409 rotation_overlap_running (a rotation inside the last one's overlap) and token_revoked
// (a rotation racing a revocation of the same token).
func (l *faultLedger) answer(op string, err error) bool {
	acked := l.record(op, err)
	if !acked {
		// A client backs off after a refusal (the services say Retry-After: 2; the workload
		// waits less, to keep the pressure on), so the ledger stays small.
		time.Sleep(25 * time.Millisecond)
	}
	return acked
}

func (l *faultLedger) record(op string, err error) bool {
	status := 200
	var re *client.ResponseError
	switch {
	case err == nil:
	case errors.As(err, &re):
		status = re.StatusCode
	default:
		status = 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.statuses[fmt.Sprintf("%s %d", op, status)]++
	switch {
	case status == 200:
		l.acked.Add(1)
		return true
	case status == 503 || status == 507 || status == 0:
	case status == 409 && (re.Code == "rotation_overlap_running" || re.Code == "token_revoked"):
	default:
		l.bad = append(l.bad, fmt.Sprintf("%s: %v", op, err))
	}
	return false
}

// runFaultLoad drives creates, rotations, revocations and introspections through clients (2
// workers each) until ctx ends.
func runFaultLoad(ctx context.Context, l *faultLedger, clients []*client.Client) *sync.WaitGroup {
	var wg sync.WaitGroup
	for ci, c := range clients {
		for w := range 2 {
			wg.Go(func() {
				for i := 0; ctx.Err() == nil; i++ {
					l.step(ctx, c, fmt.Sprintf("c%d-w%d-%d", ci, w, i), i)
				}
			})
		}
	}
	return &wg
}

func (l *faultLedger) step(ctx context.Context, c *client.Client, key string, i int) {
	l.mu.Lock()
	n := len(l.live)
	var target wire.Token
	if n > 0 {
		target = l.live[(i*7)%n]
	}
	l.mu.Unlock()
	// The operation runs without the workload's context: a request in flight when the load
	// stops still gets its answer recorded.
	opCtx := context.WithoutCancel(ctx)
	switch {
	case i%8 == 0 || n < 4:
		req := crashCreateRequest("fault-" + key)
		l.mu.Lock()
		l.requests[key] = req
		l.mu.Unlock()
		tok, err := c.CreateToken(opCtx, req, key)
		if l.answer("create", err) {
			l.mu.Lock()
			l.created[key] = tok.ID
			l.live = append(l.live, tok)
			l.version[tok.ID] = max(l.version[tok.ID], tok.SecretVersion)
			l.mu.Unlock()
		}
	case i%8 == 3:
		tok, err := c.RotateToken(opCtx, target.ID, wire.RotateRequest{}, "rotate-"+key)
		if l.answer("rotate", err) {
			l.mu.Lock()
			l.version[tok.ID] = max(l.version[tok.ID], tok.SecretVersion)
			l.mu.Unlock()
		}
	case i%8 == 5 && n > 8:
		_, err := c.RevokeToken(opCtx, target.ID)
		if l.answer("revoke", err) {
			l.mu.Lock()
			l.revoked[target.ID] = true
			l.live = removeToken(l.live, target.ID)
			l.mu.Unlock()
		}
	default:
		in, err := c.Introspect(opCtx, target.Secret)
		if err != nil && !errors.As(err, new(*client.ResponseError)) {
			l.noAnswer.Add(1)
		}
		if l.answer("introspect", err) && in.Active {
			l.activeAnswer.Add(1)
		}
	}
}

func removeToken(list []wire.Token, id string) []wire.Token {
	out := list[:0]
	for _, t := range list {
		if t.ID != id {
			out = append(out, t)
		}
	}
	return out
}

// waitForAcks waits until the ledger holds n more acknowledged operations than it did, or
// fails the test after a minute (a hang guard: the services did not recover).
func (l *faultLedger) waitForAcks(t *testing.T, what string, n int64) {
	t.Helper()
	from := l.acked.Load()
	deadline := time.Now().Add(time.Minute)
	for l.acked.Load()-from < n {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %d operations acknowledged in a minute, want %d (the services did not recover)", what, l.acked.Load()-from, n)
		}
		time.Sleep(20 * time.Millisecond) // polling a counter
	}
}

// terminate stops the process with SIGTERM (a clean stop: pending verification records are
// written) and fails t unless it exits 0.
func (p *serveProcess) terminate(t *testing.T) {
	t.Helper()
	p.killOnce.Do(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		<-p.exited
	})
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("serve exited %d after SIGTERM:\n%s", code, p.stderr.String())
	}
}

// checkFaultLedger checks, after the services were stopped cleanly, against the database
// st and through a service c started again on it: every acknowledged create exists at its
// acknowledged secret version or later, every acknowledged revocation holds, every create
// retried with its idempotency key yields the same token (and no name has two tokens), the
// audit chain verifies (audit verify --db), and every introspection answered 200 active has
// its audit record: active answers <= active records <= active answers + introspections
// that got no answer.
func checkFaultLedger(t *testing.T, bin, db string, st store.Store, c *client.Client, l *faultLedger) {
	t.Helper()
	ctx := context.Background()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.bad) > 0 {
		t.Fatalf("%d answers no fault may give, first: %s", len(l.bad), l.bad[0])
	}
	var activeRecords int64
	err := st.View(ctx, func(r store.Reader) error {
		for after := int64(0); ; {
			recs, err := r.ListAudit(ctx, after, 1000)
			if err != nil || len(recs) == 0 {
				return err
			}
			for _, rec := range recs {
				if rec.Action == audit.ActionIntrospect && rec.Outcome == "active" {
					activeRecords++
				}
				after = rec.Seq
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	answered, unknown := l.activeAnswer.Load(), l.noAnswer.Load()
	t.Logf("answers %v; %d introspections answered active, %d active audit records, %d introspections without an answer",
		l.statuses, answered, activeRecords, unknown)
	if activeRecords < answered {
		t.Fatalf("%d introspections answered 200 active but only %d active audit records: %d answers without their record",
			answered, activeRecords, answered-activeRecords)
	}
	if activeRecords > answered+unknown {
		t.Fatalf("%d active audit records for %d active answers and %d unanswered introspections", activeRecords, answered, unknown)
	}
	for key, id := range l.created {
		got, err := c.GetToken(ctx, id)
		if err != nil {
			t.Fatalf("acknowledged create %s (token %s) is missing: %v", key, id, err)
		}
		if got.SecretVersion < l.version[id] {
			t.Fatalf("token %s: secret version %d, but version %d was acknowledged", id, got.SecretVersion, l.version[id])
		}
		if l.revoked[id] && got.Status != "revoked" {
			t.Fatalf("token %s: revocation acknowledged, status now %s", id, got.Status)
		}
	}
	for key, req := range l.requests {
		tok, err := c.CreateToken(ctx, req, key)
		if err != nil {
			t.Fatalf("retrying create %s with its idempotency key: %v", key, err)
		}
		if id, ok := l.created[key]; ok && tok.ID != id {
			t.Fatalf("retrying acknowledged create %s gave token %s, not %s: a duplicate", key, tok.ID, id)
		}
	}
	names := crashNames(ctx, t, c)
	for name, n := range names {
		if n != 1 {
			t.Fatalf("%d tokens named %s: a duplicate", n, name)
		}
	}
	if len(names) != len(l.requests) {
		t.Fatalf("%d token names for %d distinct creates", len(names), len(l.requests))
	}
	cmd := exec.Command(bin, "audit", "verify", "--db", db) //nolint:gosec // the binary this test built
	if out, err := cmd.CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "audit chain verified: ") {
		t.Fatalf("audit verify --db after the faults: %v\n%s", err, out)
	}
	t.Logf("%d creates sent, %d acknowledged, %d revocations acknowledged; no loss, no duplicate, chain verified",
		len(l.requests), len(l.created), len(l.revoked))
}

// TestFaultSuite_postgresRestartsStopAndPauseUnderLoadWithTwoInstances runs two real serve
// processes on a PostgreSQL of the test's own under a workload of creates, rotations,
// revocations and introspections, and meanwhile restarts the server (fast, then immediate),
// stops it (1 s; 10 s with TOKENGUARD_FAULTS=1) and pauses it with SIGSTOP (as long). Every
// answer is a success or 503/507/409-overlap (never 500); /readyz answers 503 while the server
// is stopped and while it is paused; after the faults both instances
// hold their service lock again (admin rekey refuses, naming 2 instances); then
// checkFaultLedger: no acknowledged loss, no duplicate, the chain verifies, every active
// answer has its audit record.
func TestFaultSuite_postgresRestartsStopAndPauseUnderLoadWithTwoInstances(t *testing.T) {
	plan := faultPlan()
	began := time.Now()
	db, ctl := testenv.OwnPostgres(t)
	bin := tokenguardBinary(t)
	t.Logf("server and binary ready in %s", time.Since(began).Round(time.Millisecond))
	t.Setenv("TOKENGUARD_KEY_FILE", filepath.Join(t.TempDir(), "tokenguard.key"))
	a := startServeProcess(t, bin, db, "--request-timeout", plan.requestTimeout)
	b := startServeProcess(t, bin, db, "--request-timeout", plan.requestTimeout)
	l := newFaultLedger()
	ctx, stopLoad := context.WithCancel(context.Background())
	defer stopLoad()
	load := runFaultLoad(ctx, l, []*client.Client{a.client(t), b.client(t)})
	l.waitForAcks(t, "the start", plan.opsAfter)
	phases := []struct {
		name  string
		fault func()
	}{
		{"a fast restart", func() { ctl("halt", "fast"); ctl("resume") }},
		{"an immediate restart", func() { ctl("halt", "immediate"); ctl("resume") }},
		{fmt.Sprintf("a %s stop", plan.stop), func() {
			ctl("halt", "fast")
			notReady(t, a, "stopped")
			time.Sleep(plan.stop)
			ctl("resume")
		}},
		{fmt.Sprintf("a %s pause (SIGSTOP)", plan.pause), func() {
			ctl("pause")
			notReady(t, b, "paused")
			time.Sleep(plan.pause)
			ctl("unpause")
		}},
	}
	for _, p := range phases {
		before, began := l.acked.Load(), time.Now()
		p.fault()
		l.waitForAcks(t, p.name, plan.opsAfter)
		t.Logf("%s: %d operations acknowledged meanwhile and after, %s", p.name, l.acked.Load()-before, time.Since(began).Round(time.Millisecond))
	}
	stopLoad()
	load.Wait()
	t.Logf("faults done at %s", time.Since(began).Round(time.Millisecond))

	// Both instances took their service lock again after the restarts.
	observer, err := pgx.Connect(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = observer.Close(context.Background()) }()
	deadline := time.Now().Add(30 * time.Second)
	for held := 0; held != 2; time.Sleep(50 * time.Millisecond) {
		if err := observer.QueryRow(context.Background(), `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
			AND mode = 'ShareLock' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&held); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d service locks held 30 s after the faults, want 2 (one per instance)", held)
		}
	}
	t.Setenv("TOKENGUARD_DB", db)
	if code, _, errs := run(t, "", "admin", "rekey"); code != ExitFindings || !strings.Contains(errs, "2 tokenguard serve instance(s)") {
		t.Fatalf("admin rekey after the faults = %d %q, want a refusal naming 2 instances", code, errs)
	}

	a.terminate(t)
	b.terminate(t)
	st, err := postgres.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	checker := startServeProcess(t, bin, db)
	checkFaultLedger(t, bin, db, st, checker.client(t), l)
}

// notReady checks that p's /readyz answers 503 (not a hang: the probe is bounded by 2 s; the
// client's 10 s is a hang guard) while PostgreSQL is in the state named.
func notReady(t *testing.T, p *serveProcess, state string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := p.client(t).Ready(ctx)
	var re *client.ResponseError
	if !errors.As(err, &re) || re.StatusCode != 503 {
		t.Errorf("/readyz with PostgreSQL %s: %v, want 503", state, err)
	}
}

// TestFaultSuite_sqliteDiskFullUnderLoad runs a real serve process on a SQLite database in a
// real 8 MB tmpfs under the workload, fills the file system to the last byte for 2 s (30 s
// with TOKENGUARD_FAULTS=1), frees it, and checks: every answer a success or 503/507 (never
// 500), /readyz 503 while full, then checkFaultLedger (no acknowledged loss, no duplicate, the
// chain verifies, every active answer has its audit record).
func TestFaultSuite_sqliteDiskFullUnderLoad(t *testing.T) {
	plan := faultPlan()
	dir := testenv.SmallFileSystem(t, 8)
	db := filepath.Join(dir, "tg.db")
	bin := tokenguardBinary(t)
	p := startServeProcess(t, bin, db, "--request-timeout", plan.requestTimeout)
	l := newFaultLedger()
	ctx, stopLoad := context.WithCancel(context.Background())
	defer stopLoad()
	load := runFaultLoad(ctx, l, []*client.Client{p.client(t)})
	l.waitForAcks(t, "the start", plan.opsAfter)
	filler := testenv.FillFileSystem(t, dir)
	time.Sleep(plan.diskFull)
	readyCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	readyErr := p.client(t).Ready(readyCtx)
	cancel()
	var re *client.ResponseError
	if !errors.As(readyErr, &re) || re.StatusCode != 503 {
		t.Errorf("/readyz with the disk full: %v, want 503", readyErr)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	l.waitForAcks(t, "the disk was freed", plan.opsAfter)
	stopLoad()
	load.Wait()
	p.terminate(t)
	st, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	checker := startServeProcess(t, bin, db)
	checkFaultLedger(t, bin, db, st, checker.client(t), l)
	l.mu.Lock()
	refused := l.statuses["introspect 503"] + l.statuses["create 507"] + l.statuses["rotate 507"] + l.statuses["revoke 507"]
	l.mu.Unlock()
	if refused == 0 {
		t.Fatal("nothing was refused while the disk was full: the fault did not bite")
	}
}

package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// crashAdminToken is the admin credential the crash test installs through the environment.
const crashAdminToken = "tgc_crash-test-admin-credential-0123456789abcdef" //nolint:gosec // G101: a test service's credential

// tokenguardBinary builds ./cmd/tokenguard into a temporary directory removed when t ends.
func tokenguardBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tokenguard")
	// go test puts the go tool that runs it first on PATH (Go 1.19 and later), so "go" is
	// the same toolchain.
	build := exec.Command("go", "build", "-o", bin, "github.com/tokenguard/terraform-provider-tokenguard/cmd/tokenguard") //nolint:gosec // the Go tool, building this module's command
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/tokenguard: %v\n%s", err, out)
	}
	return bin
}

// serveProcess is a "tokenguard serve" child process.
type serveProcess struct {
	cmd      *exec.Cmd
	url      string
	stderr   *servertest.SafeBuffer
	exited   chan struct{} // closed once the process has been waited for
	killOnce sync.Once
}

// startServeProcess runs "tokenguard serve" on a free loopback port with db and waits until
// it answers /readyz (polling with a deadline; no fixed sleeps). extra are more serve flags.
func startServeProcess(t *testing.T, bin, db string, extra ...string) *serveProcess {
	t.Helper()
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--db", db, "--auth-failures-per-minute", "-1"}, extra...)
	cmd := exec.Command(bin, args...) //nolint:gosec // the binary this test built
	cmd.Env = append(os.Environ(), "TOKENGUARD_ADMIN_TOKEN="+crashAdminToken)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &serveProcess{cmd: cmd, stderr: &servertest.SafeBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "tokenguard: listening on "); ok {
				urls <- strings.TrimSpace(u)
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() {
		_ = cmd.Wait() // a killed process exits with an error: expected
		close(p.exited)
	}()
	t.Cleanup(func() { p.kill() })
	select {
	case p.url = <-urls:
	case <-p.exited:
		t.Fatalf("serve exited before listening: %v\n%s", cmd.ProcessState, p.stderr.String())
	case <-time.After(time.Minute): // a hang guard, not a timing assertion
		t.Fatalf("serve did not print its address:\n%s", p.stderr.String())
	}
	c := p.client(t)
	deadline := time.Now().Add(time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := c.Ready(ctx)
		cancel()
		if err == nil {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve at %s not ready: %v\n%s", p.url, err, p.stderr.String())
		}
		runtime.Gosched()
	}
}

func (p *serveProcess) client(t *testing.T) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{Endpoint: p.url, Token: crashAdminToken, RetryMax: -1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// kill sends SIGKILL and waits for the process to be gone. Safe to call more than once.
func (p *serveProcess) kill() {
	p.killOnce.Do(func() {
		_ = p.cmd.Process.Kill() // SIGKILL on Unix: no shutdown code runs
		<-p.exited
	})
}

// crashLedger records what the workload asked for and what the service acknowledged.
type crashLedger struct {
	mu            sync.Mutex
	ackedCreates  map[string]wire.Token // idempotency key -> acknowledged token
	pendingCreate map[string]wire.CreateTokenRequest
	tokens        []string            // ids of acknowledged tokens, for rotate/revoke targets
	secrets       map[string][]string // token id -> every secret acknowledged for it
	ackedVersion  map[string]int      // token id -> highest acknowledged secret version
	rotations     map[string]int      // token id -> rotations attempted
	pendingRotate map[string]string   // idempotency key -> token id (not acknowledged)
	ackedRevoke   map[string]bool
	acked, sent   atomic.Int64
}

func newCrashLedger() *crashLedger {
	return &crashLedger{ackedCreates: map[string]wire.Token{}, pendingCreate: map[string]wire.CreateTokenRequest{},
		secrets: map[string][]string{}, ackedVersion: map[string]int{}, rotations: map[string]int{},
		pendingRotate: map[string]string{}, ackedRevoke: map[string]bool{}}
}

func crashCreateRequest(name string) wire.CreateTokenRequest {
	return wire.CreateTokenRequest{Name: name, Owner: "team-crash", Purpose: "crash safety test of the durable token store",
		Scopes: []string{"orders:read"}, DataCategories: []string{"commercial"}, DataSubjects: []string{"customer:" + name},
		TTL: "30d", Rotation: &wire.Rotation{Overlap: "1h"}}
}

// TestCrashSafety_sigkillDuringConcurrentMutationsLosesNothingAcknowledged runs the real
// binary, drives concurrent creates, rotations and revocations, kills the process with
// SIGKILL after a seeded random number of acknowledged operations, restarts it on the same
// files and checks: every acknowledged create and rotation is there, every acknowledged
// revocation holds, retrying every create (acknowledged or not) with its idempotency key
// yields no duplicate, and the audit chain verifies. TOKENGUARD_SOAK=1 runs 20 seeds.
func TestCrashSafety_sigkillDuringConcurrentMutationsLosesNothingAcknowledged(t *testing.T) {
	bin := tokenguardBinary(t)
	seeds := []uint64{1, 2, 3}
	if os.Getenv("TOKENGUARD_SOAK") != "" {
		seeds = nil
		for s := range uint64(20) {
			seeds = append(seeds, 100+s)
		}
	}
	var total crashFigures
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			f := crashTrial(t, bin, seed)
			total.sent += f.sent
			total.acked += f.acked
			total.committedUnacked += f.committedUnacked
		})
	}
	t.Logf("%d SIGKILLs; %d operations sent, %d acknowledged, %d in flight when killed, of which %d creates had committed",
		len(seeds), total.sent, total.acked, total.sent-total.acked, total.committedUnacked)
}

// crashFigures counts what one or more crash trials did.
type crashFigures struct {
	sent, acked      int64
	committedUnacked int64 // unacknowledged creates found committed after the restart
}

func crashTrial(t *testing.T, bin string, seed uint64) crashFigures {
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "tokenguard.db")
	// Seeded on purpose, so that a failing trial can be replayed.
	rng := rand.New(rand.NewPCG(seed, seed*7919)) //nolint:gosec // G404: not for secrets
	killAfter := int64(10 + rng.IntN(60))         // acknowledged operations before the SIGKILL

	proc := startServeProcess(t, bin, db)
	c := proc.client(t)
	led := newCrashLedger()
	for i := range 4 { // some tokens exist before the concurrent phase
		key := fmt.Sprintf("seed%d-pre-%d", seed, i)
		req := crashCreateRequest(fmt.Sprintf("pre-%d", i))
		tok, err := c.CreateToken(ctx, req, key)
		if err != nil {
			t.Fatal(err)
		}
		led.ackedCreates[key] = tok
		led.tokens = append(led.tokens, tok.ID)
		led.secrets[tok.ID] = []string{tok.Secret}
		led.ackedVersion[tok.ID] = 1
		led.sent.Add(1)
		led.acked.Add(1)
	}

	// The SIGKILL comes from its own goroutine once killAfter operations are acknowledged, so
	// it lands wherever the other workers' requests happen to be: queued, mid-transaction,
	// committed but not yet answered.
	var trigger sync.Once
	due := make(chan struct{})
	kill := func() { trigger.Do(func() { close(due) }) }
	killed := make(chan struct{})
	go func() {
		<-due
		proc.kill()
		close(killed)
	}()
	var wg sync.WaitGroup
	for w := range 4 {
		wrng := rand.New(rand.NewPCG(seed, uint64(w)+1)) //nolint:gosec // G404: seeded on purpose, so a failing trial can be replayed
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				led.mu.Lock()
				target := led.tokens[wrng.IntN(len(led.tokens))]
				led.mu.Unlock()
				var err error
				led.sent.Add(1)
				switch op := wrng.IntN(10); {
				case op < 5: // create
					key := fmt.Sprintf("seed%d-w%d-c%d", seed, w, i)
					req := crashCreateRequest(fmt.Sprintf("w%d-%d", w, i))
					led.mu.Lock()
					led.pendingCreate[key] = req
					led.mu.Unlock()
					var tok wire.Token
					if tok, err = c.CreateToken(ctx, req, key); err == nil {
						led.mu.Lock()
						delete(led.pendingCreate, key)
						led.ackedCreates[key] = tok
						led.tokens = append(led.tokens, tok.ID)
						led.secrets[tok.ID] = append(led.secrets[tok.ID], tok.Secret)
						led.ackedVersion[tok.ID] = max(led.ackedVersion[tok.ID], tok.SecretVersion)
						led.mu.Unlock()
					}
				case op < 8: // rotate
					key := fmt.Sprintf("seed%d-w%d-r%d", seed, w, i)
					led.mu.Lock()
					led.rotations[target]++
					led.pendingRotate[key] = target
					led.mu.Unlock()
					var tok wire.Token
					tok, err = c.RotateToken(ctx, target, wire.RotateRequest{}, key)
					var re *client.ResponseError
					if errors.As(err, &re) && re.StatusCode == 409 { // revoked meanwhile: a refusal, acknowledged as such
						led.mu.Lock()
						delete(led.pendingRotate, key)
						led.mu.Unlock()
						err = nil
					} else if err == nil {
						led.mu.Lock()
						delete(led.pendingRotate, key)
						led.secrets[target] = append(led.secrets[target], tok.Secret)
						led.ackedVersion[target] = max(led.ackedVersion[target], tok.SecretVersion)
						led.mu.Unlock()
					}
				default: // revoke
					if _, err = c.RevokeToken(ctx, target); err == nil {
						led.mu.Lock()
						led.ackedRevoke[target] = true
						led.mu.Unlock()
					}
				}
				if err != nil {
					return // the process is gone (or going): stop this worker
				}
				if led.acked.Add(1) >= killAfter {
					kill()
				}
			}
		}()
	}
	wg.Wait()
	kill()
	<-killed
	fig := crashFigures{sent: led.sent.Load(), acked: led.acked.Load()}
	if fig.acked < killAfter {
		t.Fatalf("only %d operations acknowledged before the workers stopped, want %d: the service failed on its own?\n%s", fig.acked, killAfter, proc.stderr.String())
	}

	// Restart on the same database and key file.
	proc = startServeProcess(t, bin, db)
	c = proc.client(t)

	// 1. Every acknowledged create is there, with its data.
	for key, tok := range led.ackedCreates {
		got, err := c.GetToken(ctx, tok.ID)
		if err != nil {
			t.Fatalf("acknowledged create %s (%s) lost after SIGKILL: %v", tok.ID, key, err)
		}
		if got.Name != tok.Name || got.Owner != tok.Owner || len(got.DataSubjects) != 1 {
			t.Fatalf("token %s after restart = %+v, want name %s owner %s", tok.ID, got, tok.Name, tok.Owner)
		}
	}
	// 2. Every acknowledged rotation is there; 3. every acknowledged revocation holds.
	for id, v := range led.ackedVersion {
		got, err := c.GetToken(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.SecretVersion < v || got.SecretVersion > 1+led.rotations[id] {
			t.Fatalf("token %s secret version %d after restart: acknowledged %d, %d rotations attempted", id, got.SecretVersion, v, led.rotations[id])
		}
		if led.ackedRevoke[id] {
			if got.Status != "revoked" || got.RevokedAt == nil {
				t.Fatalf("acknowledged revocation of %s lost after SIGKILL: status %s", id, got.Status)
			}
			for _, sec := range led.secrets[id] {
				in, err := c.Introspect(ctx, sec)
				if err != nil || in.Active {
					t.Fatalf("a secret of revoked token %s introspects active=%v (%v) after restart", id, in.Active, err)
				}
			}
		}
	}
	// 4. Retrying every create with its idempotency key mints no duplicate: acknowledged ones
	// replay the same token, unacknowledged ones either replay (they had committed) or create
	// exactly one token; none gets name_taken (which would mean a committed create did not
	// replay).
	for key, tok := range led.ackedCreates {
		again, err := c.CreateToken(ctx, crashCreateRequest(tok.Name), key)
		if err != nil || again.ID != tok.ID || again.Secret != tok.Secret {
			t.Fatalf("retrying acknowledged create %s = %s, %v; want the same token %s replayed", key, again.ID, err, tok.ID)
		}
	}
	before := crashNames(ctx, t, c)
	for key, req := range led.pendingCreate {
		if before[req.Name] > 0 {
			fig.committedUnacked++
		}
		first, err := c.CreateToken(ctx, req, key)
		if err != nil {
			t.Fatalf("retrying unacknowledged create %s: %v", key, err)
		}
		second, err := c.CreateToken(ctx, req, key)
		if err != nil || second.ID != first.ID {
			t.Fatalf("second retry of %s = %s, %v; want %s", key, second.ID, err, first.ID)
		}
	}
	for key, id := range led.pendingRotate {
		if _, err := c.RotateToken(ctx, id, wire.RotateRequest{}, key); err != nil {
			var re *client.ResponseError
			if !errors.As(err, &re) || re.StatusCode != 409 { // 409: the token was revoked since
				t.Fatalf("retrying unacknowledged rotation %s of %s: %v", key, id, err)
			}
		}
	}
	names := crashNames(ctx, t, c)
	for name, n := range names {
		if n != 1 {
			t.Fatalf("%d tokens named %s: a retried create minted a duplicate", n, name)
		}
	}
	if want := len(led.ackedCreates) + len(led.pendingCreate); len(names) != want {
		t.Fatalf("%d distinct tokens after retries, want %d (acknowledged + retried)", len(names), want)
	}
	proc.kill()

	// 5. The audit chain verifies.
	out, err := exec.Command(bin, "audit", "verify", "--db", db).CombinedOutput() //nolint:gosec // the binary this test built
	if err != nil {
		t.Fatalf("audit verify after SIGKILL: %v\n%s", err, out)
	}
	return fig
}

// crashNames counts the crash test's tokens by name.
func crashNames(ctx context.Context, t *testing.T, c *client.Client) map[string]int {
	t.Helper()
	names := map[string]int{}
	for page := ""; ; {
		list, err := c.ListTokens(ctx, wire.ListTokensOptions{Owner: "team-crash", Limit: 1000, PageToken: page})
		if err != nil {
			t.Fatal(err)
		}
		for _, tok := range list.Tokens {
			names[tok.Name]++
		}
		if page = list.NextPageToken; page == "" {
			return names
		}
	}
}

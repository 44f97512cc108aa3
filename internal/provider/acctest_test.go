package provider

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6/tf6server"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/keyring"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store/sqlite"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// fakeClock is the one clock of a test: the in-process token service and the provider both
// read it, and test steps advance it (PreConfig) instead of sleeping.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, time.March, 2, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// testService is the real token service, started in-process on loopback with a temporary
// SQLite file, plus an admin client to check results through the API.
type testService struct {
	URL    string
	Admin  string
	Clock  *fakeClock
	Client *client.Client
	dbPath string

	mu sync.Mutex
	// dropCreates is how many POST /v1/tokens answers to lose: the service processes the
	// request, then the test answers 503 as a lost response would look to a retrying client.
	dropCreates int
	// createKeys records the Idempotency-Key of every POST /v1/tokens, in order.
	createKeys []string
	// beforeRevoke, when set, is called with the token id of each revoke request before the
	// service handles it, to look at the service as it is just before a token stops working.
	beforeRevoke func(id string)
	// createHook, when set, sees every POST /v1/tokens first; it answers the request itself
	// when it returns true.
	createHook func(w http.ResponseWriter, r *http.Request, api http.Handler) bool
}

func newTestService(t *testing.T) *testService {
	t.Helper()
	ctx := context.Background()
	dbPath := filepath.Join(t.TempDir(), "tokens.db")
	st, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		t.Fatalf("opening SQLite store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	keys, err := keyring.New()
	if err != nil {
		t.Fatalf("creating keyring: %v", err)
	}
	ts := &testService{Clock: newFakeClock(), Admin: "tgc_test_admin_" + randomHex(t), dbPath: dbPath}
	srv, err := server.New(server.Config{Store: st, Keyring: keys, Now: ts.Clock.Now, Env: "test"})
	if err != nil {
		t.Fatalf("creating token service: %v", err)
	}
	// Registered after the store's cleanup, so it runs first: pending verification records
	// are written before the store closes.
	t.Cleanup(func() {
		if err := srv.Close(context.Background()); err != nil {
			t.Errorf("closing the token service: %v", err)
		}
	})
	if _, err := srv.Bootstrap(ctx, ts.Admin); err != nil {
		t.Fatalf("bootstrapping admin credential: %v", err)
	}
	api := srv.Handler()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/tokens" {
			ts.mu.Lock()
			hook := ts.createHook
			ts.mu.Unlock()
			if hook != nil && hook(w, r, api) {
				return
			}
			if ts.interceptCreate(w, r, api) {
				return
			}
		}
		if id, ok := strings.CutPrefix(r.URL.Path, "/v1/tokens/"); ok && r.Method == http.MethodPost && strings.HasSuffix(id, "/revoke") {
			ts.mu.Lock()
			hook := ts.beforeRevoke
			ts.mu.Unlock()
			if hook != nil {
				hook(strings.TrimSuffix(id, "/revoke"))
			}
		}
		api.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	ts.URL = hs.URL
	ts.Client, err = client.New(client.Config{Endpoint: hs.URL, Token: ts.Admin})
	if err != nil {
		t.Fatalf("creating admin client: %v", err)
	}
	return ts
}

// interceptCreate records the create's idempotency key and, while dropCreates > 0, lets the
// service process the request but answers 503 instead of its response.
func (ts *testService) interceptCreate(w http.ResponseWriter, r *http.Request, api http.Handler) bool {
	ts.mu.Lock()
	ts.createKeys = append(ts.createKeys, r.Header.Get("Idempotency-Key"))
	drop := ts.dropCreates > 0
	if drop {
		ts.dropCreates--
	}
	ts.mu.Unlock()
	if !drop {
		return false
	}
	api.ServeHTTP(httptest.NewRecorder(), r)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write([]byte(`{"error":{"code":"unavailable","message":"response lost in transit (test)"}}`))
	return true
}

func (ts *testService) recordedCreateKeys() []string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]string(nil), ts.createKeys...)
}

// factories serves the provider in-process, on the test's fake clock.
func (ts *testService) factories() map[string]func() (tfprotov6.ProviderServer, error) {
	return map[string]func() (tfprotov6.ProviderServer, error){
		"tokenguard": providerserver.NewProtocol6WithError(newWithClock("test", ts.Clock.Now)()),
	}
}

// config prefixes hcl with a provider block pointing at the in-process service.
func (ts *testService) config(hcl string) string {
	return fmt.Sprintf("provider \"tokenguard\" {\n  endpoint = %q\n  token    = %q\n}\n\n%s", ts.URL, ts.Admin, hcl)
}

// tokensOf lists every token of owner through the API.
func (ts *testService) tokensOf(t *testing.T, owner string) []wire.Token {
	t.Helper()
	var out []wire.Token
	if err := eachToken(context.Background(), ts.Client, wire.ListTokensOptions{Owner: owner}, func(tok wire.Token) bool {
		out = append(out, tok)
		return true
	}); err != nil {
		t.Fatalf("listing tokens of %s: %v", owner, err)
	}
	return out
}

// checkAllRevoked is a CheckDestroy: every token of owner is revoked in the service.
func (ts *testService) checkAllRevoked(t *testing.T, owner string, atLeast int) func(*terraform.State) error {
	return func(*terraform.State) error {
		toks := ts.tokensOf(t, owner)
		if len(toks) < atLeast {
			return fmt.Errorf("service holds %d tokens of %s, want at least %d", len(toks), owner, atLeast)
		}
		for _, tok := range toks {
			if tok.Status != "revoked" {
				return fmt.Errorf("token %s (%s) has status %q after destroy, want revoked", tok.ID, tok.Name, tok.Status)
			}
		}
		return nil
	}
}

// checkToken reads the token of the resource at addr through the API and passes it to fn.
func (ts *testService) checkToken(addr string, fn func(wire.Token) error) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		rs, ok := s.RootModule().Resources[addr]
		if !ok {
			return fmt.Errorf("%s is not in state", addr)
		}
		tok, err := ts.Client.GetToken(context.Background(), rs.Primary.ID)
		if err != nil {
			return fmt.Errorf("reading %s through the API: %w", rs.Primary.ID, err)
		}
		return fn(tok)
	}
}

// expectActive introspects secret and compares the answer's active flag with want.
func (ts *testService) expectActive(secret string, want bool) error {
	if secret == "" {
		return fmt.Errorf("no secret captured")
	}
	got, err := ts.Client.Introspect(context.Background(), secret)
	if err != nil {
		return fmt.Errorf("introspecting: %w", err)
	}
	if got.Active != want {
		return fmt.Errorf("introspection of the secret answered active=%v at %s, want %v", got.Active, ts.Clock.Now().Format(time.RFC3339), want)
	}
	return nil
}

// deleteOutOfBand removes a token row from the service's database, as an operator working
// outside Terraform and outside the API would (the API itself only revokes).
func (ts *testService) deleteOutOfBand(t *testing.T, id string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+ts.dbPath+"?_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatalf("opening the service database: %v", err)
	}
	defer func() {
		if err := db.Close(); err != nil {
			t.Errorf("closing the service database: %v", err)
		}
	}()
	res, err := db.Exec("DELETE FROM tokens WHERE id = ?", id)
	if err != nil {
		t.Fatalf("deleting token %s: %v", id, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		t.Fatalf("deleting token %s removed %d rows (%v), want 1", id, n, err)
	}
}

// serveForCLI serves the provider in-process for Terraform commands run outside the testing
// framework (reattach mode, nothing downloaded) and returns the TF_REATTACH_PROVIDERS value.
func (ts *testService) serveForCLI(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	configCh := make(chan *plugin.ReattachConfig)
	closeCh := make(chan struct{})
	factory := func() tfprotov6.ProviderServer {
		srv, err := providerserver.NewProtocol6WithError(newWithClock("test", ts.Clock.Now)())()
		if err != nil {
			panic(err) // the framework returns an error only for an invalid provider definition
		}
		return srv
	}
	go func() {
		_ = tf6server.Serve(providerAddress, factory,
			tf6server.WithDebug(ctx, configCh, closeCh),
			tf6server.WithGoPluginLogger(hclog.NewNullLogger()),
			tf6server.WithLoggingSink(t), // provider logs go to the test log, as in resource.Test
			tf6server.WithoutLogStderrOverride())
	}()
	var rc *plugin.ReattachConfig
	select {
	case rc = <-configCh:
	case <-time.After(time.Minute): // a guard against a hung start, not a timing assertion
		cancel()
		t.Fatal("the provider server did not start")
	}
	t.Cleanup(func() {
		cancel()
		<-closeCh
	})
	type addr struct{ Network, String string }
	type reattach struct {
		Protocol        string
		ProtocolVersion int
		Pid             int
		Test            bool
		Addr            addr
	}
	b, err := json.Marshal(map[string]reattach{providerAddress: {
		Protocol: string(rc.Protocol), ProtocolVersion: rc.ProtocolVersion, Pid: rc.Pid, Test: rc.Test,
		Addr: addr{Network: rc.Addr.Network(), String: rc.Addr.String()},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// providerAddress is the provider's registry address, as main.go serves it.
const providerAddress = "registry.terraform.io/tokenguard/tokenguard"

func randomHex(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// hclSet renders strings as an HCL list.
func hclSet(values ...string) string {
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = fmt.Sprintf("%q", v)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

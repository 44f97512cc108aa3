// Package servertest starts a real tokenguard service in-process on loopback for tests: a
// temporary SQLite database and key file, a settable clock and a bootstrap admin credential.
// Provider acceptance tests and the service's own end-to-end tests use it; it is never
// imported by production code.
//
//	clock := servertest.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
//	svc := servertest.Start(t, servertest.Options{Now: clock.Now})
//	c := svc.Client(t) // admin client on svc.URL
package servertest

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/keyring"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/policy"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store/sqlite"
)

// Clock is a settable clock for Options.Now, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock reading t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's instant.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Set sets the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Options configures Start. Zero fields take the defaults documented on each.
type Options struct {
	// Dir holds tokenguard.db and tokenguard.key; empty means a new tb.TempDir(). Start a
	// second service on the same Dir (after closing the first) to test a restart.
	Dir string
	// Now is the service clock; nil means time.Now.
	Now func() time.Time
	// DefaultTTL and MaxTTL as in server.Config (defaults 30 and 90 days).
	DefaultTTL, MaxTTL time.Duration
	// AdminToken is the bootstrap admin credential; empty means a fixed test value. It is
	// installed only when the database has no credential yet.
	AdminToken string
	// Wrap, when set, wraps the service handler (e.g. to inject faults in front of it).
	Wrap func(http.Handler) http.Handler
	// WrapStore, when set, wraps the SQLite store the server uses (e.g. to inject faults
	// or to add a capability the store lacks); Service.Store stays the SQLite store.
	WrapStore func(store.Store) store.Store
	// AuthFailuresPerMinute as in server.Config (default 10 per source; negative: no limit).
	AuthFailuresPerMinute int
	// PolicyEnforcement is the policy gate's mode as in server.Config: mandatory (the
	// default, as in production), advisory or off. The embedded bundle is compiled for the
	// service gate once per test binary and shared.
	PolicyEnforcement string
	// PolicyExisting is the gate's ratchet as in server.Config (default block).
	PolicyExisting string
	// PolicyDataFiles are merged over the bundle's data (as serve --policy-data); with any,
	// the bundle is compiled for this service alone.
	PolicyDataFiles []string
	// TrustedProxies as in server.Config.
	TrustedProxies []netip.Prefix
	// IdempotencyRetention as in server.Config (default 24 hours).
	IdempotencyRetention time.Duration
	// RequestTimeout as in server.Config (default 10 s).
	RequestTimeout time.Duration
	// Waivers and WaiversFile as in server.Config.
	Waivers     []policy.Waiver
	WaiversFile string
	// SecretScanningKeys as in server.Config.
	SecretScanningKeys server.SecretScanningKeys
}

// sharedEngine is the embedded bundle compiled once for the service gate.
var sharedEngine struct {
	once   sync.Once
	engine *policy.Engine
	err    error
}

// policyEngine returns the engine of opts: nil when the gate is off.
func policyEngine(opts Options) (*policy.Engine, error) {
	if opts.PolicyEnforcement == server.PolicyOff {
		return nil, nil
	}
	if len(opts.PolicyDataFiles) > 0 {
		return policy.NewEngine(context.Background(), policy.Options{DataFiles: opts.PolicyDataFiles, Gate: policy.GateService})
	}
	sharedEngine.once.Do(func() {
		sharedEngine.engine, sharedEngine.err = policy.NewEngine(context.Background(), policy.Options{Gate: policy.GateService})
	})
	return sharedEngine.engine, sharedEngine.err
}

// DefaultAdminToken is the admin credential Start installs when Options.AdminToken is empty.
const DefaultAdminToken = "tgc_servertest-admin-credential-0123456789" //nolint:gosec // G101: the fixed admin credential of in-process test services only

// Service is a running in-process service.
type Service struct {
	URL        string // base URL, http://127.0.0.1:PORT
	AdminToken string
	DBPath     string
	KeyPath    string
	Keys       *keyring.Keyring // the loaded key file: its audit keys verify the chain
	Server     *server.Server
	Store      *sqlite.Store
	Logs       *SafeBuffer // the service's JSON log lines

	http      *httptest.Server
	closeOnce sync.Once
}

// Start starts a service and registers its Close with tb.Cleanup. It fails tb on error.
func Start(tb testing.TB, opts Options) *Service {
	tb.Helper()
	dir := opts.Dir
	if dir == "" {
		dir = tb.TempDir()
	}
	svc := &Service{
		AdminToken: opts.AdminToken,
		DBPath:     filepath.Join(dir, "tokenguard.db"),
		KeyPath:    filepath.Join(dir, "tokenguard.key"),
		Logs:       &SafeBuffer{},
	}
	if svc.AdminToken == "" {
		svc.AdminToken = DefaultAdminToken
	}
	ctx := context.Background()
	keys, _, err := keyring.LoadOrCreate(svc.KeyPath)
	if err != nil {
		tb.Fatalf("servertest: key file: %v", err)
	}
	st, err := sqlite.Open(ctx, svc.DBPath)
	if err != nil {
		tb.Fatalf("servertest: database: %v", err)
	}
	svc.Store = st
	svc.Keys = keys
	var used store.Store = st
	if opts.WrapStore != nil {
		used = opts.WrapStore(st)
	}
	engine, err := policyEngine(opts)
	if err != nil {
		_ = st.Close()
		tb.Fatalf("servertest: policies: %v", err)
	}
	srv, err := server.New(server.Config{
		Store: used, Keyring: keys, Now: opts.Now, DefaultTTL: opts.DefaultTTL, MaxTTL: opts.MaxTTL,
		Logger:                slog.New(slog.NewJSONHandler(svc.Logs, nil)),
		AuthFailuresPerMinute: opts.AuthFailuresPerMinute,
		Policy:                engine, PolicyEnforcement: opts.PolicyEnforcement, PolicyExisting: opts.PolicyExisting,
		Waivers: opts.Waivers, WaiversFile: opts.WaiversFile, IdempotencyRetention: opts.IdempotencyRetention,
		TrustedProxies: opts.TrustedProxies, RequestTimeout: opts.RequestTimeout, SecretScanningKeys: opts.SecretScanningKeys,
	})
	if err != nil {
		_ = st.Close()
		tb.Fatalf("servertest: %v", err)
	}
	if _, err := srv.Bootstrap(ctx, svc.AdminToken); err != nil {
		_ = st.Close()
		tb.Fatalf("servertest: bootstrap: %v", err)
	}
	svc.Server = srv
	h := srv.Handler()
	if opts.Wrap != nil {
		h = opts.Wrap(h)
	}
	svc.http = httptest.NewServer(h)
	svc.URL = svc.http.URL
	tb.Cleanup(svc.Close)
	return svc
}

// Close stops the HTTP server, writes the pending verification records (Server.Close) and
// closes the database. It is safe to call more than once.
func (s *Service) Close() {
	s.closeOnce.Do(func() {
		s.http.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = s.Server.Close(ctx) // an error was logged to Logs; the database closes regardless
		_ = s.Store.Close()
	})
}

// Flush commits the verification records of every introspection answered so far (audit
// records and last_used_at), which the service group-commits. Call it before reading the
// audit log or last_used_at from Store directly; the API's reads flush by themselves.
func (s *Service) Flush(tb testing.TB) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Server.Flush(ctx); err != nil {
		tb.Fatalf("servertest: flushing verification records: %v", err)
	}
}

// Client returns a client of the service authenticated with the admin credential, with
// short retry waits.
func (s *Service) Client(tb testing.TB) *client.Client {
	tb.Helper()
	return s.ClientWithToken(tb, s.AdminToken)
}

// ClientWithToken returns a client of the service authenticated with credential.
func (s *Service) ClientWithToken(tb testing.TB, credential string) *client.Client {
	tb.Helper()
	c, err := client.New(client.Config{Endpoint: s.URL, Token: credential, RetryWaitMin: time.Millisecond, RetryWaitMax: 10 * time.Millisecond})
	if err != nil {
		tb.Fatalf("servertest: client: %v", err)
	}
	return c
}

// SafeBuffer is a bytes.Buffer safe for concurrent writes and reads.
type SafeBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *SafeBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *SafeBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

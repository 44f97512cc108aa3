// Package server is tokenguard's HTTP API: token management, RFC 7662-style introspection,
// credentials and the audit log, on the standard library's method-pattern router.
//
// Every mutation and its audit record commit in one store transaction before the response is
// written, introspection sees every change committed before the call (it reads the store, or
// uses a kept read only while the database's revision, read after the call arrived, is
// unchanged: see package introspectcache), so a revocation is visible to the very next call,
// and no secret is ever logged, audited, listed or stored in clear.
//
// Verification records are group-committed: an introspection answers from one read of the
// committed credential and token (Store.ReadForIntrospection) and hands its audit record and last_used_at update to a writer that commits
// them in batches (Config.VerifyBatchSize records, or Config.VerifyFlushInterval after the
// first one). Bound: a crash can lose the verification records of at most the last
// VerifyFlushInterval plus one commit, never more than 2*VerifyBatchSize records; mutations
// are never batched. Close writes every accepted record before the store may be closed, and
// the audit and token reads of the API flush first, so they include every verification this
// instance answered before the read (other instances' pending records excepted).
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"slices"
	"sync/atomic"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/keyring"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/policy"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store/introspectcache"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/token"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultTTL          = 30 * token.Day
	DefaultMaxTTL       = 90 * token.Day
	DefaultEnv          = "live"
	DefaultMaxBodyBytes = 1 << 20
)

// Rights of the first versions, kept for callers that name them: a credential's stored
// rights are its role (see RoleAdmin and the other roles in roles.go).
const (
	RightAdmin      = RoleAdmin
	RightIntrospect = RoleIntrospect
)

// Config configures a Server. Store and Keyring are required; zero values of the other
// fields take the defaults documented on each.
type Config struct {
	Store   store.Store
	Keyring *keyring.Keyring
	// Now is the clock; nil means time.Now. Tests inject a fake clock.
	Now func() time.Time
	// DefaultTTL is the lifetime of a token created or renewed without a ttl (default 30 days).
	DefaultTTL time.Duration
	// MaxTTL caps every ttl; a longer one is refused with 422 naming the field (default 90 days).
	MaxTTL time.Duration
	// Env is the environment label minted into secrets, "tg_<env>_..." (default "live").
	// Secrets of another environment are inactive here.
	Env string
	// Logger receives one line per request and server errors; nil discards them.
	Logger *slog.Logger
	// MaxBodyBytes limits request bodies; a larger body gets 413 (default 1 MiB).
	MaxBodyBytes int64
	// AuthFailuresPerMinute is how many failed authentications one source address may make
	// per minute (also the burst) before its requests get 429 with Retry-After (default
	// DefaultAuthFailuresPerMinute; negative disables the limit).
	AuthFailuresPerMinute int
	// TrustedProxies are the proxies (load balancers) whose X-Forwarded-For the limiter of
	// failed authentications reads: behind one, the source of a request is the rightmost
	// address of that header that is not a trusted proxy. Empty: the header is ignored and the
	// source is the peer address.
	TrustedProxies []netip.Prefix
	// DeletionRetention is how long the evidence record of a deletion request is kept before
	// it is purged (default DefaultDeletionRetention, 24 months).
	DeletionRetention time.Duration
	// IdempotencyRetention is how long the answer of a request sent with an Idempotency-Key
	// is kept for its retries (default DefaultIdempotencyRetention, 24 hours). Afterwards the
	// same key is a new request, and the sealed answer (with any secret it holds) is deleted.
	IdempotencyRetention time.Duration
	// Policy is the compiled CPRA policy bundle the service gate evaluates on create, patch,
	// renew and rotate requests (built with Gate: policy.GateService); nil turns the gate off.
	Policy *policy.Engine
	// PolicyEnforcement is PolicyMandatory (blocking findings refuse the request with 422),
	// PolicyAdvisory (the request proceeds; findings are returned as warnings and audited) or
	// PolicyOff; empty means PolicyMandatory. It is ignored when Policy is nil.
	PolicyEnforcement string
	// PolicyExisting is the ratchet of the service gate, as `tokenguard check --existing`:
	// policy.ExistingBlock (the default, also when empty) or policy.ExistingWarn, which makes
	// an error finding on an attribute a patch, renew or rotate leaves as it was (policy.
	// OnUnchanged) a warning; creates and changed attributes still block.
	PolicyExisting string
	// Waivers accept findings of the service gate, with the format and expiry semantics of
	// `tokenguard check --waivers`; WaiversFile names their file in expired-waiver findings.
	Waivers     []policy.Waiver
	WaiversFile string
	// VerifyBatchSize is the most verification records one group commit holds (default
	// DefaultVerifyBatchSize); it is also the length of the queue in front of the writer.
	VerifyBatchSize int
	// VerifyFlushInterval is the longest a verification record waits for its batch to fill
	// (default DefaultVerifyFlushInterval).
	VerifyFlushInterval time.Duration
	// AuditCheckpoint, when set, receives a signed checkpoint of the audit chain's head (one
	// line, see Server.Checkpoint) every AuditCheckpointInterval (default
	// DefaultAuditCheckpointInterval) and once more from Close.
	AuditCheckpoint         io.Writer
	AuditCheckpointInterval time.Duration
	// Issuer is the service's public base URL, e.g. https://tokens.example.com, named by the
	// RFC 8414 metadata; empty means the URL each request reached.
	Issuer string
	// RequestTimeout is the deadline of every request's context (default
	// DefaultRequestTimeout): a request whose database calls have not completed by then is
	// answered 503 unavailable with Retry-After. Keep it below the HTTP server's write timeout,
	// so that the answer can still be written.
	RequestTimeout time.Duration
	// TokenRetention is how long a token is kept after it expired or was revoked (default
	// DefaultTokenRetention, 90 days); PurgeRetiredTokens then deletes it.
	TokenRetention time.Duration
	// SecretScanningKeys verify the signatures of leaked-secret reports (POST
	// /v1/secret-scanning/reports); none means the route answers 404.
	SecretScanningKeys SecretScanningKeys
	// IntrospectionCacheEntries is how many introspection reads the service keeps between
	// requests (default introspectcache.DefaultMaxEntries; negative keeps none). A kept read
	// is used only while the store's revision, read after the request arrived, is unchanged,
	// so no kept read outlives a revocation (see package introspectcache).
	IntrospectionCacheEntries int
}

// DefaultRequestTimeout is the default of Config.RequestTimeout.
const DefaultRequestTimeout = 10 * time.Second

// Server serves the tokenguard API. Create it with New; it is safe for concurrent use.
type Server struct {
	store             store.Store
	introspections    introspectionReader // the store, or a cache of its introspection reads
	keys              *keyring.Keyring
	now               func() time.Time
	writeProbes       writeProbes // the /readyz write probe, at most one a second
	defaultTTL        time.Duration
	maxTTL            time.Duration
	env               string
	issuer            string
	scanKeys          SecretScanningKeys
	log               *slog.Logger
	maxBody           int64
	limiter           *failureLimiter
	trustedProxies    []netip.Prefix
	deletionRetention time.Duration
	idemRetention     time.Duration
	idemPurgedAt      atomic.Int64 // server-clock UnixNano of the last purge of expired answers
	gate              *policyGate  // nil when the policy gate is off
	verifications     *verifyLog
	requestTimeout    time.Duration
	checkpoints       *checkpointWriter // nil without Config.AuditCheckpoint
	tokenRetention    time.Duration
	purger            *tokenPurger // nil until StartTokenPurges
	mux               *http.ServeMux
	patterns          []string
}

// introspectionReader is what introspection reads the store with: store.Store or an
// introspectcache.Cache of it.
type introspectionReader interface {
	ReadForIntrospection(ctx context.Context, credentialHash, tokenHash []byte) (store.IntrospectionRead, error)
}

// New checks cfg, applies defaults and returns a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("server: Config.Store is required")
	}
	if cfg.Keyring == nil {
		return nil, errors.New("server: Config.Keyring is required")
	}
	s := &Server{
		store: cfg.Store, introspections: cfg.Store, keys: cfg.Keyring, now: cfg.Now, defaultTTL: cfg.DefaultTTL,
		maxTTL: cfg.MaxTTL, env: cfg.Env, log: cfg.Logger, maxBody: cfg.MaxBodyBytes,
		scanKeys: cfg.SecretScanningKeys,
	}
	if s.now == nil {
		s.now = time.Now
	}
	// PostgreSQL keeps microseconds and SQLite nanoseconds: a clock truncated to the
	// microsecond makes every instant the service writes, compares and answers the same on
	// both stores (and what it answers equal to what a later read returns).
	now := s.now
	s.now = func() time.Time { return now().UTC().Truncate(time.Microsecond) }
	if s.defaultTTL == 0 {
		s.defaultTTL = DefaultTTL
	}
	if s.maxTTL == 0 {
		s.maxTTL = DefaultMaxTTL
	}
	if s.defaultTTL < 0 || s.maxTTL < 0 {
		return nil, errors.New("server: DefaultTTL and MaxTTL must be positive")
	}
	if s.defaultTTL > s.maxTTL {
		return nil, fmt.Errorf("server: default ttl %s is longer than max ttl %s: lower the default or raise the maximum",
			token.FormatDuration(s.defaultTTL), token.FormatDuration(s.maxTTL))
	}
	if s.env == "" {
		s.env = DefaultEnv
	}
	if cfg.IntrospectionCacheEntries >= 0 {
		s.introspections = introspectcache.New(cfg.Store, cfg.IntrospectionCacheEntries)
	}
	if cfg.Issuer != "" {
		u, err := url.Parse(cfg.Issuer)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return nil, fmt.Errorf("server: issuer %q: use the service's base URL, e.g. https://tokens.example.com, without query or fragment", cfg.Issuer)
		}
		s.issuer = cfg.Issuer
	}
	if _, err := token.NewSecret(s.env, "tok_0000000000000000"); err != nil {
		return nil, fmt.Errorf("server: env: %w", err)
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	perMinute := cfg.AuthFailuresPerMinute
	if perMinute == 0 {
		perMinute = DefaultAuthFailuresPerMinute
	}
	s.limiter = newFailureLimiter(perMinute, s.now)
	for _, p := range cfg.TrustedProxies {
		if !p.IsValid() {
			return nil, errors.New("server: TrustedProxies holds an invalid prefix")
		}
		s.trustedProxies = append(s.trustedProxies, p.Masked())
	}
	s.deletionRetention = cfg.DeletionRetention
	if s.deletionRetention == 0 {
		s.deletionRetention = DefaultDeletionRetention
	}
	if s.deletionRetention < 0 {
		return nil, errors.New("server: DeletionRetention must be positive")
	}
	s.idemRetention = cfg.IdempotencyRetention
	if s.idemRetention == 0 {
		s.idemRetention = DefaultIdempotencyRetention
	}
	if s.idemRetention < 0 {
		return nil, errors.New("server: IdempotencyRetention must be positive")
	}
	gate, err := newPolicyGate(cfg)
	if err != nil {
		return nil, err
	}
	s.gate = gate
	batch, interval := cfg.VerifyBatchSize, cfg.VerifyFlushInterval
	if batch == 0 {
		batch = DefaultVerifyBatchSize
	}
	if interval == 0 {
		interval = DefaultVerifyFlushInterval
	}
	if batch < 0 || interval < 0 {
		return nil, errors.New("server: VerifyBatchSize and VerifyFlushInterval must be positive")
	}
	s.requestTimeout = cfg.RequestTimeout
	if s.requestTimeout == 0 {
		s.requestTimeout = DefaultRequestTimeout
	}
	if s.requestTimeout < 0 {
		return nil, errors.New("server: RequestTimeout must be positive")
	}
	checkpointEvery := cfg.AuditCheckpointInterval
	if checkpointEvery == 0 {
		checkpointEvery = DefaultAuditCheckpointInterval
	}
	if checkpointEvery < 0 {
		return nil, errors.New("server: AuditCheckpointInterval must be positive")
	}
	s.tokenRetention = cfg.TokenRetention
	if s.tokenRetention == 0 {
		s.tokenRetention = DefaultTokenRetention
	}
	if s.tokenRetention < 0 {
		return nil, errors.New("server: TokenRetention must be positive")
	}
	s.routes()
	// Every audit record this server appends is chained under the audit key of its key file.
	s.store.SetAuditKey(s.keys.CurrentAuditKey())
	// Last: no error return may follow, or the writer goroutines would leak.
	s.verifications = newVerifyLog(s.store, s.log, batch, interval)
	if cfg.AuditCheckpoint != nil {
		s.checkpoints = newCheckpointWriter(s, cfg.AuditCheckpoint, checkpointEvery)
	}
	return s, nil
}

// Flush returns once every verification record of an introspection answered before the call
// is committed to the store (audit record and last_used_at). Tests that read the store
// directly after an introspection call it first; the API's own reads do so themselves.
func (s *Server) Flush(ctx context.Context) error { return s.verifications.flush(ctx) }

// Close commits every pending verification record and stops the verification log's writer;
// call it after the HTTP server has stopped and before the store is closed. Introspections
// still arriving afterwards are recorded in a transaction each. It waits until ctx ends and
// is safe to call more than once. With Config.AuditCheckpoint it then writes the last
// checkpoint, of the chain with every verification record in it. It does not close the store.
func (s *Server) Close(ctx context.Context) error {
	if s.purger != nil {
		s.purger.close()
	}
	if err := s.verifications.close(ctx); err != nil {
		return err
	}
	if s.checkpoints != nil {
		return s.checkpoints.close(ctx)
	}
	return nil
}

func (s *Server) routes() {
	m := http.NewServeMux()
	handle := func(pattern string, h http.Handler) {
		m.Handle(pattern, h)
		s.patterns = append(s.patterns, pattern)
	}
	handle("GET /healthz", http.HandlerFunc(s.healthz))
	handle("GET /readyz", http.HandlerFunc(s.readyz))
	handle("GET /v1/openapi.json", http.HandlerFunc(s.openAPI))
	handle("GET /.well-known/oauth-authorization-server", http.HandlerFunc(s.metadata))

	handle("POST /v1/tokens", s.authed(accessTokenWrite, s.createToken))
	handle("GET /v1/tokens", s.authed(accessTokenRead, s.listTokens))
	handle("GET /v1/tokens/{id}", s.authed(accessTokenRead, s.getToken))
	handle("PATCH /v1/tokens/{id}", s.authed(accessTokenWrite, s.updateToken))
	handle("DELETE /v1/tokens/{id}", s.authed(accessTokenWrite, s.revokeToken))
	handle("POST /v1/tokens/{id}/revoke", s.authed(accessTokenWrite, s.revokeToken))
	handle("POST /v1/tokens/{id}/rotate", s.authed(accessTokenWrite, s.rotateToken))
	handle("POST /v1/tokens/{id}/renew", s.authed(accessTokenWrite, s.renewToken))
	handle("POST /v1/introspect", s.introspect())
	handle("POST /v1/revoke", s.revokeByValue())
	handle("POST /v1/secret-scanning/reports", s.secretScanningReport())
	handle("POST /v1/credentials", s.authed(accessAdmin, s.createCredential))
	handle("GET /v1/credentials", s.authed(accessAdmin, s.listCredentials))
	handle("POST /v1/credentials/{id}/rotate", s.authed(accessAdmin, s.rotateCredential))
	handle("POST /v1/credentials/{id}/revoke", s.authed(accessAdmin, s.revokeCredential))
	handle("GET /v1/audit", s.authed(accessRead, s.listAudit))
	handle("GET /v1/audit/checkpoint", s.authed(accessRead, s.auditCheckpoint))
	handle("POST /v1/deletion-requests", s.authed(accessAdmin, s.createDeletionRequest))
	handle("GET /v1/deletion-requests/erased-subjects", s.authed(accessGateData, s.listErasedSubjects))
	handle("GET /v1/deletion-requests/{id}", s.authed(accessRead, s.getDeletionRequest))
	handle("POST /v1/access-requests", s.authed(accessRead, s.createAccessRequest))
	handle("POST /v1/evidence-packs", s.authed(accessRead, s.issueEvidence))
	handle("GET /v1/deletion-requests", s.authed(accessRead, s.listDeletionEvidence))
	handle("GET /v1/renewals", s.authed(accessRead, s.listRenewals))
	handle("GET /v1/policy", s.authed(accessGateData, s.policyInForce))
	s.mux = m
}

// Routes returns the route patterns the API serves, in registration order, e.g.
// "POST /v1/tokens/{id}/rotate". Tests enumerate them to cover every route.
func (s *Server) Routes() []string { return slices.Clone(s.patterns) }

// Handler returns the HTTP handler of the API: routing, request logging, authentication and
// one JSON error shape for every failure, unknown routes included.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// requestInfo carries what the request log line needs from deeper handlers.
type requestInfo struct {
	credentialID string
}

type requestInfoKey struct{}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now() // wall time for the log line only; never for logic
	info := &requestInfo{}
	// Every request carries the deadline; database calls end with it and the request is
	// answered 503 (writeFault) instead of holding its connection until the write timeout.
	ctx, cancel := context.WithTimeout(r.Context(), s.requestTimeout)
	defer cancel()
	r = r.WithContext(context.WithValue(ctx, requestInfoKey{}, info))
	sw := &statusWriter{ResponseWriter: w}
	h, pattern := s.mux.Handler(r)
	defer func() {
		if p := recover(); p != nil {
			// The panic value could hold request data: log its type only.
			s.log.Error("handler panic", "route", pattern, "panic_type", fmt.Sprintf("%T", p))
			if sw.status == 0 {
				writeError(sw, errInternal)
			}
		}
		if !s.log.Enabled(r.Context(), slog.LevelInfo) {
			return // the attributes below cost allocations on every request
		}
		attrs := []slog.Attr{
			slog.String("method", r.Method),
			slog.String("route", pattern),
			slog.Int("status", sw.status),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
		}
		if info.credentialID != "" {
			attrs = append(attrs, slog.String("credential", info.credentialID))
		}
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
	}()
	if r.Method != http.MethodConnect && r.URL.Path != cleanPath(r.URL.Path) {
		// The mux would redirect a path with ".", ".." or empty segments to its clean form,
		// and some clients (Go's among them) follow a 307 with the body and credential. An API
		// client never means such a path: refuse it instead of redirecting.
		writeError(sw, invalid("", "request path is not canonical (it has '.', '..' or empty segments): send the canonical path"))
		return
	}
	if pattern == "" {
		// No route: the mux would answer 404 or 405 in plain text; answer in the API's shape.
		rec := &headerRecorder{header: http.Header{}}
		h.ServeHTTP(rec, r)
		switch rec.status {
		case http.StatusMethodNotAllowed:
			sw.Header().Set("Allow", rec.header.Get("Allow"))
			writeError(sw, &apiError{status: http.StatusMethodNotAllowed, code: wire.CodeMethodNotAllowed,
				message: fmt.Sprintf("method %s is not allowed here; allowed: %s", r.Method, rec.header.Get("Allow"))})
		case http.StatusMovedPermanently, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
			sw.Header().Set("Location", rec.header.Get("Location"))
			sw.WriteHeader(rec.status)
		default:
			writeError(sw, &apiError{status: http.StatusNotFound, code: wire.CodeNotFound,
				message: "no such API route; see the tokenguard API documentation"})
		}
		return
	}
	s.mux.ServeHTTP(sw, r)
}

// cleanPath is p as the mux would clean it: path.Clean, keeping a trailing slash.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if p[len(p)-1] == '/' && np != "/" {
		np += "/"
	}
	return np
}

// statusWriter records the status written, for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// headerRecorder captures the status and headers of the mux's own 404/405/redirect answers.
type headerRecorder struct {
	header http.Header
	status int
}

func (r *headerRecorder) Header() http.Header { return r.header }
func (r *headerRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
func (r *headerRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return len(b), nil
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyTimeout bounds /readyz: a database that does not answer a ping and a write probe
// within it is not ready (a paused server must not hold the probe for long).
const readyTimeout = 2 * time.Second

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.log.Error("readiness check failed", "error", err.Error())
		writeError(w, &apiError{status: http.StatusServiceUnavailable, code: wire.CodeNotReady, message: "the database does not answer"})
		return
	}
	if err := s.writeProbes.check(ctx, s.now(), s.store.ProbeWrite); err != nil {
		s.log.Error("readiness write probe failed", "error", err.Error())
		msg := "the database does not accept a write"
		switch {
		case errors.Is(err, store.ErrStorageFull):
			msg += ": its storage is full"
		case errors.Is(err, store.ErrBusy):
			msg += ": its write lock or a statement timed out"
		case ctx.Err() != nil:
			msg += fmt.Sprintf(" within %s", readyTimeout)
		}
		writeError(w, &apiError{status: http.StatusServiceUnavailable, code: wire.CodeNotReady, message: msg})
		return
	}
	if ok, pending := s.verifications.healthy(); !ok {
		writeError(w, &apiError{status: http.StatusServiceUnavailable, code: wire.CodeNotReady,
			message: fmt.Sprintf("the verification audit log cannot be written (%d records waiting); introspections are refused when its queue is full", pending)})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// IntrospectionCacheStats returns the counts of the introspection cache (zero when
// Config.IntrospectionCacheEntries turned it off): how often a kept read answered, and how
// many revision reads those answers shared.
func (s *Server) IntrospectionCacheStats() introspectcache.Stats {
	if c, ok := s.introspections.(*introspectcache.Cache); ok {
		return c.Stats()
	}
	return introspectcache.Stats{}
}

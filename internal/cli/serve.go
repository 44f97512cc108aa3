package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/keyring"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/policy"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store/postgres"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store/sqlite"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/token"
)

// envAdminToken names the environment variable whose value becomes the admin credential on
// the first start of a service (when the database has no credential yet).
const envAdminToken = "TOKENGUARD_ADMIN_TOKEN"

// tokenPurgeInterval is how often serve purges tokens retired longer than --token-retention
// (and once at start).
const tokenPurgeInterval = time.Hour

// shutdownGrace is how long serve lets requests in flight finish after it is asked to stop.
const shutdownGrace = 10 * time.Second

type serveOptions struct {
	listen, db, keyFile        string
	defaultTTL, maxTTL         string
	tlsCert, tlsKey, env, logs string
	insecureHTTP               bool
	authFailuresPerMinute      int
	policyEnforcement, waivers string
	existing                   string
	policyDirs, policyData     []string
	idempotencyRetention       string
	tokenRetention             string
	auditCheckpoint            string
	auditCheckpointInterval    string
	requestTimeout             time.Duration
	trustedProxies             []string
	issuer, secretScanningKeys string
}

func newServeCommand(s *streams) *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the token service (embedded SQLite by default, or PostgreSQL)",
		Long: `Run the token service on --listen until interrupted.

Every flag can also be set with the environment variable named in its help; a flag given on
the command line wins. On the first start, when the database holds no credential, the value
of TOKENGUARD_ADMIN_TOKEN becomes the admin credential; without it one is generated and
written once, mode 0600, to <db>.admin-token (its path is printed, never the secret).

--db takes a SQLite file (one instance) or a postgres://host:port/database URL:
several instances may serve one PostgreSQL database, each reading every credential, token
and idempotency record from it on every request (nothing is cached, so a revocation through
one instance holds on all at once). With PostgreSQL, --key-file is required (the same file
for every instance) and the generated admin credential goes to <key file>.admin-token.

Plain HTTP is served only on a loopback address unless --insecure-http is given; use
--tls-cert and --tls-key otherwise.

SIGHUP reloads the --policy directories, --policy-data files and --waivers file: the new
bundle's digest is logged and applies to requests that begin afterwards; on an error (a
policy that does not compile, a bad waiver) the error is logged and the old ones stay.
Revoked and expired tokens are purged --token-retention after they were retired, at start
and hourly (tokenguard admin purge does it on demand).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyEnv(cmd, map[string]string{ //nolint:gosec // G101: flag names and environment variable names, no credential
				"listen": "TOKENGUARD_LISTEN", "db": "TOKENGUARD_DB", "key-file": "TOKENGUARD_KEY_FILE",
				"default-ttl": "TOKENGUARD_DEFAULT_TTL", "max-ttl": "TOKENGUARD_MAX_TTL",
				"tls-cert": "TOKENGUARD_TLS_CERT", "tls-key": "TOKENGUARD_TLS_KEY",
				"insecure-http": "TOKENGUARD_INSECURE_HTTP", "env": "TOKENGUARD_ENV", "log-level": "TOKENGUARD_LOG_LEVEL",
				"auth-failures-per-minute": "TOKENGUARD_AUTH_FAILURES_PER_MINUTE",
				"policy-enforcement":       "TOKENGUARD_POLICY_ENFORCEMENT", "policy": "TOKENGUARD_POLICY", "existing": "TOKENGUARD_EXISTING",
				"policy-data": "TOKENGUARD_POLICY_DATA", "waivers": "TOKENGUARD_WAIVERS",
				"idempotency-retention": "TOKENGUARD_IDEMPOTENCY_RETENTION", "token-retention": "TOKENGUARD_TOKEN_RETENTION", "trusted-proxy": "TOKENGUARD_TRUSTED_PROXY",
				"audit-checkpoint": "TOKENGUARD_AUDIT_CHECKPOINT", "audit-checkpoint-interval": "TOKENGUARD_AUDIT_CHECKPOINT_INTERVAL",
				"issuer": "TOKENGUARD_ISSUER", "secret-scanning-keys": "TOKENGUARD_SECRET_SCANNING_KEYS",
			}); err != nil {
				return err
			}
			return runServe(cmd.Context(), s, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", "127.0.0.1:8790", "address to listen on; port 0 picks a free port (env TOKENGUARD_LISTEN)")
	f.StringVar(&o.db, "db", "./tokenguard.db", "SQLite database file, created if missing, or a postgres:// URL (env TOKENGUARD_DB)")
	f.StringVar(&o.keyFile, "key-file", "", "key file, created with mode 0600 if missing (default <db>.key next to the database; env TOKENGUARD_KEY_FILE)")
	f.StringVar(&o.defaultTTL, "default-ttl", "30d", "lifetime of a token created without a ttl (env TOKENGUARD_DEFAULT_TTL)")
	f.StringVar(&o.maxTTL, "max-ttl", "90d", "longest ttl accepted (env TOKENGUARD_MAX_TTL)")
	f.StringVar(&o.tlsCert, "tls-cert", "", "TLS certificate PEM file (env TOKENGUARD_TLS_CERT)")
	f.StringVar(&o.tlsKey, "tls-key", "", "TLS private key PEM file (env TOKENGUARD_TLS_KEY)")
	f.BoolVar(&o.insecureHTTP, "insecure-http", false, "allow plain HTTP on a non-loopback address (env TOKENGUARD_INSECURE_HTTP)")
	f.StringVar(&o.env, "env", "live", "environment label minted into secrets, tg_<env>_... (env TOKENGUARD_ENV)")
	f.StringVar(&o.logs, "log-level", "info", "debug, info, warn or error (env TOKENGUARD_LOG_LEVEL)")
	f.IntVar(&o.authFailuresPerMinute, "auth-failures-per-minute", server.DefaultAuthFailuresPerMinute,
		"failed authentications allowed per source address per minute before 429; -1 disables (env TOKENGUARD_AUTH_FAILURES_PER_MINUTE)")
	f.StringVar(&o.policyEnforcement, "policy-enforcement", server.PolicyMandatory,
		"CPRA policy gate on create, patch, renew and rotate: mandatory (violations answer 422), advisory (returned as warnings) or off (env TOKENGUARD_POLICY_ENFORCEMENT)")
	f.StringVar(&o.existing, "existing", policy.ExistingBlock,
		"findings on what a patch, renew or rotate leaves as it was: block (default), or warn (the ratchet, as tokenguard check --existing warn: such an error finding is a warning; creates and changed attributes still block) (env TOKENGUARD_EXISTING)")
	f.StringArrayVar(&o.policyDirs, "policy", nil, "directory of extra Rego policies, as tokenguard check --policy (repeatable; env TOKENGUARD_POLICY)")
	f.StringArrayVar(&o.policyData, "policy-data", nil, "JSON or YAML file merged over the policy data, as tokenguard check --data (repeatable; env TOKENGUARD_POLICY_DATA)")
	f.StringVar(&o.idempotencyRetention, "idempotency-retention", "24h",
		"how long the answer of a request with an Idempotency-Key is kept for its retries, then deleted with any secret it holds (env TOKENGUARD_IDEMPOTENCY_RETENTION)")
	f.StringVar(&o.tokenRetention, "token-retention", "90d",
		"how long a revoked or expired token is kept before it is purged (at start, then hourly; the audit log and deletion evidence stay) (env TOKENGUARD_TOKEN_RETENTION)")
	f.StringArrayVar(&o.trustedProxies, "trusted-proxy", nil,
		"CIDR or address of a load balancer or proxy whose X-Forwarded-For names the source for the failed-login limit (repeatable; env TOKENGUARD_TRUSTED_PROXY)")
	f.StringVar(&o.issuer, "issuer", "",
		"public base URL of the service named by /.well-known/oauth-authorization-server, e.g. https://tokens.example.com; default: the URL each request reached (env TOKENGUARD_ISSUER)")
	f.StringVar(&o.secretScanningKeys, "secret-scanning-keys", "",
		"JSON file of the public keys that sign leaked-secret reports, in the shape GitHub publishes ({\"public_keys\":[...]}); enables POST /v1/secret-scanning/reports (env TOKENGUARD_SECRET_SCANNING_KEYS)")
	f.StringVar(&o.waivers, "waivers", "", "YAML waivers file of the policy gate, as tokenguard check --waivers (env TOKENGUARD_WAIVERS)")
	f.StringVar(&o.auditCheckpoint, "audit-checkpoint", "",
		"append a signed checkpoint of the audit chain's head to this file (keep it where the database is not), or - for standard output, every --audit-checkpoint-interval and at shutdown (env TOKENGUARD_AUDIT_CHECKPOINT)")
	f.StringVar(&o.auditCheckpointInterval, "audit-checkpoint-interval", token.FormatDuration(server.DefaultAuditCheckpointInterval),
		"how often to write an audit checkpoint with --audit-checkpoint (env TOKENGUARD_AUDIT_CHECKPOINT_INTERVAL)")
	f.DurationVar(&o.requestTimeout, "request-timeout", server.DefaultRequestTimeout,
		"deadline of every request: one whose database calls have not finished by then is answered 503 with Retry-After; the HTTP write timeout is 5s longer, at least 30s (env TOKENGUARD_REQUEST_TIMEOUT)")
	return cmd
}

// servePolicy is the policy gate of the server configuration: the bundle compiled once for
// the service gate, with the extra policies, data and waivers of the flags. Off compiles
// nothing.
func servePolicy(ctx context.Context, o serveOptions, now func() time.Time) (server.Config, error) {
	cfg := server.Config{PolicyEnforcement: o.policyEnforcement, PolicyExisting: o.existing}
	if o.existing != "" && o.existing != policy.ExistingBlock && o.existing != policy.ExistingWarn {
		return cfg, withCode(ExitUsage, fmt.Errorf("--existing %q: use block or warn", o.existing))
	}
	switch o.policyEnforcement {
	case server.PolicyMandatory, server.PolicyAdvisory:
	case server.PolicyOff:
		return cfg, nil
	default:
		return cfg, withCode(ExitUsage, fmt.Errorf("--policy-enforcement %q: use mandatory, advisory or off", o.policyEnforcement))
	}
	engine, err := policy.NewEngine(ctx, policy.Options{ExtraPolicyDirs: o.policyDirs, DataFiles: o.policyData, Now: now, Gate: policy.GateService})
	if err != nil {
		return cfg, withCode(ExitUsage, fmt.Errorf("loading the CPRA policies (--policy, --policy-data): %w", err))
	}
	cfg.Policy = engine
	if o.waivers != "" {
		ws, err := policy.LoadWaivers(o.waivers)
		if err != nil {
			return cfg, withCode(ExitUsage, fmt.Errorf("--waivers: %w; use the format of tokenguard check --waivers", err))
		}
		cfg.Waivers, cfg.WaiversFile = ws, o.waivers
	}
	return cfg, nil
}

// serveGCPercent is the garbage collector target of the service (GOGC=400).
const serveGCPercent = 400

func runServe(ctx context.Context, s *streams, o serveOptions) error {
	if os.Getenv("GOGC") == "" {
		// Every request allocates short-lived values and the live heap is small: collecting a
		// quarter as often took introspection from 80 to 64 µs of CPU per request on SQLite
		// (docs/benchmarks.md). An explicit GOGC wins; the old setting is restored.
		defer debug.SetGCPercent(debug.SetGCPercent(serveGCPercent))
	}
	set, err := parseServeOptions(o)
	if err != nil {
		return err
	}
	gate, err := servePolicy(ctx, o, time.Now)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(s.err, &slog.HandlerOptions{Level: set.level}))
	keyFile := o.keyFile
	if keyFile == "" {
		var legacy bool
		if keyFile, legacy = defaultKeyFile(o.db); legacy {
			log.Warn("using the key file tokenguard.key beside the database, the default before 0.3: rename it to <db>.key so that two databases in one directory never share keys",
				"path", keyFile, "rename_to", o.db+".key")
		}
	}
	// Bind the port before anything is written: a serve that cannot listen leaves no
	// database, key file or admin-token file behind.
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return withCode(ExitFindings, fmt.Errorf("listening on %s: %w", o.listen, err))
	}
	defer func() { _ = ln.Close() }() // for the early returns; Shutdown closes it otherwise
	st, release, err := openServeStore(ctx, o.db, log)
	if err != nil {
		return err
	}
	// For the early returns; the clean shutdown below closes the store and checks the error.
	defer release()
	keys, err := loadServeKeys(ctx, st, keyFile, o.db, log)
	if err != nil {
		return err
	}
	log.Info("policy gate", "enforcement", o.policyEnforcement, "extra_policy_dirs", len(o.policyDirs),
		"data_files", len(o.policyData), "waivers", len(gate.Waivers), "bundle_digest", bundleDigest(gate.Policy))
	log.Info("loaded key file", "path", keyFile, "current_key", keys.KeyID(), "key_sets", len(keys.KeyIDs()))
	checkpoints, closeCheckpoints, err := openCheckpointOutput(s, o.auditCheckpoint)
	if err != nil {
		return err
	}
	defer closeCheckpoints()
	srv, err := newServeServer(o, set, gate, st, keys, log, checkpoints)
	if err != nil {
		return err
	}
	// For the early returns (it runs before the store's deferred Close); the clean shutdown
	// below closes the server and checks the error.
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		_ = srv.Close(closeCtx)
	}()
	if keyed, err := srv.KeyAuditChain(ctx); err != nil {
		return withCode(ExitFindings, err)
	} else if keyed {
		log.Info("audit chain keyed: the records written before the audit key existed stay as they are; every record from now on is an HMAC under the audit key", "key_id", keys.KeyID())
	}
	adminTokenBase := o.db
	if isPostgresURL(o.db) {
		adminTokenBase = keyFile // <key file>.admin-token: a URL is no place for a file
	}
	if err := bootstrapAdmin(ctx, s, log, st, srv, adminTokenBase); err != nil {
		return withCode(ExitFindings, err)
	}
	srv.StartTokenPurges(tokenPurgeInterval)
	return serveUntilStopped(ctx, s, o, set, log, ln, srv, st)
}

// openServeStore opens the database of serve under the service lock that keeps admin rekey
// from changing the keys under a running service. release, for the early returns, undoes
// what was done in reverse order: the PostgreSQL lock, the store, the SQLite lock.
func openServeStore(ctx context.Context, db string, log *slog.Logger) (st store.Store, release func(), err error) {
	var undo []func()
	undoAll := func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	defer func() {
		if err != nil {
			undoAll()
		}
	}()
	if !isPostgresURL(db) {
		// Held from before the database is opened until the process ends: admin rekey refuses
		// to change the keys under a running service (the OS releases it on any exit).
		sqliteLock, err := sqlite.HoldAsService(db)
		if err != nil {
			return nil, nil, withCode(ExitFindings, err)
		}
		undo = append(undo, func() { _ = sqliteLock.Release() })
	}
	if st, err = openDatabase(ctx, db); err != nil {
		return nil, nil, withCode(ExitFindings, err)
	}
	opened := st // the early returns below set st to nil before undoAll runs
	undo = append(undo, func() { _ = opened.Close() })
	// The service keeps introspection reads while the database's revision is unchanged; the
	// triggers that change it on every change of a token or credential must be in place.
	if err := st.CheckRevisionTriggers(ctx); err != nil {
		return nil, nil, withCode(ExitFindings, err)
	}
	if pg, ok := st.(*postgres.Store); ok {
		// Taken before the key file is read (it waits for a running admin rekey), held on a
		// session of its own until the store closes.
		pgLock, err := pg.HoldAsService(ctx, func() {
			log.Warn("waiting for an admin command (admin rekey) to release the database's service lock before loading the key file")
		}, func(waitedForRekey bool) {
			if waitedForRekey {
				log.Error("an admin command (rekey) held the database while this instance had lost its connection: restart this instance so that it loads the current key file")
				return
			}
			log.Info("service lock taken again after the database connection was lost")
		})
		if err != nil {
			return nil, nil, withCode(ExitFindings, err)
		}
		undo = append(undo, func() { _ = pgLock.Release() })
	}
	return st, undoAll, nil
}

// loadServeKeys loads the key file of serve, creating it for a database that holds nothing
// sealed yet, and refuses to create one for a database that does: a new key could not read
// anything in it, so every token would turn inactive.
func loadServeKeys(ctx context.Context, st store.Store, keyFile, db string, log *slog.Logger) (*keyring.Keyring, error) {
	credentials, err := countCredentials(ctx, st)
	if err != nil {
		return nil, withCode(ExitFindings, err)
	}
	if _, err := os.Stat(keyFile); errors.Is(err, fs.ErrNotExist) && credentials > 0 {
		return nil, withCode(ExitFindings, fmt.Errorf("key file %s is missing but the database %s already holds data sealed with a key: restore the key file (or point --key-file at it)", keyFile, databaseLabel(db)))
	}
	keys, created, err := keyring.LoadOrCreate(keyFile)
	if err != nil {
		return nil, withCode(ExitFindings, err)
	}
	if created {
		log.Info("created key file", "path", keyFile)
	}
	return keys, nil
}

// newServeServer builds the service of serve on the opened store and key file.
func newServeServer(o serveOptions, set serveSettings, gate server.Config, st store.Store, keys *keyring.Keyring,
	log *slog.Logger, checkpoints io.Writer) (*server.Server, error) {
	var scanKeys server.SecretScanningKeys
	if o.secretScanningKeys != "" {
		data, err := os.ReadFile(o.secretScanningKeys)
		if err != nil {
			return nil, withCode(ExitUsage, fmt.Errorf("--secret-scanning-keys: %w", err))
		}
		if scanKeys, err = server.ParseSecretScanningKeys(data); err != nil {
			return nil, withCode(ExitUsage, fmt.Errorf("--secret-scanning-keys %s: %w", o.secretScanningKeys, err))
		}
		log.Info("secret scanning reports enabled", "keys", len(scanKeys))
	}
	srv, err := server.New(server.Config{Store: st, Keyring: keys, DefaultTTL: set.defaultTTL, MaxTTL: set.maxTTL, Env: o.env, Logger: log,
		AuthFailuresPerMinute: o.authFailuresPerMinute, IdempotencyRetention: set.idemRetention, TrustedProxies: set.proxies,
		Policy: gate.Policy, PolicyEnforcement: gate.PolicyEnforcement, PolicyExisting: gate.PolicyExisting, Waivers: gate.Waivers, WaiversFile: gate.WaiversFile,
		AuditCheckpoint: checkpoints, AuditCheckpointInterval: set.checkpointInterval, RequestTimeout: o.requestTimeout,
		TokenRetention: set.tokenRetention, Issuer: o.issuer, SecretScanningKeys: scanKeys})
	if err != nil {
		return nil, withCode(ExitUsage, err)
	}
	return srv, nil
}

// serveUntilStopped serves the API of srv on ln until ctx ends, reloading the policies on
// SIGHUP, then stops cleanly: requests in flight finish (up to shutdownGrace), the pending
// verification records and the last checkpoint are written, and the store is closed.
func serveUntilStopped(ctx context.Context, s *streams, o serveOptions, set serveSettings, log *slog.Logger,
	ln net.Listener, srv *server.Server, st store.Store) error {
	// SIGHUP reloads the policies, policy data files and waivers (reloadServePolicy). It is
	// caught from before the listening line, so a reload signal never stops the service.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      max(30*time.Second, o.requestTimeout+5*time.Second), // above every request's deadline
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		TLSConfig:         set.tlsConfig,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	scheme := "http"
	if set.tlsConfig != nil {
		scheme = "https"
		ln = tls.NewListener(ln, set.tlsConfig)
	}
	url := scheme + "://" + ln.Addr().String()
	// Serving does not depend on this line, and the log line below says the same.
	_, _ = fmt.Fprintf(s.out, "tokenguard: listening on %s\n", url)
	log.Info("serving", "url", url, "db", databaseLabel(o.db), "env", o.env)

	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
serving:
	for {
		select {
		case err := <-served:
			return withCode(ExitFindings, fmt.Errorf("serving: %w", err))
		case <-hup:
			reloadServePolicy(ctx, o, srv, log)
		case <-ctx.Done():
			break serving
		}
	}
	log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := hs.Shutdown(shutCtx); err != nil {
		return withCode(ExitFindings, fmt.Errorf("shutting down: %w", err))
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return withCode(ExitFindings, fmt.Errorf("serving: %w", err))
	}
	// Every request has ended: write the group-committed verification records (and, with
	// --audit-checkpoint, the last checkpoint) before the store closes.
	if err := srv.Close(shutCtx); err != nil {
		return withCode(ExitFindings, fmt.Errorf("writing pending verification records and the last audit checkpoint: %w", err))
	}
	if err := st.Close(); err != nil {
		return withCode(ExitFindings, fmt.Errorf("closing the database: %w", err))
	}
	// The service has stopped cleanly; a failed notice cannot change that.
	_, _ = fmt.Fprintln(s.out, "tokenguard: stopped")
	return nil
}

// reloadServePolicy is what serve does on SIGHUP: it reads the --policy directories, the
// --policy-data files and the --waivers file again, compiles them, and puts them in force
// for the requests that begin afterwards, logging the new bundle's digest. On any error it
// logs the error and keeps the bundle and waivers in force. It reports whether it reloaded.
func reloadServePolicy(ctx context.Context, o serveOptions, srv *server.Server, log *slog.Logger) bool {
	gate, err := servePolicy(ctx, o, time.Now)
	if err == nil && gate.Policy == nil {
		err = errors.New("the policy gate is off (--policy-enforcement off): there is nothing to reload")
	}
	if err == nil {
		err = srv.ReloadPolicy(gate.Policy, gate.Waivers, gate.WaiversFile)
	}
	if err != nil {
		log.Error("policy reload failed: the policies and waivers in force stay", "error", err.Error())
		return false
	}
	log.Info("policy reloaded", "bundle_digest", bundleDigest(gate.Policy), "extra_policy_dirs", len(o.policyDirs),
		"data_files", len(o.policyData), "waivers", len(gate.Waivers))
	return true
}

// bundleDigest is the digest of engine's bundle, or "" when the gate is off.
func bundleDigest(engine *policy.Engine) string {
	if engine == nil {
		return ""
	}
	return engine.Bundle().Digest
}

// defaultKeyFile is the key file of a SQLite database when --key-file is not given:
// <db>.key, so two databases in one directory never share keys. For a database that already
// exists without one, tokenguard.key beside it (the default before) is still used, and legacy
// says so, for a warning naming the file to rename.
func defaultKeyFile(db string) (path string, legacy bool) {
	path = db + ".key"
	if fileExists(path) || !fileExists(db) {
		return path, false
	}
	if old := filepath.Join(filepath.Dir(db), "tokenguard.key"); fileExists(old) {
		return old, true
	}
	return path, false
}

// openCheckpointOutput opens where --audit-checkpoint writes: nil for "", standard output
// for "-", else the file at path, created (mode 0644: checkpoints hold no secret) or appended
// to, each checkpoint synced to disk as it is written. The returned func closes it.
func openCheckpointOutput(s *streams, path string) (io.Writer, func(), error) {
	switch path {
	case "":
		return nil, func() {}, nil
	case "-":
		return s.out, func() {}, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644) //nolint:gosec // G302/G304: the operator's checkpoint file; it holds no secret
	if err != nil {
		return nil, nil, withCode(ExitUsage, fmt.Errorf("--audit-checkpoint: %w", err))
	}
	// Every checkpoint was synced when written: closing loses nothing.
	return syncedFile{f}, func() { _ = f.Close() }, nil
}

// syncedFile writes through to disk: a checkpoint written is a checkpoint kept.
type syncedFile struct{ f *os.File }

func (w syncedFile) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if err == nil {
		err = w.f.Sync()
	}
	return n, err
}

package cli

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/token"
)

// serveSettings are the serve options parsed and checked, before anything is opened or bound.
type serveSettings struct {
	defaultTTL, maxTTL, idemRetention, tokenRetention, checkpointInterval time.Duration
	proxies                                                               []netip.Prefix
	level                                                                 slog.Level
	tlsConfig                                                             *tls.Config // nil: plain HTTP
}

// parseServeOptions checks the options of serve and parses their values: every usage error
// is found here, before a port is bound or a file written.
func parseServeOptions(o serveOptions) (set serveSettings, err error) {
	usage := func(format string, args ...any) error { return withCode(ExitUsage, fmt.Errorf(format, args...)) }
	if isPostgresURL(o.db) && o.keyFile == "" {
		// The URL is not echoed: it may hold a password.
		return set, usage("--key-file is required with a PostgreSQL --db: every instance on the database must use the same key file")
	}
	if strings.TrimSpace(o.db) == "" {
		return set, usage("--db is empty: give the path of the SQLite database file")
	}
	if !isPostgresURL(o.db) {
		if fi, err := os.Stat(filepath.Dir(o.db)); err != nil || !fi.IsDir() {
			return set, usage("--db %s: the directory %s does not exist: create it or choose another path", o.db, filepath.Dir(o.db))
		}
	}
	set.defaultTTL, err = token.ParseDuration(o.defaultTTL)
	if err != nil {
		return set, usage("--default-ttl: %v", err)
	}
	set.maxTTL, err = token.ParseDuration(o.maxTTL)
	if err != nil {
		return set, usage("--max-ttl: %v", err)
	}
	if set.defaultTTL > set.maxTTL {
		return set, usage("--default-ttl %s is longer than --max-ttl %s", o.defaultTTL, o.maxTTL)
	}
	set.idemRetention, err = token.ParseDuration(o.idempotencyRetention)
	if err != nil {
		return set, usage("--idempotency-retention: %v", err)
	}
	set.tokenRetention, err = token.ParseDuration(o.tokenRetention)
	if err != nil {
		return set, usage("--token-retention: %v", err)
	}
	if set.tokenRetention <= 0 {
		return set, usage("--token-retention %s: give a positive duration, e.g. 90d", o.tokenRetention)
	}
	if set.proxies, err = parseTrustedProxies(o.trustedProxies); err != nil {
		return set, err
	}
	if set.level, err = parseLogLevel(o.logs); err != nil {
		return set, withCode(ExitUsage, err)
	}
	if o.authFailuresPerMinute == 0 || o.authFailuresPerMinute < -1 {
		return set, usage("--auth-failures-per-minute %d: give a positive number, or -1 to disable the limit", o.authFailuresPerMinute)
	}
	if o.requestTimeout <= 0 {
		return set, usage("--request-timeout %s: give a positive duration, e.g. 10s", o.requestTimeout)
	}
	set.checkpointInterval, err = token.ParseDuration(o.auditCheckpointInterval)
	if err != nil {
		return set, usage("--audit-checkpoint-interval %s: give a positive duration, e.g. 1m: %v", o.auditCheckpointInterval, err)
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return set, usage("--tls-cert and --tls-key go together: give both or neither")
	}
	useTLS := o.tlsCert != ""
	host, _, err := net.SplitHostPort(o.listen)
	if err != nil {
		return set, usage("--listen %q: use host:port, e.g. 127.0.0.1:8790: %v", o.listen, err)
	}
	if !useTLS && !o.insecureHTTP && !client.IsLoopbackHost(host) {
		return set, usage("--listen %s is not a loopback address: serve TLS with --tls-cert and --tls-key, or accept plain HTTP with --insecure-http", o.listen)
	}
	if useTLS {
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			return set, usage("loading --tls-cert/--tls-key: %v", err)
		}
		set.tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	return set, nil
}

func parseLogLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("--log-level %q: use debug, info, warn or error", s)
	}
	return l, nil
}

// parseTrustedProxies reads --trusted-proxy values: CIDR prefixes, or single addresses.
func parseTrustedProxies(values []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			if p, err := netip.ParsePrefix(part); err == nil {
				out = append(out, p.Masked())
				continue
			}
			a, err := netip.ParseAddr(part)
			if err != nil {
				return nil, withCode(ExitUsage, fmt.Errorf("--trusted-proxy %q: give a CIDR such as 10.0.0.0/8 or an address such as 10.0.0.5", part))
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
		}
	}
	return out, nil
}

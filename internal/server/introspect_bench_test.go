package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/keyring"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store/postgres"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store/sqlite"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// BenchmarkIntrospect_handler measures one RFC 7662 introspection through the service's
// handler on SQLite, without the network (as `tokenguard serve` is configured: errors-only
// log), with the verification log group-committing in the background as it does in
// production. Profile it with -cpuprofile to see the handler's own cost.
func BenchmarkIntrospect_handler(b *testing.B) {
	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "tokenguard.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	benchmarkIntrospect(b, st, nil)
}

// BenchmarkIntrospect_handlerPostgreSQL is BenchmarkIntrospect_handler on the PostgreSQL
// store, in a fresh schema of TOKENGUARD_TEST_POSTGRES_URL (skipped without it); cpu-µs/op
// counts this process only, pg-cpu-µs/op PostgreSQL's processes (its backends and background
// processes, from /proc, when the server runs on this machine): the verification writer's
// batches, the revision reads and the reads the cache misses.
func BenchmarkIntrospect_handlerPostgreSQL(b *testing.B) {
	serverURL := os.Getenv("TOKENGUARD_TEST_POSTGRES_URL")
	if serverURL == "" {
		b.Skip("set TOKENGUARD_TEST_POSTGRES_URL (scripts/pg-test-server.sh start prints one)")
	}
	ctx := context.Background()
	schema := fmt.Sprintf("bench_%d", time.Now().UnixNano())
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		b.Fatal(err)
	}
	defer func() { _, _ = conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE") }()
	u, err := url.Parse(serverURL)
	if err != nil {
		b.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	st, err := postgres.Open(ctx, u.String())
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	benchmarkIntrospect(b, st, func() time.Duration { return postgresCPU(b, conn) })
}

// postgresCPU is the CPU time (user and system) the processes of the PostgreSQL server conn
// is connected to have used so far, but conn's own backend; 0 when /proc does not show them
// (a server on another machine). A process that ends between two calls takes its time away
// with it: the store's pools keep their connections while the benchmark runs.
func postgresCPU(b *testing.B, conn *pgx.Conn) time.Duration {
	rows, err := conn.Query(context.Background(), "SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid()")
	if err != nil {
		b.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		b.Fatal(err)
	}
	var ticks int64
	for _, pid := range pids {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)) //nolint:gosec // G703: pid is an integer (a PostgreSQL backend's process id), which cannot leave /proc
		if err != nil {
			continue // not on this machine, or ended since
		}
		// utime and stime are the 12th and 13th fields after the command name.
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		for _, v := range f[11:13] {
			n, _ := strconv.ParseInt(v, 10, 64)
			ticks += n
		}
	}
	return time.Duration(ticks) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}

// benchmarkIntrospect is BenchmarkIntrospect_handler on st; serverCPU, when not nil, is the
// database server's CPU time so far, reported per introspection as pg-cpu-µs/op.
func benchmarkIntrospect(b *testing.B, st store.Store, serverCPU func() time.Duration) {
	ctx := context.Background()
	keys, _, err := keyring.LoadOrCreate(filepath.Join(b.TempDir(), "tokenguard.key"))
	if err != nil {
		b.Fatal(err)
	}
	// TOKENGUARD_BENCH_CACHE_ENTRIES=-1 measures without the introspection cache.
	cacheEntries, _ := strconv.Atoi(os.Getenv("TOKENGUARD_BENCH_CACHE_ENTRIES"))
	srv, err := server.New(server.Config{Store: st, Keyring: keys, PolicyEnforcement: server.PolicyOff, IntrospectionCacheEntries: cacheEntries,
		Logger: slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError}))})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = srv.Close(ctx) }()
	const admin = "tgc_benchmark-admin-credential-0123456789"
	if _, err := srv.Bootstrap(ctx, admin); err != nil {
		b.Fatal(err)
	}
	h := srv.Handler()
	hs := httptest.NewServer(h)
	defer hs.Close()
	adminClient, err := client.New(client.Config{Endpoint: hs.URL, Token: admin})
	if err != nil {
		b.Fatal(err)
	}
	cred, err := adminClient.CreateCredential(ctx, wire.CreateCredentialRequest{Name: "gateway", Rights: []string{server.RightIntrospect}}, "")
	if err != nil {
		b.Fatal(err)
	}
	var secrets []string
	for i := range 50 {
		tok, err := adminClient.CreateToken(ctx, wire.CreateTokenRequest{Name: fmt.Sprint("bench-", i), Owner: "team-billing",
			Purpose: "Reads invoice totals for the monthly revenue report", Scopes: []string{"invoices:read"},
			DataCategories: []string{"commercial"}, Audiences: []string{"billing-api"}, TTL: "30d"}, "")
		if err != nil {
			b.Fatal(err)
		}
		secrets = append(secrets, tok.Secret)
	}
	b.ReportAllocs()
	b.ResetTimer()
	// Eight requests in flight per core: on two cores, the 16 connections of the serve
	// benchmark, so the verification log commits batches of a realistic size.
	b.SetParallelism(8)
	var serverStart time.Duration
	if serverCPU != nil {
		serverStart = serverCPU()
	}
	start, cpuStart := time.Now(), processCPU(b)
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			req := httptest.NewRequest(http.MethodPost, "/v1/introspect", strings.NewReader("token="+secrets[i%len(secrets)]))
			req.Header.Set("Authorization", "Bearer "+cred.Secret)
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Body.String(), `{"active":true`) {
				b.Fatalf("introspection: %d %s", rec.Code, rec.Body)
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
	b.ReportMetric(float64((processCPU(b)-cpuStart).Microseconds())/float64(b.N), "cpu-µs/op")
	if serverCPU != nil {
		// The verification log commits its last batch in the background: flush it first.
		if err := srv.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64((serverCPU()-serverStart).Microseconds())/float64(b.N), "pg-cpu-µs/op")
	}
	if st := srv.IntrospectionCacheStats(); st.RevisionReads > 0 {
		b.ReportMetric(float64(st.Hits)/float64(st.RevisionReads), "hits/revision-read")
		b.ReportMetric(float64(st.Hits)/float64(st.Hits+st.Misses), "hit-ratio")
	}
}

// processCPU is the CPU time (user and system) this process has used so far: per operation,
// what an introspection costs whatever else runs on the machine.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

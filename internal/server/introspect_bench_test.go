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
	benchmarkIntrospect(b, st)
}

// BenchmarkIntrospect_handlerPostgreSQL is BenchmarkIntrospect_handler on the PostgreSQL
// store, in a fresh schema of TOKENGUARD_TEST_POSTGRES_URL (skipped without it); cpu-µs/op
// counts this process only, not PostgreSQL's.
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
	benchmarkIntrospect(b, st)
}

// benchmarkIntrospect is BenchmarkIntrospect_handler on st.
func benchmarkIntrospect(b *testing.B, st store.Store) {
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

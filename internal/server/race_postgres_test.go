package server_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store/postgres"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/testenv"
)

// TestRevocationRace_PostgreSQL runs runRevocationRace on the PostgreSQL store, in a fresh
// schema of the server named by TOKENGUARD_TEST_POSTGRES_URL (scripts/pg-test-server.sh start
// prints one). It is skipped without that variable, and fails instead when
// TOKENGUARD_REQUIRE_POSTGRES=1 (CI), so a missing server cannot pass as green.
func TestRevocationRace_PostgreSQL(t *testing.T) {
	serverURL := testenv.PostgresURL(t)
	runRevocationRace(t, openPostgres(serverURL), revocationTrials())
}

// openPostgres returns a factory of PostgreSQL stores, each in a new schema of the server's
// database that is dropped when the test ends.
func openPostgres(serverURL string) storeFactory {
	return func(t *testing.T) store.Store {
		return openPostgresOn(t, postgresSchema(t, serverURL))
	}
}

// postgresSchema creates a new schema in the server's database, dropped when the test ends,
// and returns the URL of serverURL that selects it.
func postgresSchema(t *testing.T, serverURL string) string {
	ctx := context.Background()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := "race_" + hex.EncodeToString(b)
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		t.Fatalf("connecting to TOKENGUARD_TEST_POSTGRES_URL: %v", err)
	}
	defer func() {
		if err := conn.Close(ctx); err != nil {
			t.Errorf("closing the set-up connection: %v", err)
		}
	}()
	ident := pgx.Identifier{schema}.Sanitize()
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+ident); err != nil { //nolint:gosec // quoted identifier
		t.Fatalf("creating schema: %v", err)
	}
	// Registered first, so it runs after the stores' own cleanups have closed them.
	t.Cleanup(func() {
		if c, err := pgx.Connect(ctx, serverURL); err == nil {
			_, _ = c.Exec(ctx, "DROP SCHEMA "+ident+" CASCADE") //nolint:gosec // quoted identifier
			_ = c.Close(ctx)
		}
	})
	u, err := url.Parse(serverURL)
	if err != nil {
		t.Fatal("TOKENGUARD_TEST_POSTGRES_URL is not a URL")
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// openPostgresOn opens a PostgreSQL store on the schema URL u, closed when the test ends.
func openPostgresOn(t *testing.T, u string) store.Store {
	st, err := postgres.Open(context.Background(), u)
	if err != nil {
		t.Fatalf("opening the PostgreSQL store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

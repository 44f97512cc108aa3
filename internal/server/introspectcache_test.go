package server_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/keyring"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store/sqlite"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/testenv"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// cacheInstance is one service of a pair sharing one database and one key file.
type cacheInstance struct {
	srv   *server.Server
	url   string
	admin *client.Client
}

// client returns a client of this instance holding secret.
func (ci cacheInstance) client(t *testing.T, secret string) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{Endpoint: ci.url, Token: secret, RetryMax: -1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// startCachePair starts a service on each of a and b (two stores on one database), sharing
// one keyring and one admin credential, each with its introspection cache on.
func startCachePair(t *testing.T, a, b store.Store) (cacheInstance, cacheInstance) {
	t.Helper()
	keys, err := keyring.New()
	if err != nil {
		t.Fatal(err)
	}
	const adminSecret = "tgc_cache-pair-admin-credential-0123456789abcdef" //nolint:gosec // G101: a test service's credential
	var out [2]cacheInstance
	for i, st := range []store.Store{a, b} {
		srv, err := server.New(server.Config{Store: st, Keyring: keys, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := srv.Close(context.Background()); err != nil {
				t.Errorf("closing server %d: %v", i, err)
			}
		})
		if i == 0 {
			if _, err := srv.Bootstrap(t.Context(), adminSecret); err != nil {
				t.Fatal(err)
			}
		}
		hs := httptest.NewServer(srv.Handler())
		t.Cleanup(hs.Close)
		out[i] = cacheInstance{srv: srv, url: hs.URL}
		out[i].admin = out[i].client(t, adminSecret)
	}
	return out[0], out[1]
}

// expectHit introspects secret on in through c and fails unless the answer is active and came
// from in's cache (its hit count grew).
func expectHit(t *testing.T, in cacheInstance, c *client.Client, secret, what string) {
	t.Helper()
	before := in.srv.IntrospectionCacheStats().Hits
	got, err := c.Introspect(t.Context(), secret)
	if err != nil || !got.Active {
		t.Fatalf("%s: active %v, %v; want active", what, got.Active, err)
	}
	if in.srv.IntrospectionCacheStats().Hits != before+1 {
		t.Fatalf("%s: not answered from the cache (%+v): the test would not prove what it claims", what, in.srv.IntrospectionCacheStats())
	}
}

// expect401 fails unless err is a 401 answer.
func expect401(t *testing.T, err error, what string) {
	t.Helper()
	var re *client.ResponseError
	if !errors.As(err, &re) || re.StatusCode != 401 {
		t.Fatalf("%s = %v; want 401", what, err)
	}
}

// runCacheAcrossInstances proves that instance B's cache never outlives a change made
// through instance A: B reads a token with a credential until both are kept (the second
// introspection is a cache hit), then A revokes the token, rotates the credential without
// overlap, revokes a second credential; B's very next request sees each change.
func runCacheAcrossInstances(t *testing.T, a, b store.Store) {
	ctx := t.Context()
	A, B := startCachePair(t, a, b)
	gateway, err := A.admin.CreateCredential(ctx, wire.CreateCredentialRequest{Name: "gateway"}, "")
	if err != nil {
		t.Fatal(err)
	}
	onB := B.client(t, gateway.Secret)
	const rounds = 5
	for i := range rounds {
		tok, err := A.admin.CreateToken(ctx, compliantRequest(fmt.Sprintf("cached-%d", i)), "")
		if err != nil {
			t.Fatal(err)
		}
		if got, err := onB.Introspect(ctx, tok.Secret); err != nil || !got.Active {
			t.Fatalf("round %d: first introspection on B: active %v, %v", i, got.Active, err)
		}
		expectHit(t, B, onB, tok.Secret, fmt.Sprintf("round %d: second introspection on B", i))
		if _, err := A.admin.RevokeToken(ctx, tok.ID); err != nil {
			t.Fatal(err)
		}
		if got, err := onB.Introspect(ctx, tok.Secret); err != nil || got.Active {
			t.Fatalf("round %d: B's next introspection after the revocation through A: active %v, %v; want inactive", i, got.Active, err)
		}
	}

	tok, err := A.admin.CreateToken(ctx, compliantRequest("cached-credential"), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := onB.Introspect(ctx, tok.Secret); err != nil {
		t.Fatal(err)
	}
	expectHit(t, B, onB, tok.Secret, "introspection on B before the credential's rotation")
	rotated, err := A.admin.RotateCredential(ctx, gateway.ID, wire.RotateCredentialRequest{Overlap: "0s"}, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = onB.Introspect(ctx, tok.Secret)
	expect401(t, err, "B's next introspection with the credential's old secret after its rotation through A without overlap")
	onBRotated := B.client(t, rotated.Secret)
	if got, err := onBRotated.Introspect(ctx, tok.Secret); err != nil || !got.Active {
		t.Fatalf("B with the rotated credential's new secret: active %v, %v; want active", got.Active, err)
	}
	expectHit(t, B, onBRotated, tok.Secret, "introspection on B with the new secret, before the credential's revocation")
	if _, err := A.admin.RevokeCredential(ctx, gateway.ID); err != nil {
		t.Fatal(err)
	}
	_, err = onBRotated.Introspect(ctx, tok.Secret)
	expect401(t, err, "B's next introspection with a credential revoked through A")
}

// TestIntrospectionCache_twoServicesOnOneSQLiteFile: two services, each with a store of its
// own on one SQLite file (they share its write lock): see runCacheAcrossInstances.
func TestIntrospectionCache_twoServicesOnOneSQLiteFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.db")
	open := func() store.Store {
		st, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		return st
	}
	runCacheAcrossInstances(t, open(), open())
}

// TestIntrospectionCache_twoServicesOnOnePostgreSQLSchema: runCacheAcrossInstances on two
// PostgreSQL stores of one schema (TOKENGUARD_TEST_POSTGRES_URL; skipped without it, failing
// under TOKENGUARD_REQUIRE_POSTGRES=1).
func TestIntrospectionCache_twoServicesOnOnePostgreSQLSchema(t *testing.T) {
	u := postgresSchema(t, testenv.PostgresURL(t))
	runCacheAcrossInstances(t, openPostgresOn(t, u), openPostgresOn(t, u))
}

// TestIntrospectionCache_seesARevocationMadeInPlainSQL: a service answers a token from its
// cache (checked by its hit count); someone then revokes the token with plain SQL on the
// database file, and later the credential: the very next introspection after each answers
// inactive, then 401.
func TestIntrospectionCache_seesARevocationMadeInPlainSQL(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "direct.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	rs := startRaceService(t, st, "gateway")
	raw, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = raw.Close() })
	in := cacheInstance{srv: rs.srv}
	tok, err := rs.admin.CreateToken(ctx, compliantRequest("direct-sql"), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rs.ic.Introspect(ctx, tok.Secret); err != nil {
		t.Fatal(err)
	}
	expectHit(t, in, rs.ic, tok.Secret, "second introspection before the revocation in SQL")
	if _, err := raw.ExecContext(ctx, "UPDATE tokens SET status = 'revoked', revoked_at = '2000-01-01T00:00:00.000000000Z' WHERE id = ?", tok.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := rs.ic.Introspect(ctx, tok.Secret); err != nil || got.Active {
		t.Fatalf("next introspection after UPDATE tokens SET status = 'revoked' by hand: active %v, %v; want inactive", got.Active, err)
	}
	other, err := rs.admin.CreateToken(ctx, compliantRequest("direct-sql-2"), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rs.ic.Introspect(ctx, other.Secret); err != nil {
		t.Fatal(err)
	}
	expectHit(t, in, rs.ic, other.Secret, "second introspection before the credential's revocation in SQL")
	if _, err := raw.ExecContext(ctx, "UPDATE credentials SET revoked_at = '2000-01-01T00:00:00.000000000Z' WHERE name = 'gateway'"); err != nil {
		t.Fatal(err)
	}
	_, err = rs.ic.Introspect(ctx, other.Secret)
	expect401(t, err, "next introspection with a credential revoked by hand in SQL")
}

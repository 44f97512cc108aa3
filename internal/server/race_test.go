package server_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/keyring"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store/sqlite"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// storeFactory opens an empty store for a test and registers its closing with t.Cleanup.
type storeFactory func(t *testing.T) store.Store

func openSQLite(t *testing.T) store.Store {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "race.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// revocationTrials is how many tokens the race test revokes under fire: 50 in the default
// run, 1,000 with TOKENGUARD_SOAK=1 (make soak).
func revocationTrials() int {
	if os.Getenv("TOKENGUARD_SOAK") != "" {
		return 1000
	}
	return 50
}

// TestRevocationRace_SQLite: see runRevocationRace. TestRevocationRace_PostgreSQL
// (race_postgres_test.go) runs the same on the PostgreSQL store.
func TestRevocationRace_SQLite(t *testing.T) {
	runRevocationRace(t, openSQLite, revocationTrials())
}

// raceService is a service on st behind a loopback HTTP server, with an admin client and
// a client holding an introspect-only credential named credName; the server is closed, and
// its pending verification records written, before st's own cleanup runs.
type raceService struct {
	srv       *server.Server
	keys      *keyring.Keyring
	admin, ic *client.Client
}

func startRaceService(t *testing.T, st store.Store, credName string) raceService {
	t.Helper()
	ctx := context.Background()
	keys, err := keyring.New()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Store: st, Keyring: keys, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	// Registered after the store's cleanup, so it runs before it: the pending verification
	// records are written while the store is open.
	t.Cleanup(func() {
		if err := srv.Close(context.Background()); err != nil {
			t.Errorf("closing the server: %v", err)
		}
	})
	const adminSecret = "tgc_race-test-admin-credential-0123456789abcdef" //nolint:gosec // G101: a test service's credential
	if _, err := srv.Bootstrap(ctx, adminSecret); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	admin, err := client.New(client.Config{Endpoint: hs.URL, Token: adminSecret, RetryMax: -1})
	if err != nil {
		t.Fatal(err)
	}
	cred, err := admin.CreateCredential(ctx, wire.CreateCredentialRequest{Name: credName}, "")
	if err != nil {
		t.Fatal(err)
	}
	ic, err := client.New(client.Config{Endpoint: hs.URL, Token: cred.Secret, RetryMax: -1})
	if err != nil {
		t.Fatal(err)
	}
	return raceService{srv: srv, keys: keys, admin: admin, ic: ic}
}

// runRevocationRace checks "revocation is instant" under concurrency: for each trial, a
// fresh token is introspected by several goroutines in a loop; once some of them have seen it
// active, it is revoked through the API. Every introspection is stamped with a sequence number
// when it starts, and the revoke with one when it returns; an introspection that started
// after the revoke returned must answer inactive. Across all trials that count must be zero.
// The test also requires each trial to have seen the token active before the revoke and
// several introspections after it, so it cannot pass without exercising the race.
func runRevocationRace(t *testing.T, open storeFactory, trials int) {
	ctx := context.Background()
	rs := startRaceService(t, open(t), "race-introspector")
	admin, ic := rs.admin, rs.ic

	const introspectors = 4
	const afterEach = 3 // introspections each goroutine starts after the revoke returned
	var total, afterRevoke, activeAfter int64
	for trial := range trials {
		tok, err := admin.CreateToken(ctx, compliantRequest(fmt.Sprintf("race-%d", trial)), "")
		if err != nil {
			t.Fatal(err)
		}
		var seq atomic.Int64
		var revokedAt atomic.Int64 // sequence number taken after RevokeToken returned; 0 before
		var activeBefore, after, badAfter atomic.Int64
		var seen sync.WaitGroup // done once every goroutine has seen the token active once
		seen.Add(introspectors)
		errs := make(chan error, introspectors)
		var wg sync.WaitGroup
		for range introspectors {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sawActive, myAfter := false, 0
				defer func() {
					if !sawActive {
						seen.Done()
					}
				}()
				for myAfter < afterEach {
					start := seq.Add(1)
					in, err := ic.Introspect(ctx, tok.Secret)
					if err != nil {
						errs <- err
						return
					}
					r := revokedAt.Load()
					switch {
					case r != 0 && start > r:
						myAfter++
						after.Add(1)
						if in.Active {
							badAfter.Add(1)
						}
					case in.Active:
						activeBefore.Add(1)
						if !sawActive {
							sawActive = true
							seen.Done()
						}
					}
				}
			}()
		}
		seen.Wait()
		if _, err := admin.RevokeToken(ctx, tok.ID); err != nil {
			t.Fatal(err)
		}
		revokedAt.Store(seq.Add(1))
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("trial %d: introspection failed: %v", trial, err)
		}
		if activeBefore.Load() == 0 || after.Load() != introspectors*afterEach {
			t.Fatalf("trial %d did not exercise the race: %d active before, %d after the revoke", trial, activeBefore.Load(), after.Load())
		}
		if badAfter.Load() != 0 {
			t.Fatalf("trial %d: %d introspections started after the revoke returned answered active", trial, badAfter.Load())
		}
		total += seq.Load() - 1
		afterRevoke += after.Load()
		activeAfter += badAfter.Load()
	}
	t.Logf("%d trials, %d introspections, %d started after the revoke returned, %d of them active", trials, total, afterRevoke, activeAfter)
}

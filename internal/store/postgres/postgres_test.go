package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store/storetest"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/testenv"
)

// The tests run against the server named by TOKENGUARD_TEST_POSTGRES_URL. Each run creates
// its own database there (random name, dropped when the run ends), and every store a test
// opens gets a fresh schema in it, selected with the search_path URL parameter.
const urlEnv = testenv.PostgresURLEnv

// testDB is the database of this test run, created on first use.
var testDB struct {
	once      sync.Once
	serverURL string // TOKENGUARD_TEST_POSTGRES_URL
	name      string // the run's database
	url       string // serverURL with the run's database
	err       error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if err := dropTestDatabase(); err != nil {
		fmt.Fprintf(os.Stderr, "dropping test database %s: %v\n", testDB.name, err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// runDatabaseURL returns the URL of this run's database, creating it on first use. Without
// TOKENGUARD_TEST_POSTGRES_URL the test is skipped, or fails when
// TOKENGUARD_REQUIRE_POSTGRES=1 (CI), so that a missing server cannot pass as green.
func runDatabaseURL(t *testing.T) string {
	t.Helper()
	serverURL := testenv.PostgresURL(t)
	testDB.once.Do(func() { testDB.err = createTestDatabase(serverURL) })
	if testDB.err != nil {
		t.Fatalf("creating the test database on the server of %s: %v", urlEnv, testDB.err)
	}
	return testDB.url
}

// randomName returns prefix and 16 random hex digits: a valid unquoted identifier.
func randomName(prefix string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return prefix + hex.EncodeToString(b)
}

// withParams returns raw with its database path and query parameters replaced or added.
func withParams(raw, database string, params map[string]string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("%s must be a postgres:// URL", urlEnv)
	}
	if database != "" {
		u.Path = "/" + database
	}
	q := u.Query()
	for k, v := range params {
		q.Set(k, v)
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// createTestDatabase creates the run's database. It asks for an ICU en-US collation, under
// which "tok_a" sorts before "tok_B", so that the suite proves ids are ordered by bytes
// (COLLATE "C") and not by the database default; servers without ICU get their default.
func createTestDatabase(serverURL string) (err error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, conn.Close(ctx)) }()
	name := randomName("tokenguard_test_")
	ident := pgx.Identifier{name}.Sanitize()
	// ident is quoted by pgx.Identifier.Sanitize: the concatenations below are safe.
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident+" TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"); err != nil { //nolint:gosec // quoted identifier
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident); err != nil { //nolint:gosec // quoted identifier
			return err
		}
	}
	testDB.serverURL, testDB.name = serverURL, name
	testDB.url, err = withParams(serverURL, name, nil)
	return err
}

func dropTestDatabase() (err error) {
	if testDB.name == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, testDB.serverURL)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, conn.Close(ctx)) }()
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{testDB.name}.Sanitize()+" WITH (FORCE)") //nolint:gosec // quoted identifier
	return err
}

// freshSchemaURL creates an empty schema in the run's database and returns a URL whose
// search_path selects it.
func freshSchemaURL(t *testing.T) string {
	t.Helper()
	dbURL := runDatabaseURL(t)
	schema := randomName("s_")
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatalf("connecting to the test database: %v", err)
	}
	defer func() {
		if err := conn.Close(context.WithoutCancel(t.Context())); err != nil {
			t.Errorf("closing the set-up connection: %v", err)
		}
	}()
	if _, err := conn.Exec(t.Context(), "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil { //nolint:gosec // quoted identifier
		t.Fatalf("creating schema: %v", err)
	}
	u, err := withParams(dbURL, "", map[string]string{"search_path": schema})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// openStore opens a Store on u and closes it when the test ends.
func openStore(t *testing.T, u string) *Store {
	t.Helper()
	s, err := Open(t.Context(), u)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// factory opens each store on a fresh schema, and remembers its URL for Reopen.
type factory struct {
	mu   sync.Mutex
	urls map[store.Store]string
}

func (f *factory) Open(t *testing.T) store.Store {
	u := freshSchemaURL(t)
	s := openStore(t, u)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.urls[s] = u
	return s
}

func (f *factory) Reopen(t *testing.T, s store.Store) store.Store {
	f.mu.Lock()
	u, ok := f.urls[s]
	f.mu.Unlock()
	if !ok {
		t.Fatal("Reopen of a store this factory did not open")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s2 := openStore(t, u)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.urls[s2] = u
	return s2
}

func TestStore_passesConformanceSuite(t *testing.T) {
	runDatabaseURL(t)
	storetest.Run(t, &factory{urls: map[store.Store]string{}})
}

func plainToken(id, owner, name string) store.Token {
	base := time.Date(2026, 11, 27, 10, 0, 0, 123456000, time.UTC)
	return store.Token{
		ID: id, Name: name, OwnerIndex: owner, Purpose: "Reads order history for the support console",
		Scopes: []string{"orders:read"}, DataCategories: []string{"commercial"}, Env: "live",
		Status: store.StatusActive, CreatedAt: base, UpdatedAt: base, ExpiresAt: base.Add(24 * time.Hour),
		SecretVersion: 1, SecretHash: []byte("hash of " + id), HashKeyID: "hk-1", Fingerprint: "fp-" + id,
	}
}

func mustUpdate(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.Update(t.Context(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// readChain reads the whole audit log through s and verifies it.
func readChain(t *testing.T, s store.Store) []audit.Record {
	t.Helper()
	var all []audit.Record
	err := s.View(t.Context(), func(r store.Reader) error {
		for after := int64(0); ; {
			page, err := r.ListAudit(t.Context(), after, 1000)
			if err != nil || len(page) == 0 {
				return err
			}
			all = append(all, page...)
			after = page[len(page)-1].Seq
		}
	})
	if err != nil {
		t.Fatalf("reading the audit log: %v", err)
	}
	var v audit.Verifier
	for _, rec := range all {
		if err := v.Add(rec); err != nil {
			t.Fatalf("audit chain does not verify: %v", err)
		}
	}
	return all
}

// Two Stores stand for two service instances: each has its own pool, and the only thing
// they share is the database.
func TestStore_twoInstancesAppendingConcurrentlyKeepOneChain(t *testing.T) {
	u := freshSchemaURL(t)
	instances := []*Store{openStore(t, u), openStore(t, u)}
	const writersEach, updatesEach, recordsPerUpdate = 4, 15, 3
	errs := make(chan error, len(instances)*writersEach*updatesEach)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, s := range instances {
		for w := range writersEach {
			wg.Go(func() {
				<-start
				for n := range updatesEach {
					who := fmt.Sprintf("instance%d-writer%d-update%02d", i, w, n)
					errs <- s.Update(t.Context(), func(tx store.Tx) error {
						for part := range recordsPerUpdate {
							ev := audit.Event{Time: time.Now(), Actor: "cred_" + who, Action: audit.ActionIntrospect,
								Outcome: "ok", Details: map[string]string{"who": who, "part": fmt.Sprint(part)}}
							if _, err := tx.AppendAudit(t.Context(), ev); err != nil {
								return err
							}
						}
						return nil
					})
				}
			})
		}
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Update: %v", err)
		}
	}
	all := readChain(t, instances[1])
	if want := len(instances) * writersEach * updatesEach * recordsPerUpdate; len(all) != want {
		t.Fatalf("audit log has %d records, want %d", len(all), want)
	}
	seen := map[string]bool{}
	for i := 0; i < len(all); i += recordsPerUpdate {
		who := all[i].Details["who"]
		if seen[who] {
			t.Fatalf("records of %s appear in two places: transactions interleaved", who)
		}
		seen[who] = true
		for part := range recordsPerUpdate {
			if rec := all[i+part]; rec.Details["who"] != who || rec.Details["part"] != fmt.Sprint(part) {
				t.Fatalf("record %d is part %s of %s, want part %d of %s: transactions interleaved",
					rec.Seq, rec.Details["part"], rec.Details["who"], part, who)
			}
		}
	}
	// The next append, from either instance, chains to the last record.
	var next audit.Record
	mustUpdate(t, instances[0], func(tx store.Tx) (err error) {
		next, err = tx.AppendAudit(t.Context(), audit.Event{Time: time.Now(), Actor: "cred_admin", Action: audit.ActionRevoke, Outcome: "ok"})
		return err
	})
	if last := all[len(all)-1]; next.Seq != last.Seq+1 || next.PrevHash != last.Hash {
		t.Errorf("next record = seq %d prev %s, want seq %d chained to %s", next.Seq, next.PrevHash, last.Seq+1, last.Hash)
	}
}

func TestStore_twoInstancesRacingOneIdempotencyKeyExactlyOneWins(t *testing.T) {
	u := freshSchemaURL(t)
	instances := []*Store{openStore(t, u), openStore(t, u)}
	for round := range 20 {
		key := fmt.Sprintf("cred_admin POST /v1/tokens race-%d", round)
		start := make(chan struct{})
		results := make([]error, len(instances))
		var wg sync.WaitGroup
		for i, s := range instances {
			wg.Go(func() {
				<-start
				rec := store.Idempotency{Key: key, RequestHash: []byte(fmt.Sprint(i)), Status: 201,
					Response: []byte(fmt.Sprintf("response of instance %d", i)), CreatedAt: time.Now()}
				results[i] = s.Update(t.Context(), func(tx store.Tx) error {
					// The service also mints and stores a token in this transaction: a loser
					// must keep nothing of it.
					if err := tx.InsertToken(t.Context(), plainToken(fmt.Sprintf("tok_r%d_i%d", round, i), "owner", fmt.Sprintf("r%d-i%d", round, i))); err != nil {
						return err
					}
					return tx.PutIdempotency(t.Context(), rec)
				})
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range results {
			switch {
			case err == nil && winner < 0:
				winner = i
			case err == nil:
				t.Fatalf("round %d: both instances stored key %q", round, key)
			case !errors.Is(err, store.ErrConflict):
				t.Fatalf("round %d: instance %d: error = %v, want nil or store.ErrConflict", round, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: neither instance stored the key: %v", round, results)
		}
		err := instances[1-winner].View(t.Context(), func(r store.Reader) error {
			got, err := r.GetIdempotency(t.Context(), key)
			if err != nil {
				return err
			}
			if want := fmt.Sprintf("response of instance %d", winner); string(got.Response) != want {
				t.Errorf("round %d: stored response %q, want the winner's %q", round, got.Response, want)
			}
			if _, err := r.GetToken(t.Context(), fmt.Sprintf("tok_r%d_i%d", round, 1-winner)); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("round %d: the losing transaction's token: GetToken error = %v, want store.ErrNotFound", round, err)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("round %d: View: %v", round, err)
		}
	}
}

func countMigrations(t *testing.T, s *Store) int {
	t.Helper()
	var n int
	if err := s.read.QueryRow(t.Context(), "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil {
		t.Fatalf("counting schema_migrations: %v", err)
	}
	return n
}

func TestMigrate_isIdempotent(t *testing.T) {
	migrations, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	s := openStore(t, freshSchemaURL(t))
	for i := range 2 {
		applied, err := migrate(t.Context(), s.write)
		if err != nil {
			t.Fatalf("migrate again (%d): %v", i+1, err)
		}
		if applied != 0 {
			t.Errorf("migrate on an up-to-date database applied %d migrations, want 0", applied)
		}
	}
	if n := countMigrations(t, s); n != len(migrations) {
		t.Errorf("schema_migrations has %d rows, want %d", n, len(migrations))
	}
}

// Several instances starting at once on an empty database: the advisory lock lets one
// apply the migrations; the others wait, then find nothing to do.
func TestMigrate_concurrentStartsApplyEachMigrationOnce(t *testing.T) {
	migrations, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	u := freshSchemaURL(t)
	const instances = 4
	pools := make([]*Store, instances)
	for i := range pools {
		// A Store without migrations: only its pool is used here.
		s, err := openPoolOnly(t, u)
		if err != nil {
			t.Fatal(err)
		}
		pools[i] = s
	}
	applied := make([]int, instances)
	errs := make([]error, instances)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, s := range pools {
		wg.Go(func() {
			<-start
			applied[i], errs[i] = migrate(t.Context(), s.write)
		})
	}
	close(start)
	wg.Wait()
	total := 0
	for i := range pools {
		if errs[i] != nil {
			t.Errorf("instance %d: migrate: %v", i, errs[i])
		}
		total += applied[i]
	}
	if total != len(migrations) {
		t.Errorf("instances applied %v migrations in all, want %d in all", applied, len(migrations))
	}
	if n := countMigrations(t, pools[0]); n != len(migrations) {
		t.Errorf("schema_migrations has %d rows, want %d", n, len(migrations))
	}
	// Opening now (which migrates) works and the store is usable.
	s := openStore(t, u)
	mustUpdate(t, s, func(tx store.Tx) error { return tx.InsertToken(t.Context(), plainToken("tok_a", "o", "a")) })
}

// schemaMigratedBefore creates a fresh schema holding every migration before version, as a
// service of that release left it, and returns its URL and a pool on it that does not migrate.
func schemaMigratedBefore(t *testing.T, version int) (string, *Store) {
	t.Helper()
	ctx := t.Context()
	migrations, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	u := freshSchemaURL(t)
	old, err := openPoolOnly(t, u)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.write.Exec(ctx, `CREATE TABLE schema_migrations (version integer NOT NULL PRIMARY KEY,
		name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		t.Fatal(err)
	}
	for _, m := range migrations {
		if m.Version >= version {
			break
		}
		if _, err := old.write.Exec(ctx, m.SQL); err != nil {
			t.Fatalf("applying %s: %v", m.Name, err)
		}
		if _, err := old.write.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.Version, m.Name); err != nil {
			t.Fatal(err)
		}
	}
	return u, old
}

// openPoolOnly connects without migrating.
func openPoolOnly(t *testing.T, u string) (*Store, error) {
	t.Helper()
	s, err := connect(t.Context(), u)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, nil
}

func TestOpen_refusesASchemaVersionItDoesNotKnow(t *testing.T) {
	u := freshSchemaURL(t)
	s := openStore(t, u)
	if _, err := s.write.Exec(t.Context(), "INSERT INTO schema_migrations (version, name) VALUES (9999, '9999_future.sql')"); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(t.Context(), u)
	if err == nil {
		_ = s2.Close() // the test already fails: only release the store
		t.Fatal("Open of a database with an unknown schema version succeeded, want an error")
	}
	if !strings.Contains(err.Error(), "9999") || !strings.Contains(err.Error(), "newer tokenguard") {
		t.Errorf("error %q does not name the unknown version and what to do", err)
	}
}

func TestOpen_refusesSynchronousCommitOff(t *testing.T) {
	u, err := withParams(freshSchemaURL(t), "", map[string]string{"synchronous_commit": "off"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.Context(), u)
	if err == nil {
		_ = s.Close() // the test already fails: only release the store
		t.Fatal("Open with synchronous_commit=off succeeded, want an error")
	}
	if !strings.Contains(err.Error(), "synchronous_commit") {
		t.Errorf("error %q does not name synchronous_commit", err)
	}
}

// These need no server: the URL does not parse, or nothing listens on its port.
func TestOpen_errorsNeverShowThePassword(t *testing.T) {
	const password = "s3cret-Pw"
	urls := []string{
		"postgres://alice:" + password + "@127.0.0.1:notaport/db",
		"postgres://alice:" + password + "@127.0.0.1:5432/db?sslmode=bogus",
		"postgres://alice@127.0.0.1:5432/db?password=" + password + "&sslmode=bogus",
		"host=127.0.0.1 password=" + password + " sslmode=bogus",
		"postgres://alice:" + password + "@127.0.0.1:1/db?connect_timeout=5", // refused: nothing listens on port 1
		"://alice:" + password + "@",
	}
	for i, u := range urls {
		s, err := Open(t.Context(), u)
		if err == nil {
			_ = s.Close() // the test already fails: only release the store
			t.Errorf("Open succeeded, want an error (URL %d)", i)
			continue
		}
		if strings.Contains(err.Error(), password) {
			t.Errorf("Open error shows the password: %v", err)
		} else {
			t.Logf("URL %d: %v", i, err)
		}
	}
}

// After a conflict, fn may go on: PostgreSQL aborts a transaction on a failed statement,
// and the store must not let that happen for the conflicts it reports.
func TestUpdate_conflictsLeaveTheTransactionUsable(t *testing.T) {
	s := openStore(t, freshSchemaURL(t))
	ctx := t.Context()
	cred := store.Credential{ID: "cred_a", Name: "a", SecretHash: []byte("cred hash"), Rights: []string{"admin"}, CreatedAt: time.Now()}
	idem := store.Idempotency{Key: "k", RequestHash: []byte("body"), Status: 201, Response: []byte("first"), CreatedAt: time.Now()}
	mustUpdate(t, s, func(tx store.Tx) error {
		for _, tok := range []store.Token{plainToken("tok_a", "o", "alpha"), plainToken("tok_b", "o", "beta")} {
			if err := tx.InsertToken(ctx, tok); err != nil {
				return err
			}
		}
		if err := tx.InsertCredential(ctx, cred); err != nil {
			return err
		}
		return tx.PutIdempotency(ctx, idem)
	})
	mustUpdate(t, s, func(tx store.Tx) error {
		conflicts := map[string]error{
			"InsertToken":      tx.InsertToken(ctx, plainToken("tok_a", "o", "other")),
			"UpdateToken":      tx.UpdateToken(ctx, plainToken("tok_b", "o", "alpha")),
			"InsertCredential": tx.InsertCredential(ctx, cred),
			"PutIdempotency":   tx.PutIdempotency(ctx, idem),
		}
		for name, err := range conflicts {
			if !errors.Is(err, store.ErrConflict) {
				t.Errorf("%s: error = %v, want store.ErrConflict", name, err)
			}
		}
		if err := tx.UpdateToken(ctx, plainToken("tok_missing", "o", "gamma")); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("UpdateToken of a missing token: error = %v, want store.ErrNotFound", err)
		}
		// The service's retry path: read the first result, and go on writing.
		if got, err := tx.GetIdempotency(ctx, idem.Key); err != nil || string(got.Response) != "first" {
			t.Errorf("GetIdempotency after a conflict = %q, %v", got.Response, err)
		}
		if err := tx.InsertToken(ctx, plainToken("tok_c", "o", "gamma")); err != nil {
			return err
		}
		_, err := tx.AppendAudit(ctx, audit.Event{Time: time.Now(), Actor: "cred_a", Action: audit.ActionCreate, TokenID: "tok_c", Outcome: "ok"})
		return err
	})
	err := s.View(ctx, func(r store.Reader) error {
		if _, err := r.GetToken(ctx, "tok_c"); err != nil {
			t.Errorf("token written after the conflicts was not committed: %v", err)
		}
		if got, err := r.GetToken(ctx, "tok_b"); err != nil || got.Name != "beta" {
			t.Errorf("tok_b after a conflicting update = %q, %v; want it unchanged", got.Name, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(readChain(t, s)); n != 1 {
		t.Errorf("audit log has %d records, want 1", n)
	}
}

// timestamptz keeps microseconds: finer instants are truncated (not rounded, so an instant
// never moves later: an expiry never extends), and come back in UTC.
func TestStore_instantsAreTruncatedToTheMicrosecond(t *testing.T) {
	s := openStore(t, freshSchemaURL(t))
	zone := time.FixedZone("UTC-03:00", -3*3600)
	written := time.Date(2026, 11, 27, 10, 0, 0, 123456999, zone)
	want := time.Date(2026, 11, 27, 13, 0, 0, 123456000, time.UTC)
	tok := plainToken("tok_a", "o", "alpha")
	tok.CreatedAt, tok.ExpiresAt, tok.LastUsedAt = written, written, &written
	mustUpdate(t, s, func(tx store.Tx) error { return tx.InsertToken(t.Context(), tok) })
	err := s.View(t.Context(), func(r store.Reader) error {
		got, err := r.GetToken(t.Context(), tok.ID)
		if err != nil {
			return err
		}
		for name, v := range map[string]time.Time{"CreatedAt": got.CreatedAt, "ExpiresAt": got.ExpiresAt, "LastUsedAt": *got.LastUsedAt} {
			if v != want {
				t.Errorf("%s = %s (%s), want exactly %s in UTC", name, v.Format(time.RFC3339Nano), v.Location(), want.Format(time.RFC3339Nano))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The test database has an ICU en-US default collation where possible, under which
// "tok_a" < "tok_B"; ids must still come back in byte order.
func TestListTokens_ordersIDsByBytesWhateverTheDatabaseCollation(t *testing.T) {
	s := openStore(t, freshSchemaURL(t))
	var defaultIsBytewise bool
	if err := s.read.QueryRow(t.Context(), "SELECT 'tok_B' < 'tok_a'").Scan(&defaultIsBytewise); err != nil {
		t.Fatal(err)
	}
	if defaultIsBytewise {
		t.Log("the test database's default collation is byte order: only the column check below can catch a missing COLLATE \"C\"")
	}
	var collation string
	if err := s.read.QueryRow(t.Context(),
		`SELECT coalesce(collation_name, '') FROM information_schema.columns
		 WHERE table_schema = current_schema() AND table_name = 'tokens' AND column_name = 'id'`).Scan(&collation); err != nil {
		t.Fatal(err)
	}
	if collation != "C" {
		t.Errorf("tokens.id has collation %q, want \"C\"", collation)
	}
	ids := []string{"tok_b", "tok_B", "tok_a", "tok_-", "tok_A", "tok_~", "tok_0"}
	mustUpdate(t, s, func(tx store.Tx) error {
		for i, id := range ids {
			if err := tx.InsertToken(t.Context(), plainToken(id, "o", fmt.Sprint(i))); err != nil {
				return err
			}
		}
		return nil
	})
	want := slices.Clone(ids)
	slices.Sort(want) // Go compares strings bytewise
	var got, paged []string
	err := s.View(t.Context(), func(r store.Reader) error {
		toks, err := r.ListTokens(t.Context(), store.TokenFilter{})
		for _, tok := range toks {
			got = append(got, tok.ID)
		}
		after := ""
		for err == nil {
			var page []store.Token
			page, err = r.ListTokens(t.Context(), store.TokenFilter{Limit: 2, AfterID: after})
			if len(page) == 0 {
				break
			}
			for _, tok := range page {
				paged = append(paged, tok.ID)
			}
			after = page[len(page)-1].ID
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("ListTokens = %v, want byte order %v", got, want)
	}
	if !slices.Equal(paged, want) {
		t.Errorf("paging with AfterID = %v, want byte order %v", paged, want)
	}
}

func TestView_cannotWrite(t *testing.T) {
	s := openStore(t, freshSchemaURL(t))
	err := s.View(t.Context(), func(r store.Reader) error {
		tx, ok := r.(store.Tx)
		if !ok {
			return nil // nothing to prove: the Reader has no write methods
		}
		return tx.InsertToken(t.Context(), plainToken("tok_a", "o", "alpha"))
	})
	if err == nil {
		t.Fatal("a write through View succeeded, want an error")
	}
	if _, err := getTokenErr(t, s, "tok_a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("token written through View: GetToken error = %v, want store.ErrNotFound", err)
	}
}

func getTokenErr(t *testing.T, s store.Store, id string) (store.Token, error) {
	t.Helper()
	var (
		tok    store.Token
		getErr error
	)
	if err := s.View(t.Context(), func(r store.Reader) error { tok, getErr = r.GetToken(t.Context(), id); return nil }); err != nil {
		t.Fatal(err)
	}
	return tok, getErr
}

// A writer waiting for the write lock gives up when its context ends, and the lock holder
// is unaffected.
func TestUpdate_waitingForTheWriteLockHonoursTheContext(t *testing.T) {
	u := freshSchemaURL(t)
	a, b := openStore(t, u), openStore(t, u)
	locked := make(chan struct{})
	release := make(chan struct{})
	releaseOnce := sync.OnceFunc(func() { close(release) })
	defer releaseOnce()
	holder := make(chan error, 1)
	go func() {
		holder <- a.Update(t.Context(), func(tx store.Tx) error {
			close(locked)
			<-release
			return tx.InsertToken(t.Context(), plainToken("tok_a", "o", "alpha"))
		})
	}()
	<-locked
	ctx, cancel := context.WithCancel(t.Context())
	waiter := make(chan error, 1)
	ran := false
	go func() {
		waiter <- b.Update(ctx, func(store.Tx) error { ran = true; return nil })
	}()
	// Wait until the waiter is blocked on the lock a holds, then cancel: that must end its
	// wait. The loop only waits for a state; it asserts nothing about time.
	for blocked := 0; blocked == 0; {
		select {
		case err := <-waiter:
			t.Fatalf("Update returned (%v) while another transaction held the write lock", err)
		default:
		}
		if err := a.read.QueryRow(t.Context(),
			`SELECT count(*) FROM pg_stat_activity
			 WHERE datname = current_database() AND cardinality(pg_blocking_pids(pid)) > 0`).Scan(&blocked); err != nil {
			t.Fatalf("reading pg_stat_activity: %v", err)
		}
		if blocked == 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	cancel()
	if err := <-waiter; err == nil {
		t.Error("Update whose context was cancelled while waiting for the lock returned nil")
	}
	if ran {
		t.Error("fn ran although Update never got the write lock")
	}
	releaseOnce()
	if err := <-holder; err != nil {
		t.Fatalf("lock holder: %v", err)
	}
	if _, err := getTokenErr(t, b, "tok_a"); err != nil {
		t.Errorf("lock holder's write: %v", err)
	}
}

// Writers queued behind the write lock must not take the connections reads need.
func TestView_isNotStarvedByWritersWaitingForTheLock(t *testing.T) {
	s := openStore(t, freshSchemaURL(t))
	ctx := t.Context()
	mustUpdate(t, s, func(tx store.Tx) error { return tx.InsertToken(ctx, plainToken("tok_a", "o", "alpha")) })
	locked := make(chan struct{})
	release := make(chan struct{})
	releaseOnce := sync.OnceFunc(func() { close(release) })
	defer releaseOnce()
	writers := 3 * int(s.read.Config().MaxConns) // more than every pool holds
	errs := make(chan error, writers+1)
	go func() {
		errs <- s.Update(ctx, func(store.Tx) error {
			close(locked)
			<-release
			return nil
		})
	}()
	<-locked
	for i := range writers {
		go func() {
			errs <- s.Update(ctx, func(tx store.Tx) error {
				return tx.InsertToken(ctx, plainToken(fmt.Sprintf("tok_w%02d", i), "o", fmt.Sprint(i)))
			})
		}()
	}
	// The deadline only keeps a starving implementation from hanging the test.
	viewCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for range 3 {
		err := s.View(viewCtx, func(r store.Reader) error {
			_, err := r.GetToken(viewCtx, "tok_a")
			return err
		})
		if err != nil {
			t.Fatalf("View while writers wait for the lock: %v (reads must not wait for writers)", err)
		}
	}
	releaseOnce()
	for range writers + 1 {
		if err := <-errs; err != nil {
			t.Errorf("Update: %v", err)
		}
	}
}

// ListIdempotency pages by key with key > $cursor: the key column must compare bytewise
// (migration 0003) whatever the database's default collation; the conformance suite checks
// the order, this the column, which is what catches it on a byte-order database.
func TestIdempotencyKey_hasByteOrderCollation(t *testing.T) {
	s := openStore(t, freshSchemaURL(t))
	var collation string
	if err := s.read.QueryRow(t.Context(),
		`SELECT coalesce(collation_name, '') FROM information_schema.columns
		 WHERE table_schema = current_schema() AND table_name = 'idempotency' AND column_name = 'key'`).Scan(&collation); err != nil {
		t.Fatal(err)
	}
	if collation != "C" {
		t.Errorf("idempotency.key has collation %q, want \"C\"", collation)
	}
}

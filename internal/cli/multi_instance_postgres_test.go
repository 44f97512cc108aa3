package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/keyring"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store/postgres"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/testenv"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// freshPostgresDatabase creates an empty database on the PostgreSQL server named by
// TOKENGUARD_TEST_POSTGRES_URL, drops it when the test ends (after the processes using it,
// whose cleanups run first), and returns its URL. Without the variable the test is skipped,
// or fails when TOKENGUARD_REQUIRE_POSTGRES=1 (CI), so a missing server cannot pass as green.
func freshPostgresDatabase(t *testing.T) string {
	t.Helper()
	serverURL := testenv.PostgresURL(t)
	u, err := url.Parse(serverURL)
	if err != nil {
		t.Fatal("TOKENGUARD_TEST_POSTGRES_URL is not a URL")
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "tg_multi_" + hex.EncodeToString(b)
	ident := pgx.Identifier{name}.Sanitize()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		t.Fatalf("connecting to TOKENGUARD_TEST_POSTGRES_URL: %v", err)
	}
	defer func() { _ = conn.Close(ctx) }()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident); err != nil { //nolint:gosec // quoted identifier
		t.Fatalf("creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if c, err := pgx.Connect(ctx, serverURL); err == nil {
			_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)") //nolint:gosec // quoted identifier
			_ = c.Close(ctx)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// twoInstances starts two "tokenguard serve" processes of bin on one fresh PostgreSQL
// database, sharing one key file, one after the other (the first applies the migrations,
// creates the key file and installs the admin credential). It returns the database URL.
func twoInstances(t *testing.T, bin string) (db string, a, b *serveProcess) {
	t.Helper()
	db = freshPostgresDatabase(t)
	t.Setenv("TOKENGUARD_KEY_FILE", filepath.Join(t.TempDir(), "tokenguard.key"))
	a = startServeProcess(t, bin, db)
	b = startServeProcess(t, bin, db)
	return db, a, b
}

// TestTwoInstancesOnPostgreSQL runs two real service processes (the binary is built once)
// on one PostgreSQL database per subtest: issue 7's "several instances on one database are
// correct", and admin rekey on PostgreSQL.
func TestTwoInstancesOnPostgreSQL(t *testing.T) {
	if os.Getenv("TOKENGUARD_TEST_POSTGRES_URL") == "" {
		freshPostgresDatabase(t) // skips, or fails under TOKENGUARD_REQUIRE_POSTGRES=1
	}
	bin := tokenguardBinary(t)
	t.Run("RevocationThroughOneHoldsOnTheOtherAtOnce", func(t *testing.T) { testRevocationAcrossInstances(t, bin) })
	t.Run("ConcurrentCreatesWithOneIdempotencyKeyYieldOneToken", func(t *testing.T) { testIdempotencyAcrossInstances(t, bin) })
	t.Run("AuditChainVerifiesAfterConcurrentLoadOnBoth", func(t *testing.T) { testAuditAcrossInstances(t, bin) })
	t.Run("AdminRekeyReencryptsEverySealedValue", func(t *testing.T) { testRekeyOnPostgreSQL(t, bin) })
	t.Run("AdminRekeyRefusesWhileInstancesHoldTheDatabase", func(t *testing.T) { testRekeyRefusedWhileInstancesRun(t, bin) })
}

func multiCreateRequest(name string) wire.CreateTokenRequest {
	return wire.CreateTokenRequest{Name: name, Owner: "team-multi", Purpose: "two service instances sharing one PostgreSQL database",
		Scopes: []string{"orders:read"}, DataCategories: []string{"commercial"}, TTL: "30d", Rotation: &wire.Rotation{Interval: "7d", Overlap: "1h"}}
}

// testRevocationAcrossInstances: no instance keeps anything a revocation could outlive
// (each keeps introspection reads only while the database's revision is unchanged). A token
// revoked through one instance is inactive on the other on the very next introspection, in
// both directions, although the other had read it (and kept the read) just before; a
// credential revoked through one is refused by the other on its very next request, also
// with a token whose read the other kept.
func testRevocationAcrossInstances(t *testing.T, bin string) {
	ctx := context.Background()
	_, a, b := twoInstances(t, bin)
	procs := []*serveProcess{a, b}
	const rounds = 10
	for i := range rounds {
		via, other := procs[i%2].client(t), procs[(i+1)%2].client(t)
		tok, err := via.CreateToken(ctx, multiCreateRequest(fmt.Sprintf("revoke-%d", i)), "")
		if err != nil {
			t.Fatal(err)
		}
		// The other instance sees it active first (so the next answer is not a miss).
		if in, err := other.Introspect(ctx, tok.Secret); err != nil || !in.Active || in.TokenID != tok.ID {
			t.Fatalf("round %d: the other instance before the revocation: active %v, %v; want active", i, in.Active, err)
		}
		if _, err := via.RevokeToken(ctx, tok.ID); err != nil {
			t.Fatal(err)
		}
		if in, err := other.Introspect(ctx, tok.Secret); err != nil || in.Active {
			t.Fatalf("round %d: the other instance's very next introspection after the revocation: active %v, %v; want inactive", i, in.Active, err)
		}
	}

	cred, err := a.client(t).CreateCredential(ctx, wire.CreateCredentialRequest{Name: "gateway"}, "")
	if err != nil {
		t.Fatal(err)
	}
	onB, err := client.New(client.Config{Endpoint: b.url, Token: cred.Secret, RetryMax: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := onB.Introspect(ctx, "tg_live_x"); err != nil {
		t.Fatalf("credential created through A, used on B: %v", err)
	}
	// B keeps the read of the credential with a real token (introspected twice, so the second
	// answer may come from B's cache); the revocation through A must still be seen at once.
	kept, err := a.client(t).CreateToken(ctx, multiCreateRequest("kept-by-b"), "")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if in, err := onB.Introspect(ctx, kept.Secret); err != nil || !in.Active {
			t.Fatalf("credential created through A, introspecting a token on B: active %v, %v", in.Active, err)
		}
	}
	if _, err := a.client(t).RevokeCredential(ctx, cred.ID); err != nil {
		t.Fatal(err)
	}
	var re *client.ResponseError
	if _, err = onB.Introspect(ctx, kept.Secret); !errors.As(err, &re) || re.StatusCode != 401 {
		t.Fatalf("credential revoked through A, B's next introspection of a token it had read = %v; want 401", err)
	}
	_, err = onB.Introspect(ctx, "tg_live_x")
	if !errors.As(err, &re) || re.StatusCode != 401 {
		t.Fatalf("credential revoked through A, next request on B = %v; want 401", err)
	}
}

// testIdempotencyAcrossInstances sends the
// same create with the same Idempotency-Key to both instances at once, many times: each pair
// answers the same token (one minted it, the other replayed it) and exactly one token exists
// per name.
func testIdempotencyAcrossInstances(t *testing.T, bin string) {
	ctx := context.Background()
	_, a, b := twoInstances(t, bin)
	clients := []*client.Client{a.client(t), b.client(t)}
	const rounds = 20
	for i := range rounds {
		key := fmt.Sprintf("multi-idem-%d", i)
		req := multiCreateRequest(fmt.Sprintf("idem-%d", i))
		var got [2]wire.Token
		var errs [2]error
		start := make(chan struct{})
		var wg sync.WaitGroup
		for j, c := range clients {
			wg.Go(func() {
				<-start
				got[j], errs[j] = c.CreateToken(ctx, req, key)
			})
		}
		close(start)
		wg.Wait()
		for j := range errs {
			if errs[j] != nil {
				t.Fatalf("round %d: create through instance %d: %v", i, j, errs[j])
			}
		}
		if got[0].ID != got[1].ID || got[0].Secret != got[1].Secret || got[0].ID == "" {
			t.Fatalf("round %d: the instances answered tokens %s and %s; want one token, the same secret", i, got[0].ID, got[1].ID)
		}
	}
	names := map[string]int{}
	for page := ""; ; {
		list, err := clients[1].ListTokens(ctx, wire.ListTokensOptions{Owner: "team-multi", Limit: 1000, PageToken: page})
		if err != nil {
			t.Fatal(err)
		}
		for _, tok := range list.Tokens {
			names[tok.Name]++
		}
		if page = list.NextPageToken; page == "" {
			break
		}
	}
	if len(names) != rounds {
		t.Fatalf("%d distinct token names, want %d", len(names), rounds)
	}
	for name, n := range names {
		if n != 1 {
			t.Fatalf("%d tokens named %s: concurrent creates with one key minted more than one", n, name)
		}
	}
}

// auditVerified runs "tokenguard audit verify" against a service and returns how many
// records it verified; it fails t unless the chain verifies.
func auditVerified(t *testing.T, bin string, p *serveProcess) int {
	t.Helper()
	cmd := exec.Command(bin, "audit", "verify", "--endpoint", p.url) //nolint:gosec // the binary this test built
	cmd.Env = append(os.Environ(), "TOKENGUARD_TOKEN="+crashAdminToken)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("audit verify through %s: %v\n%s", p.url, err, out)
	}
	m := regexp.MustCompile(`^audit chain verified: (\d+) records\nhead: record \d+, hash [0-9a-f]{64}\n$`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("audit verify output = %q", out)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// testAuditAcrossInstances runs creates,
// rotations and introspections concurrently through both instances, then runs "tokenguard
// audit verify" through each: the one chain verifies, and holds exactly one record per
// acknowledged operation (each is audited in its own transaction), whichever instance
// wrote it.
func testAuditAcrossInstances(t *testing.T, bin string) {
	ctx := context.Background()
	db, a, b := twoInstances(t, bin)
	before := auditVerified(t, bin, a)

	type held struct{ id, secret string }
	var mu sync.Mutex
	var tokens []held
	var acked, refused atomic.Int64
	const workersPerInstance, opsPerWorker = 3, 20
	errs := make(chan error, 2*workersPerInstance)
	var wg sync.WaitGroup
	for inst, p := range []*serveProcess{a, b} {
		c := p.client(t)
		for w := range workersPerInstance {
			wg.Go(func() {
				for i := range opsPerWorker {
					mu.Lock()
					n := len(tokens)
					var target held
					if n > 0 {
						target = tokens[(inst*7+w*3+i)%n]
					}
					mu.Unlock()
					var err error
					switch op := i % 3; {
					case op == 0 || n == 0: // create
						var tok wire.Token
						if tok, err = c.CreateToken(ctx, multiCreateRequest(fmt.Sprintf("load-%d-%d-%d", inst, w, i)), ""); err == nil {
							mu.Lock()
							tokens = append(tokens, held{tok.ID, tok.Secret})
							mu.Unlock()
						}
					case op == 1: // rotate
						_, err = c.RotateToken(ctx, target.id, wire.RotateRequest{}, "")
						// Inside the last rotation's overlap the service refuses (409, the token
						// unchanged, the refusal audited): a rotation keeps its word.
						var re *client.ResponseError
						if errors.As(err, &re) && re.StatusCode == http.StatusConflict && re.Code == "rotation_overlap_running" {
							refused.Add(1)
							continue
						}
					default: // introspect (active or not, every answer is audited)
						_, err = c.Introspect(ctx, target.secret)
					}
					if err != nil {
						errs <- fmt.Errorf("instance %d worker %d op %d: %w", inst, w, i, err)
						return
					}
					acked.Add(1)
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	want := before + int(acked.Load()+refused.Load()) // reading the audit log (verify) writes no record
	for _, p := range []*serveProcess{a, b} {
		if got := auditVerified(t, bin, p); got != want {
			t.Fatalf("audit verify through %s: %d records, want %d (%d before the load + %d acknowledged operations + %d refused rotations)",
				p.url, got, want, before, acked.Load(), refused.Load())
		}
	}
	// Offline, straight from the database (the PostgreSQL URL as --db): the same chain.
	cmd := exec.Command(bin, "audit", "verify", "--db", db) //nolint:gosec // the binary this test built
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("audit verify --db <postgres url>: %v\n%s", err, out)
	}
	if wantLine := fmt.Sprintf("audit chain verified: %d records\nhead: record %d, hash ", want, want); !strings.HasPrefix(string(out), wantLine) {
		t.Fatalf("audit verify --db <postgres url> = %q, want %q", out, wantLine)
	}
	t.Logf("%d operations acknowledged by two instances; one chain of %d records verified through each", acked.Load(), want)
}

// testRekeyOnPostgreSQL: "tokenguard admin rekey --new-key" on a PostgreSQL database (named
// by TOKENGUARD_DB) re-encrypts every sealed value under the new key in place, and a
// restarted service reads them all.
func testRekeyOnPostgreSQL(t *testing.T, bin string) {
	ctx := context.Background()
	db, a, b := twoInstances(t, bin)
	req := multiCreateRequest("rekeyed")
	req.DataSubjects = []string{"customer:77"}
	tok, err := a.client(t).CreateToken(ctx, req, "rekey-create")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.client(t).CreateDeletionRequest(ctx, wire.DeletionRequest{Subject: "customer:88", Reference: "TICKET-88"}, ""); err != nil {
		t.Fatal(err)
	}
	a.kill()
	b.kill()

	t.Setenv("TOKENGUARD_DB", db)
	code, out, errs := run(t, "", "admin", "rekey", "--new-key")
	if code != 0 {
		t.Fatalf("admin rekey = %d\n%s%s", code, out, errs)
	}
	// The token's owner and subjects, the responses of both requests (create and deletion
	// request, sent with Idempotency-Keys) and the deletion request's subject.
	if want := "1 tokens read, 2 personal-field values re-encrypted, 2 stored responses re-encrypted, 1 deletion-request subjects re-encrypted"; !strings.Contains(out, want) {
		t.Fatalf("admin rekey output = %q, want %q", out, want)
	}
	if strings.Contains(out+errs, "postgres://") {
		t.Fatalf("admin rekey printed the database URL: %q", out+errs)
	}
	keys, err := keyring.Load(os.Getenv("TOKENGUARD_KEY_FILE"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := postgres.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	sealed := map[string]int{}
	err = st.View(ctx, func(r store.Reader) error {
		toks, err := r.ListTokens(ctx, store.TokenFilter{})
		if err != nil {
			return err
		}
		recs, err := r.ListIdempotency(ctx, "", 0)
		if err != nil {
			return err
		}
		dels, err := r.ListDeletionRequests(ctx, "", 0)
		if err != nil {
			return err
		}
		var envelopes [][]byte
		for _, tk := range toks {
			envelopes = append(envelopes, tk.OwnerCipher, tk.SubjectsCipher)
		}
		for _, rec := range recs {
			envelopes = append(envelopes, rec.Response)
		}
		for _, d := range dels {
			envelopes = append(envelopes, d.SubjectCipher)
		}
		for _, env := range envelopes {
			id, err := keys.EnvelopeKeyID(env)
			if err != nil {
				return err
			}
			sealed[id]++
		}
		return nil
	})
	_ = st.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(sealed) != 1 || sealed[keys.KeyID()] != 5 {
		t.Fatalf("envelopes by key after rekey = %v, want all 5 under the new key %s", sealed, keys.KeyID())
	}

	c := startServeProcess(t, bin, db).client(t)
	if again, err := c.CreateToken(ctx, req, "rekey-create"); err != nil || again.ID != tok.ID || again.Secret != tok.Secret {
		t.Fatalf("replaying the create after rekey = %s, %v; want %s replayed", again.ID, err, tok.ID)
	}
	if got, err := c.GetToken(ctx, tok.ID); err != nil || got.Owner != req.Owner || len(got.DataSubjects) != 1 || got.DataSubjects[0] != "customer:77" {
		t.Fatalf("token after rekey = %+v, %v", got, err)
	}
	if subjects, err := c.ErasedSubjects(ctx); err != nil || len(subjects) != 1 || subjects[0] != "customer:88" {
		t.Fatalf("erased subjects after rekey = %v, %v; want [customer:88]", subjects, err)
	}
}

// TOKENGUARD_DB selects PostgreSQL as --db does; the URL is never echoed.
func TestServe_postgresURLFromTheEnvironmentNeedsAKeyFileAndIsNotEchoed(t *testing.T) {
	t.Setenv("TOKENGUARD_DB", "postgres://app:hunter2@db.internal/tokens")
	t.Setenv("TOKENGUARD_KEY_FILE", "")
	code, out, errs := run(t, "", "serve", "--listen", "127.0.0.1:0")
	if code != ExitUsage || !strings.Contains(errs, "--key-file is required with a PostgreSQL --db") || strings.Contains(out+errs, "hunter2") {
		t.Fatalf("serve with TOKENGUARD_DB=postgres://... and no key file = %d %q %q", code, out, errs)
	}
	code, out, errs = run(t, "", "admin", "rekey")
	if code != ExitUsage || !strings.Contains(errs, "--key-file is required with a PostgreSQL --db") || strings.Contains(out+errs, "hunter2") {
		t.Fatalf("admin rekey with TOKENGUARD_DB=postgres://... and no key file = %d %q %q", code, out, errs)
	}
}

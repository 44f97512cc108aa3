package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store/introspectcache"
)

// revisionTests are the conformance cases of the introspection revision (store.Revision).
var revisionTests = []struct {
	name string
	fn   func(*testing.T, Factory)
}{
	{"RevisionChangesWithEveryChangeOfATokenOrCredentialAndNotWithUse", testRevisionChanges},
	{"ReadForIntrospectionReturnsTheRevisionOfItsSnapshot", testRevisionOfRead},
}

func readRevision(t *testing.T, s store.Store) store.Revision {
	t.Helper()
	rev, err := s.ReadRevision(t.Context())
	if err != nil {
		t.Fatalf("ReadRevision: %v", err)
	}
	return rev
}

// testRevisionChanges makes each change of a token or a credential the Tx offers and checks
// that the revision changed, and each write of a use (last_used_at, audit records) and
// checks that it did not.
func testRevisionChanges(t *testing.T, f Factory) {
	s := f.Open(t)
	ctx := t.Context()
	tok := fullToken(1)
	tok.Status, tok.RevokedAt = store.StatusActive, nil
	cred := store.Credential{ID: "cred_gateway", Name: "gateway", SecretHash: hashOf("gateway"), Rights: []string{"introspect"}, CreatedAt: at(0)}
	changes := []struct {
		name    string
		fn      func(tx store.Tx) error
		changes bool
	}{
		{"InsertToken", func(tx store.Tx) error { return tx.InsertToken(ctx, tok) }, true},
		{"TouchLastUsed", func(tx store.Tx) error { return tx.TouchLastUsed(ctx, tok.ID, at(time.Hour)) }, false},
		{"TouchLastUsedAll", func(tx store.Tx) error {
			_, err := tx.TouchLastUsedAll(ctx, []store.TokenUse{{TokenID: tok.ID, At: at(2 * time.Hour)}})
			return err
		}, false},
		{"AppendAudits", func(tx store.Tx) error {
			_, err := tx.AppendAudits(ctx, []audit.Event{{Time: at(0), Actor: "cred_gateway", Action: audit.ActionIntrospect, TokenID: tok.ID, Outcome: "active"}})
			return err
		}, false},
		{"UpdateToken (revoke)", func(tx store.Tx) error {
			revoked := tok
			revoked.Status, revoked.RevokedAt = store.StatusRevoked, ptr(at(3*time.Hour))
			return tx.UpdateToken(ctx, revoked)
		}, true},
		{"InsertCredential", func(tx store.Tx) error { return tx.InsertCredential(ctx, cred) }, true},
		{"RotateCredential", func(tx store.Tx) error {
			_, err := tx.RotateCredential(ctx, cred.ID, hashOf("gateway v2"), at(2*time.Hour), at(time.Hour), "mac")
			return err
		}, true},
		{"SetCredentialGrantMAC", func(tx store.Tx) error { return tx.SetCredentialGrantMAC(ctx, cred.ID, "mac 2") }, true},
		{"RevokeCredential", func(tx store.Tx) error { _, _, err := tx.RevokeCredential(ctx, cred.ID, at(time.Hour)); return err }, true},
		{"PurgeTokens", func(tx store.Tx) error {
			n, err := tx.PurgeTokens(ctx, at(365*24*time.Hour))
			if err == nil && n != 1 {
				err = fmt.Errorf("purged %d tokens, want 1", n)
			}
			return err
		}, true},
	}
	before := readRevision(t, s)
	for _, c := range changes {
		update(t, s, c.fn)
		after := readRevision(t, s)
		if changed := after != before; changed != c.changes {
			t.Errorf("%s: revision changed %v, want %v", c.name, changed, c.changes)
		}
		before = after
	}
}

// testRevisionOfRead: ReadForIntrospection returns the revision ReadRevision reads when
// nothing changes in between, and a new one after a change.
func testRevisionOfRead(t *testing.T, f Factory) {
	s := f.Open(t)
	tok := plainToken("tok_rev", "owner", "rev")
	insertTokens(t, s, tok)
	got := readForIntrospection(t, s, hashOf("nobody"), tok.SecretHash)
	if rev := readRevision(t, s); got.Revision != rev {
		t.Errorf("ReadForIntrospection's revision %x, ReadRevision's %x: want equal with no change in between", got.Revision, rev)
	}
	insertTokens(t, s, plainToken("tok_rev2", "owner", "rev2"))
	if again := readForIntrospection(t, s, hashOf("nobody"), tok.SecretHash); again.Revision == got.Revision {
		t.Errorf("ReadForIntrospection's revision %x unchanged after a token was inserted", again.Revision)
	}
}

// SQL is raw access to a store's database, for the tests of changes made outside tokenguard.
type SQL interface {
	// Exec runs one statement without arguments.
	Exec(ctx context.Context, query string) error
	// Columns returns the column names of table.
	Columns(ctx context.Context, table string) ([]string, error)
}

// RevisionTriggersCoverEveryColumn updates, with plain SQL, each column of tokens and
// credentials to its own value (`UPDATE tokens SET c = c`): the revision must change for
// every column but tokens.last_used_at, and deleting a row must change it too. A column
// added later without its place in the triggers fails here.
func RevisionTriggersCoverEveryColumn(t *testing.T, s store.Store, db SQL) {
	ctx := t.Context()
	insertTokens(t, s, plainToken("tok_cols", "owner", "cols"))
	update(t, s, func(tx store.Tx) error {
		return tx.InsertCredential(ctx, store.Credential{ID: "cred_cols", Name: "cols", SecretHash: hashOf("cols"), Rights: []string{"introspect"}, CreatedAt: at(0)})
	})
	checked := 0
	for _, table := range []string{"tokens", "credentials"} {
		cols, err := db.Columns(ctx, table)
		if err != nil {
			t.Fatal(err)
		}
		if len(cols) < 8 {
			t.Fatalf("%s has %d columns: %v", table, len(cols), cols)
		}
		for _, col := range cols {
			before := readRevision(t, s)
			if err := db.Exec(ctx, fmt.Sprintf("UPDATE %s SET %s = %s", table, col, col)); err != nil {
				t.Fatal(err)
			}
			changed := readRevision(t, s) != before
			if want := table != "tokens" || col != "last_used_at"; changed != want {
				t.Errorf("UPDATE %s SET %s = %s: revision changed %v, want %v", table, col, col, changed, want)
			}
			checked++
		}
		before := readRevision(t, s)
		if err := db.Exec(ctx, "DELETE FROM "+table); err != nil {
			t.Fatal(err)
		}
		if readRevision(t, s) == before {
			t.Errorf("DELETE FROM %s: revision unchanged", table)
		}
	}
	t.Logf("%d columns checked", checked)
}

// DirectSQLChangesReachTheCache keeps the read of a token and a credential in an
// introspectcache.Cache, then changes them with plain SQL as someone with database access
// would: revoking the token, then deleting the credential. The cache's next read of each
// must show the change.
func DirectSQLChangesReachTheCache(t *testing.T, s store.Store, db SQL) {
	ctx := t.Context()
	tok := plainToken("tok_direct", "owner", "direct")
	insertTokens(t, s, tok)
	cred := store.Credential{ID: "cred_direct", Name: "direct", SecretHash: hashOf("direct"), Rights: []string{"introspect"}, CreatedAt: at(0)}
	update(t, s, func(tx store.Tx) error { return tx.InsertCredential(ctx, cred) })
	c := introspectcache.New(s, 0)
	read := func() store.IntrospectionRead {
		t.Helper()
		got, err := c.ReadForIntrospection(ctx, cred.SecretHash, tok.SecretHash)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := read(); !got.CredentialFound || !got.TokenFound || got.Token.Status != store.StatusActive {
		t.Fatalf("first read = %+v, want both found, the token active", got)
	}
	if got := read(); got.Token.Status != store.StatusActive || c.Stats().Hits != 1 {
		t.Fatalf("second read: status %q, %+v; want active, served from the cache", got.Token.Status, c.Stats())
	}
	if err := db.Exec(ctx, "UPDATE tokens SET status = 'revoked' WHERE id = 'tok_direct'"); err != nil {
		t.Fatal(err)
	}
	if got := read(); got.Token.Status != store.StatusRevoked {
		t.Errorf("after UPDATE tokens SET status = 'revoked' by hand, the next read has status %q (%+v)", got.Token.Status, c.Stats())
	}
	read() // kept again
	if err := db.Exec(ctx, "DELETE FROM credentials WHERE id = 'cred_direct'"); err != nil {
		t.Fatal(err)
	}
	if got := read(); got.CredentialFound {
		t.Errorf("after DELETE FROM credentials by hand, the next read still finds the credential (%+v)", c.Stats())
	}
	if st := c.Stats(); st.Hits != 2 || st.Misses != 3 {
		t.Errorf("cache stats %+v, want 2 hits (the reads between changes) and 3 misses", st)
	}
	if n := c.Len(); n != 0 {
		t.Errorf("the cache keeps %d reads after the credential was deleted, want none", n)
	}
}

// TamperedTriggerWhileRunningIsNoticed keeps the read of a token in an introspectcache.Cache,
// then, as someone with database access would while the service runs, runs tamper (which
// drops or disables the trigger on updates of tokens) and revokes the token in plain SQL, which
// now changes no revision. ReadRevision must fail, and the cache's next read must therefore
// come from the database and show the revocation.
func TamperedTriggerWhileRunningIsNoticed(t *testing.T, s store.Store, db SQL, tamper string) {
	ctx := t.Context()
	tok := plainToken("tok_tamper", "owner", "tamper")
	insertTokens(t, s, tok)
	cred := store.Credential{ID: "cred_tamper", Name: "tamper", SecretHash: hashOf("tamper"), Rights: []string{"introspect"}, CreatedAt: at(0)}
	update(t, s, func(tx store.Tx) error { return tx.InsertCredential(ctx, cred) })
	c := introspectcache.New(s, 0)
	for range 2 {
		if _, err := c.ReadForIntrospection(ctx, cred.SecretHash, tok.SecretHash); err != nil {
			t.Fatal(err)
		}
	}
	if st := c.Stats(); st.Hits != 1 {
		t.Fatalf("cache stats %+v before the tampering, want one hit", st)
	}
	if err := db.Exec(ctx, tamper); err != nil {
		t.Fatal(err)
	}
	if err := db.Exec(ctx, "UPDATE tokens SET status = 'revoked' WHERE id = 'tok_tamper'"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadRevision(ctx); err == nil {
		t.Errorf("ReadRevision after %q: no error, want one naming the missing trigger", tamper)
	}
	got, err := c.ReadForIntrospection(ctx, cred.SecretHash, tok.SecretHash)
	if err != nil {
		t.Fatal(err)
	}
	if got.Token.Status != store.StatusRevoked {
		t.Errorf("after %q and a revocation in plain SQL, the cache answered status %q (%+v), want revoked", tamper, got.Token.Status, c.Stats())
	}
}

// UpgradedCredentialHasARevision checks a store just opened on a database that an upgrade
// gave the introspection revision: its triggers are in place, the credential id (whose secret
// hash is secretHash) is read with the revision of its snapshot, and revoking it changes the
// revision.
func UpgradedCredentialHasARevision(t *testing.T, s store.Store, secretHash []byte, id string) {
	t.Helper()
	ctx := t.Context()
	if err := s.CheckRevisionTriggers(ctx); err != nil {
		t.Fatalf("after the upgrade: %v", err)
	}
	got, err := s.ReadForIntrospection(ctx, secretHash, []byte("no token"))
	if err != nil || !got.CredentialFound || got.Credential.ID != id {
		t.Fatalf("ReadForIntrospection after the upgrade = %+v, %v", got, err)
	}
	rev := readRevision(t, s)
	if rev != got.Revision || rev == (store.Revision{}) {
		t.Fatalf("ReadRevision after the upgrade = %x; want %x, not zero", rev, got.Revision)
	}
	if err := s.Update(ctx, func(tx store.Tx) error { _, _, err := tx.RevokeCredential(ctx, id, time.Now()); return err }); err != nil {
		t.Fatal(err)
	}
	if again := readRevision(t, s); again == rev {
		t.Errorf("revision after revoking the upgraded credential = %x; want a new one", again)
	}
}

package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// credentialTests are the conformance cases of scoped, rotatable credentials (issue 16): the
// owner restriction and the previous secret of a rotation round-trip, a rotation keeps the
// previous secret findable until the caller decides it has expired, and the introspection
// read finds a credential by its previous secret too.
var credentialTests = []struct {
	name string
	fn   func(*testing.T, Factory)
}{
	{"CredentialRoundTripsEveryFieldAndLists", testCredentialRoundTrip},
	{"RotateCredentialKeepsThePreviousSecretFindable", testRotateCredential},
	{"ReadForIntrospectionFindsACredentialByItsPreviousSecret", testReadForIntrospectionPreviousCredential},
}

// fullCredential is a credential with every field set, derived from n.
func fullCredential(n int) store.Credential {
	return store.Credential{ID: fmt.Sprintf("cred_full%03d", n), Name: fmt.Sprintf("billing pipeline %d", n),
		SecretHash: hashOf(fmt.Sprint("full credential", n)), Rights: []string{"issuer"},
		OwnerIndex: fmt.Sprintf("owner-index-%d", n), OwnerCipher: []byte(fmt.Sprintf("owner-cipher-%d", n)),
		CreatedAt: at(time.Duration(n) * time.Minute), RotatedAt: ptr(at(time.Hour)),
		PrevSecretHash: hashOf(fmt.Sprint("full credential before", n)), PrevValidUntil: ptr(at(2 * time.Hour)),
		GrantMAC: fmt.Sprintf("grant-mac-%d", n)}
}

func testCredentialRoundTrip(t *testing.T, f Factory) {
	s := f.Open(t)
	ctx := t.Context()
	full := fullCredential(1)
	// The zero values of the new fields: what a credential written before them reads as.
	plain := store.Credential{ID: "cred_plain", Name: "gateway", SecretHash: hashOf("plain"), Rights: []string{"introspect"}, CreatedAt: at(0)}
	revoked := fullCredential(2)
	revoked.RevokedAt = ptr(at(3 * time.Hour))
	update(t, s, func(tx store.Tx) error {
		for _, c := range []store.Credential{revoked, plain, full} {
			if err := tx.InsertCredential(ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, s, func(r store.Reader) error {
		for _, want := range []store.Credential{full, plain, revoked} {
			got, err := r.GetCredential(ctx, want.ID)
			if err != nil {
				return err
			}
			expectSame(t, "GetCredential "+want.ID, want, got)
			if got, err = r.GetCredentialByHash(ctx, want.SecretHash); err != nil {
				return err
			}
			expectSame(t, "GetCredentialByHash(current) "+want.ID, want, got)
		}
		got, err := r.GetCredentialByHash(ctx, full.PrevSecretHash)
		if err != nil {
			return fmt.Errorf("GetCredentialByHash(previous): %w", err)
		}
		expectSame(t, "GetCredentialByHash(previous)", full, got)
		if _, err := r.GetCredential(ctx, "cred_nobody"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetCredential(unknown) = %v, want store.ErrNotFound", err)
		}
		list, err := r.ListCredentials(ctx, "", 0)
		if err != nil {
			return err
		}
		if len(list) != 3 || list[0].ID != full.ID || list[1].ID != revoked.ID || list[2].ID != plain.ID {
			t.Errorf("ListCredentials = %d credentials %v, want %s, %s, %s in id order", len(list), ids(list), full.ID, revoked.ID, plain.ID)
		} else {
			expectSame(t, "ListCredentials[0]", full, list[0])
		}
		page, err := r.ListCredentials(ctx, full.ID, 1)
		if err != nil {
			return err
		}
		if len(page) != 1 || page[0].ID != revoked.ID {
			t.Errorf("ListCredentials(after %s, 1) = %v, want [%s]", full.ID, ids(page), revoked.ID)
		}
		return nil
	})
	// A previous secret hash is unique too: two credentials never share one.
	dup := fullCredential(3)
	dup.PrevSecretHash = full.PrevSecretHash
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.InsertCredential(ctx, dup) }); !errors.Is(err, store.ErrConflict) {
		t.Errorf("InsertCredential with another credential's previous secret hash: %v, want store.ErrConflict", err)
	}
}

func ids(cs []store.Credential) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

func testRotateCredential(t *testing.T, f Factory) {
	s := f.Open(t)
	ctx := t.Context()
	admin := store.Credential{ID: "cred_admin", Name: "bootstrap admin", SecretHash: hashOf("admin v1"), Rights: []string{"admin"}, CreatedAt: at(0)}
	other := store.Credential{ID: "cred_other", Name: "gateway", SecretHash: hashOf("other"), Rights: []string{"introspect"}, CreatedAt: at(0)}
	update(t, s, func(tx store.Tx) error {
		if err := tx.InsertCredential(ctx, admin); err != nil {
			return err
		}
		return tx.InsertCredential(ctx, other)
	})
	rotate := func(id string, hash []byte, until, when time.Time) (store.Credential, error) {
		var (
			c      store.Credential
			rotErr error
		)
		update(t, s, func(tx store.Tx) error {
			c, rotErr = tx.RotateCredential(ctx, id, hash, until, when, "mac after "+id)
			return nil // a refused rotation leaves the transaction usable
		})
		return c, rotErr
	}
	want := admin
	want.SecretHash, want.PrevSecretHash = hashOf("admin v2"), admin.SecretHash
	want.RotatedAt, want.PrevValidUntil = ptr(at(time.Hour)), ptr(at(2*time.Hour))
	want.GrantMAC = "mac after " + admin.ID
	got, err := rotate(admin.ID, hashOf("admin v2"), at(2*time.Hour), at(time.Hour))
	if err != nil {
		t.Fatalf("RotateCredential: %v", err)
	}
	expectSame(t, "credential returned by the rotation", want, got)
	expectSame(t, "credential found by its new secret", want, getCredential(t, s, hashOf("admin v2")))
	expectSame(t, "credential found by its previous secret", want, getCredential(t, s, hashOf("admin v1")))

	// A second rotation drops the first secret: only one previous secret is kept.
	want.SecretHash, want.PrevSecretHash = hashOf("admin v3"), hashOf("admin v2")
	want.RotatedAt, want.PrevValidUntil = ptr(at(3*time.Hour)), ptr(at(3*time.Hour))
	if got, err = rotate(admin.ID, hashOf("admin v3"), at(3*time.Hour), at(3*time.Hour)); err != nil {
		t.Fatalf("second RotateCredential: %v", err)
	}
	expectSame(t, "credential after a second rotation", want, got)
	view(t, s, func(r store.Reader) error {
		if _, err := r.GetCredentialByHash(ctx, hashOf("admin v1")); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the secret before the previous one: %v, want store.ErrNotFound", err)
		}
		return nil
	})

	if _, err := rotate("cred_nobody", hashOf("x"), at(0), at(0)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RotateCredential(unknown) = %v, want store.ErrNotFound", err)
	}
	for name, h := range map[string][]byte{"current": hashOf("admin v3"), "previous": hashOf("admin v2")} {
		if _, err := rotate(other.ID, h, at(0), at(0)); !errors.Is(err, store.ErrConflict) {
			t.Errorf("RotateCredential to another credential's %s secret hash = %v, want store.ErrConflict", name, err)
		}
	}
	expectSame(t, "credential after refused rotations", other, getCredential(t, s, other.SecretHash))
	// A rotation rolled back with its transaction leaves the credential as it was.
	boom := errors.New("boom")
	if err := s.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.RotateCredential(ctx, other.ID, hashOf("other v2"), at(time.Hour), at(0), "x"); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want the fn's error", err)
	}
	expectSame(t, "credential after a rolled-back rotation", other, getCredential(t, s, other.SecretHash))

	// SetCredentialGrantMAC replaces the MAC and nothing else.
	update(t, s, func(tx store.Tx) error { return tx.SetCredentialGrantMAC(ctx, other.ID, "adopted") })
	want = other
	want.GrantMAC = "adopted"
	expectSame(t, "credential after SetCredentialGrantMAC", want, getCredential(t, s, other.SecretHash))
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.SetCredentialGrantMAC(ctx, "cred_nobody", "x") }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetCredentialGrantMAC(unknown) = %v, want store.ErrNotFound", err)
	}
}

func testReadForIntrospectionPreviousCredential(t *testing.T, f Factory) {
	s := f.Open(t)
	ctx := t.Context()
	cred := fullCredential(1)
	cred.Rights = []string{"introspect"}
	tok := fullToken(1)
	update(t, s, func(tx store.Tx) error { return tx.InsertCredential(ctx, cred) })
	insertTokens(t, s, tok)
	for name, h := range map[string][]byte{"current": cred.SecretHash, "previous": cred.PrevSecretHash} {
		got := readForIntrospection(t, s, h, tok.SecretHash)
		if !got.CredentialFound || !got.TokenFound {
			t.Errorf("%s credential secret: found credential %v, token %v; want both", name, got.CredentialFound, got.TokenFound)
			continue
		}
		expectSame(t, name+" credential secret", credentialFields(cred), got.Credential)
	}
}

// UpgradedCredentialsKeepWorking checks a store just opened on a database that an upgrade gave
// owner restriction and rotation: the credentials cred_admin ("bootstrap admin", secret
// "admin", rights admin) and cred_gateway ("gateway", secret "gateway", rights introspect),
// written before it at created with secret hashes hash(secret), are kept as they were,
// unrestricted and without a previous secret, are found by their secrets, and the admin one
// can then be rotated with its old secret kept as the previous one.
func UpgradedCredentialsKeepWorking(t *testing.T, s store.Store, hash func(string) []byte, created time.Time) {
	t.Helper()
	ctx := t.Context()
	want := map[string]store.Credential{
		"admin":   {ID: "cred_admin", Name: "bootstrap admin", SecretHash: hash("admin"), Rights: []string{"admin"}, CreatedAt: created},
		"gateway": {ID: "cred_gateway", Name: "gateway", SecretHash: hash("gateway"), Rights: []string{"introspect"}, CreatedAt: created},
	}
	if err := s.View(ctx, func(r store.Reader) error {
		for secret, w := range want {
			got, err := r.GetCredentialByHash(ctx, hash(secret))
			if err != nil {
				return err
			}
			if got.ID != w.ID || got.OwnerIndex != "" || got.OwnerCipher != nil || got.RotatedAt != nil ||
				got.PrevSecretHash != nil || got.PrevValidUntil != nil || got.GrantMAC != "" || len(got.Rights) != 1 || got.Rights[0] != w.Rights[0] ||
				!got.CreatedAt.Equal(created) {
				t.Errorf("credential %s after the upgrade = %+v, want %+v", w.ID, got, w)
			}
		}
		list, err := r.ListCredentials(ctx, "", 0)
		if err != nil {
			return err
		}
		if len(list) != 2 {
			t.Errorf("ListCredentials after the upgrade = %d credentials, want 2", len(list))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	rotatedAt := created.Add(time.Hour)
	if err := s.Update(ctx, func(tx store.Tx) error {
		_, err := tx.RotateCredential(ctx, "cred_admin", hash("admin v2"), rotatedAt.Add(time.Hour), rotatedAt, "mac")
		return err
	}); err != nil {
		t.Fatalf("rotating the upgraded admin credential: %v", err)
	}
	for _, secret := range []string{"admin", "admin v2"} {
		got, err := s.ReadForIntrospection(ctx, hash(secret), hash("no token"))
		if err != nil || !got.CredentialFound || got.Credential.ID != "cred_admin" {
			t.Errorf("ReadForIntrospection with the admin secret %q after the rotation = %+v, %v; want cred_admin", secret, got, err)
		}
	}
}

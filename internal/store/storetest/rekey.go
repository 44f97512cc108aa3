package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// maintenanceTests are the conformance cases of credential revocation and of the calls key
// rotation (server.Rekey) uses to rewrite sealed values in place.
var maintenanceTests = []struct {
	name string
	fn   func(*testing.T, Factory)
}{
	{"RevokeCredentialRevokesOnceAndKeepsTheFirstInstant", testRevokeCredential},
	{"RevokeCredentialRollsBackWithTheTransaction", testRevokeCredentialRollback},
	{"ListIdempotencyPagesInByteOrderOfKey", testListIdempotency},
	{"ListIdempotencyLimitDefaultsTo100AndCapsAt1000", testListIdempotencyLimits},
	{"SetIdempotencyResponseReplacesOnlyTheResponse", testSetIdempotencyResponse},
	{"SetDeletionSubjectCipherReplacesOnlyTheCipher", testSetDeletionSubjectCipher},
	{"SetCredentialOwnerCipherReplacesOnlyTheCipher", testSetCredentialOwnerCipher},
}

func getCredential(t *testing.T, s store.Store, hash []byte) store.Credential {
	t.Helper()
	var c store.Credential
	view(t, s, func(r store.Reader) (err error) { c, err = r.GetCredentialByHash(t.Context(), hash); return err })
	return c
}

func testRevokeCredential(t *testing.T, f Factory) {
	s := f.Open(t)
	ctx := t.Context()
	active := store.Credential{ID: "cred_active", Name: "gateway", SecretHash: hashOf("active"),
		Rights: []string{"introspect"}, CreatedAt: at(0)}
	old := store.Credential{ID: "cred_old", Name: "retired", SecretHash: hashOf("old"),
		Rights: []string{"introspect"}, CreatedAt: at(0), RevokedAt: ptr(at(time.Minute))}
	update(t, s, func(tx store.Tx) error {
		if err := tx.InsertCredential(ctx, active); err != nil {
			return err
		}
		return tx.InsertCredential(ctx, old)
	})
	revoke := func(id string, when time.Time) (store.Credential, bool, error) {
		var (
			c      store.Credential
			was    bool
			revErr error
		)
		update(t, s, func(tx store.Tx) error {
			c, was, revErr = tx.RevokeCredential(ctx, id, when)
			return nil
		})
		return c, was, revErr
	}

	want := active
	want.RevokedAt = ptr(at(time.Hour))
	got, was, err := revoke(active.ID, at(time.Hour))
	if err != nil || !was {
		t.Fatalf("RevokeCredential(active) = was active %v, %v; want true, nil", was, err)
	}
	expectSame(t, "credential returned by the revocation", want, got)
	expectSame(t, "credential read after the revocation", want, getCredential(t, s, active.SecretHash))

	// A second revocation changes nothing: the first instant stays and it reports so.
	got, was, err = revoke(active.ID, at(2*time.Hour))
	if err != nil || was {
		t.Fatalf("RevokeCredential(revoked) = was active %v, %v; want false, nil", was, err)
	}
	expectSame(t, "credential returned by a second revocation", want, got)
	expectSame(t, "credential read after a second revocation", want, getCredential(t, s, active.SecretHash))

	// A credential inserted revoked keeps its instant too.
	got, was, err = revoke(old.ID, at(3*time.Hour))
	if err != nil || was {
		t.Fatalf("RevokeCredential(inserted revoked) = was active %v, %v; want false, nil", was, err)
	}
	expectSame(t, "credential inserted revoked", old, got)

	if _, _, err := revoke("cred_missing", at(time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RevokeCredential(unknown id) error = %v, want store.ErrNotFound", err)
	}
}

func testRevokeCredentialRollback(t *testing.T, f Factory) {
	s := f.Open(t)
	ctx := t.Context()
	c := store.Credential{ID: "cred_a", Name: "gateway", SecretHash: hashOf("a"), Rights: []string{"introspect"}, CreatedAt: at(0)}
	update(t, s, func(tx store.Tx) error { return tx.InsertCredential(ctx, c) })
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx store.Tx) error {
		if _, was, err := tx.RevokeCredential(ctx, c.ID, at(time.Hour)); err != nil || !was {
			return fmt.Errorf("RevokeCredential = %v, %w", was, err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want the error of fn", err)
	}
	expectSame(t, "credential after a rolled-back revocation", c, getCredential(t, s, c.SecretHash))
}

func idempotencyRecord(key string, n int) store.Idempotency {
	return store.Idempotency{Key: key, RequestHash: hashOf(fmt.Sprintf("body-%d", n)), Status: 200 + n%2,
		Response: []byte(fmt.Sprintf("sealed response %d", n)), CreatedAt: at(time.Duration(n) * time.Second)}
}

func putIdempotency(t *testing.T, s store.Store, recs ...store.Idempotency) {
	t.Helper()
	update(t, s, func(tx store.Tx) error {
		for _, rec := range recs {
			if err := tx.PutIdempotency(t.Context(), rec); err != nil {
				return err
			}
		}
		return nil
	})
}

func listIdempotency(t *testing.T, s store.Store, after string, limit int) []store.Idempotency {
	t.Helper()
	var out []store.Idempotency
	view(t, s, func(r store.Reader) (err error) { out, err = r.ListIdempotency(t.Context(), after, limit); return err })
	return out
}

func idempotencyKeys(recs []store.Idempotency) []string {
	keys := make([]string, 0, len(recs))
	for _, r := range recs {
		keys = append(keys, r.Key)
	}
	return keys
}

func testListIdempotency(t *testing.T, f Factory) {
	s := f.Open(t)
	// Byte order: digits, upper case, lower case, then multi-byte UTF-8 ("é" is 0xC3 0xA9).
	keys := []string{"cred_b POST /v1/tokens k", "cred_A POST /v1/tokens k", "cred_a POST /v1/tokens k",
		"cred_B POST /v1/tokens k", "cred_0 POST /v1/tokens k", "cred_é POST /v1/tokens k"}
	recs := make(map[string]store.Idempotency, len(keys))
	for i, k := range keys {
		recs[k] = idempotencyRecord(k, i)
		putIdempotency(t, s, recs[k])
	}
	want := slices.Clone(keys)
	slices.Sort(want) // Go sorts strings in byte order
	all := listIdempotency(t, s, "", 0)
	if got := idempotencyKeys(all); !slices.Equal(got, want) {
		t.Fatalf("ListIdempotency = %q, want %q", got, want)
	}
	for _, got := range all {
		expectSame(t, "listed idempotency record", recs[got.Key], got)
	}
	var paged []string
	after := ""
	for range 10 {
		page := listIdempotency(t, s, after, 2)
		if len(page) > 2 {
			t.Fatalf("page of limit 2 has %d records", len(page))
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, idempotencyKeys(page)...)
		after = page[len(page)-1].Key
	}
	if !slices.Equal(paged, want) {
		t.Errorf("paged keys = %q, want %q", paged, want)
	}
	if rest := listIdempotency(t, s, want[len(want)-1], 0); len(rest) != 0 {
		t.Errorf("ListIdempotency after the last key = %q, want none", idempotencyKeys(rest))
	}
}

func testListIdempotencyLimits(t *testing.T, f Factory) {
	s := f.Open(t)
	recs := make([]store.Idempotency, 1001)
	for i := range recs {
		recs[i] = idempotencyRecord(fmt.Sprintf("key-%05d", i), i)
	}
	putIdempotency(t, s, recs...)
	for _, c := range []struct{ limit, want int }{{0, 100}, {-1, 100}, {7, 7}, {1000, 1000}, {5000, 1000}} {
		if got := len(listIdempotency(t, s, "", c.limit)); got != c.want {
			t.Errorf("ListIdempotency(limit %d) returned %d records, want %d", c.limit, got, c.want)
		}
	}
}

func testSetIdempotencyResponse(t *testing.T, f Factory) {
	s := f.Open(t)
	ctx := t.Context()
	first, other := idempotencyRecord("k-1", 1), idempotencyRecord("k-2", 2)
	putIdempotency(t, s, first, other)
	update(t, s, func(tx store.Tx) error { return tx.SetIdempotencyResponse(ctx, first.Key, []byte("resealed")) })
	want := first
	want.Response = []byte("resealed")
	view(t, s, func(r store.Reader) error {
		for _, w := range []store.Idempotency{want, other} {
			got, err := r.GetIdempotency(ctx, w.Key)
			if err != nil {
				return err
			}
			expectSame(t, "idempotency record "+w.Key, w, got)
		}
		return nil
	})
	err := s.Update(ctx, func(tx store.Tx) error { return tx.SetIdempotencyResponse(ctx, "k-missing", []byte("x")) })
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetIdempotencyResponse(unknown key) error = %v, want store.ErrNotFound", err)
	}
}

func testSetDeletionSubjectCipher(t *testing.T, f Factory) {
	s := f.Open(t)
	ctx := t.Context()
	first, other := fullDeletion(1), fullDeletion(2)
	insertDeletions(t, s, first, other)
	update(t, s, func(tx store.Tx) error { return tx.SetDeletionSubjectCipher(ctx, first.ID, []byte("resealed subject")) })
	want := first
	want.SubjectCipher = []byte("resealed subject")
	for _, w := range []store.DeletionRequest{want, other} {
		got, err := getDeletion(t, s, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		expectSame(t, "deletion request "+w.ID, w, got)
	}
	err := s.Update(ctx, func(tx store.Tx) error { return tx.SetDeletionSubjectCipher(ctx, "del_missing", []byte("x")) })
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetDeletionSubjectCipher(unknown id) error = %v, want store.ErrNotFound", err)
	}
}

func testSetCredentialOwnerCipher(t *testing.T, f Factory) {
	s := f.Open(t)
	ctx := t.Context()
	first, other := fullCredential(1), fullCredential(2)
	update(t, s, func(tx store.Tx) error {
		if err := tx.InsertCredential(ctx, first); err != nil {
			return err
		}
		return tx.InsertCredential(ctx, other)
	})
	update(t, s, func(tx store.Tx) error { return tx.SetCredentialOwnerCipher(ctx, first.ID, []byte("resealed owner")) })
	want := first
	want.OwnerCipher = []byte("resealed owner")
	expectSame(t, "credential after SetCredentialOwnerCipher", want, getCredential(t, s, first.SecretHash))
	expectSame(t, "the other credential", other, getCredential(t, s, other.SecretHash))
	// Rolled back with its transaction, it leaves the row as it was.
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.SetCredentialOwnerCipher(ctx, other.ID, []byte("lost")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want the error of fn", err)
	}
	expectSame(t, "credential after a rolled-back SetCredentialOwnerCipher", other, getCredential(t, s, other.SecretHash))
	err = s.Update(ctx, func(tx store.Tx) error { return tx.SetCredentialOwnerCipher(ctx, "cred_missing", []byte("x")) })
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetCredentialOwnerCipher(unknown id) error = %v, want store.ErrNotFound", err)
	}
}

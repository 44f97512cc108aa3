package introspectcache_test

import (
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store/introspectcache"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store/sqlite"
)

func hashOf(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

// TestCache_keepsAtMostItsBoundAndNothingForUnknownSecrets reads 5 tokens through a cache of
// 3 on a real SQLite store: it keeps 3; reads of an unknown token or by an unknown credential
// are answered (not found) but not kept; every answer equals the store's own.
func TestCache_keepsAtMostItsBoundAndNothingForUnknownSecrets(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "tokenguard.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	now := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	cred := hashOf("gateway")
	if err := st.Update(ctx, func(tx store.Tx) error {
		if err := tx.InsertCredential(ctx, store.Credential{ID: "cred_gateway", Name: "gateway", SecretHash: cred, Rights: []string{"introspect"}, CreatedAt: now}); err != nil {
			return err
		}
		for i := range 5 {
			if err := tx.InsertToken(ctx, store.Token{ID: fmt.Sprintf("tok_%d", i), Name: fmt.Sprint("t", i), OwnerIndex: "o",
				Purpose: "Reads order history for the support console", Scopes: []string{"orders:read"}, DataCategories: []string{"commercial"},
				Env: "live", Status: store.StatusActive, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour),
				SecretVersion: 1, SecretHash: hashOf(fmt.Sprint("secret ", i)), HashKeyID: "hk", Fingerprint: "fp"}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	c := introspectcache.New(st, 3)
	for round := range 2 {
		for i := range 5 {
			got, err := c.ReadForIntrospection(ctx, cred, hashOf(fmt.Sprint("secret ", i)))
			if err != nil || !got.TokenFound || got.Token.ID != fmt.Sprintf("tok_%d", i) {
				t.Fatalf("round %d, token %d: %+v, %v", round, i, got.Token.ID, err)
			}
			if n := c.Len(); n > 3 {
				t.Fatalf("the cache of 3 keeps %d reads", n)
			}
		}
	}
	if n := c.Len(); n != 3 {
		t.Errorf("the cache keeps %d reads, want 3", n)
	}
	for name, hashes := range map[string][2][]byte{
		"unknown token":      {cred, hashOf("no such secret")},
		"unknown credential": {hashOf("nobody"), hashOf("secret 0")},
	} {
		got, err := c.ReadForIntrospection(ctx, hashes[0], hashes[1])
		if err != nil {
			t.Fatal(err)
		}
		want, err := st.ReadForIntrospection(ctx, hashes[0], hashes[1])
		if err != nil {
			t.Fatal(err)
		}
		if got.CredentialFound != want.CredentialFound || got.TokenFound != want.TokenFound {
			t.Errorf("%s: found %v/%v, the store %v/%v", name, got.CredentialFound, got.TokenFound, want.CredentialFound, want.TokenFound)
		}
	}
	if n := c.Len(); n != 3 {
		t.Errorf("after reads of unknown secrets the cache keeps %d reads, want still 3", n)
	}
}

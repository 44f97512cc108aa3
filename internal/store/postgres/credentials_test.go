package postgres

import (
	"crypto/sha256"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// TestMigration0006_credentialsOfAnExistingDatabaseKeepWorkingAndCanRotate is the SQLite
// store's TestMigration0005 on PostgreSQL: a schema migrated up to 0005 holding an admin and
// an introspect credential is upgraded by Open; both keep their secrets and rights,
// unrestricted and without a previous secret, and the admin one can then be rotated.
func TestMigration0006_credentialsOfAnExistingDatabaseKeepWorkingAndCanRotate(t *testing.T) {
	ctx := t.Context()
	u, old := schemaMigratedBefore(t, 6)
	hash := func(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, row := range [][]any{
		{"cred_admin", "bootstrap admin", hash("admin"), []string{"admin"}, created},
		{"cred_gateway", "gateway", hash("gateway"), []string{"introspect"}, created},
	} {
		if _, err := old.write.Exec(ctx, "INSERT INTO credentials (id, name, secret_hash, rights, created_at) VALUES ($1, $2, $3, $4, $5)", row...); err != nil {
			t.Fatal(err)
		}
	}

	s := openStore(t, u)
	if err := s.View(ctx, func(r store.Reader) error {
		for secret, id := range map[string]string{"admin": "cred_admin", "gateway": "cred_gateway"} {
			got, err := r.GetCredentialByHash(ctx, hash(secret))
			if err != nil {
				return err
			}
			if got.ID != id || got.OwnerIndex != "" || got.OwnerCipher != nil || got.RotatedAt != nil ||
				got.PrevSecretHash != nil || got.PrevValidUntil != nil || got.GrantMAC != "" || len(got.Rights) != 1 || !got.CreatedAt.Equal(created) {
				t.Errorf("credential %s after the upgrade = %+v", id, got)
			}
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

package sqlite

import (
	"crypto/sha256"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// TestMigration0005_credentialsOfAnExistingDatabaseKeepWorkingAndCanRotate opens a database
// written before 0005 (no owner restriction, no rotation columns) holding an admin and an
// introspect credential: the upgrade keeps both as they were, unrestricted and without a
// previous secret, both are found by their secrets, and the admin one can then be rotated
// with its old secret kept as the previous one.
func TestMigration0005_credentialsOfAnExistingDatabaseKeepWorkingAndCanRotate(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "tokenguard.db")
	legacyChainDatabase(t, path, 5, 3)
	hash := func(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	db, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range [][]any{
		{"cred_admin", "bootstrap admin", hash("admin"), `["admin"]`, formatTime(created)},
		{"cred_gateway", "gateway", hash("gateway"), `["introspect"]`, formatTime(created)},
	} {
		if _, err := db.ExecContext(ctx, "INSERT INTO credentials (id, name, secret_hash, rights, created_at) VALUES (?, ?, ?, ?, ?)", row...); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := openTemp(t, path)
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

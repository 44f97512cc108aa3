package sqlite

import (
	"crypto/sha256"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/store/storetest"
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

	storetest.UpgradedCredentialsKeepWorking(t, openTemp(t, path), hash, created)
}

package postgres

import (
	"crypto/sha256"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/store/storetest"
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

	storetest.UpgradedCredentialsKeepWorking(t, openStore(t, u), hash, created)
}

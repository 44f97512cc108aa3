package cli

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite" // the driver the store uses, for the tampering below
)

// TestServe_refusesADatabaseWhoseRevisionTriggerWasDropped: someone with write access to the
// database drops a trigger that records changes of tokens (after which a revocation made in
// plain SQL would not reach the instances' introspection caches); serve then refuses to start,
// naming the trigger and the migration that restores it, with exit 1.
func TestServe_refusesADatabaseWhoseRevisionTriggerWasDropped(t *testing.T) {
	t.Setenv("TOKENGUARD_ADMIN_TOKEN", "")
	db := filepath.Join(t.TempDir(), "tg.db")
	_, _, stop := startServe(t, "--db", db)
	if code := stop(); code != 0 {
		t.Fatalf("first serve exited %d", code)
	}
	raw, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.ExecContext(t.Context(), "DROP TRIGGER tokens_revision_update"); err != nil {
		t.Fatal(err)
	}
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}
	code, _, errs := run(t, "", "serve", "--listen", "127.0.0.1:0", "--db", db)
	if code != ExitFindings || !strings.Contains(errs, "tokens_revision_update on tokens") || !strings.Contains(errs, "0007_introspection_revision.sql") {
		t.Fatalf("serve on a database without its revision trigger = %d %q; want exit 1 naming the trigger and its migration", code, errs)
	}
}

package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/store/storetest"
)

// rawSQL is storetest.SQL on a plain connection pool to the store's file, as someone with
// the file (or the sqlite3 shell) would change it.
type rawSQL struct{ db *sql.DB }

func openRawSQL(t *testing.T, path string) rawSQL {
	t.Helper()
	db, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return rawSQL{db}
}

func (r rawSQL) Exec(ctx context.Context, query string) error {
	_, err := r.db.ExecContext(ctx, query)
	return err
}

func (r rawSQL) Columns(ctx context.Context, table string) ([]string, error) {
	rows, err := r.db.QueryContext(ctx, "SELECT name FROM pragma_table_info(?)", table)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		cols = append(cols, c)
	}
	return cols, rows.Err()
}

// TestRevisionTriggers_coverEveryColumnButLastUsedAt: see storetest.RevisionTriggersCoverEveryColumn.
func TestRevisionTriggers_coverEveryColumnButLastUsedAt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokenguard.db")
	s := openTemp(t, path)
	storetest.RevisionTriggersCoverEveryColumn(t, s, openRawSQL(t, path))
}

// TestIntrospectionCache_seesChangesMadeWithPlainSQL: see storetest.DirectSQLChangesReachTheCache.
func TestIntrospectionCache_seesChangesMadeWithPlainSQL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokenguard.db")
	s := openTemp(t, path)
	storetest.DirectSQLChangesReachTheCache(t, s, openRawSQL(t, path))
}

// TestCheckRevisionTriggers_namesEachDroppedTrigger drops each of the six triggers in turn
// (as someone with write access to the file could) and deletes the revision row: the check
// serve runs at start fails, naming what is missing; on an intact database it passes.
func TestCheckRevisionTriggers_namesEachDroppedTrigger(t *testing.T) {
	ctx := t.Context()
	for _, tr := range revisionTriggers {
		t.Run(tr.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tokenguard.db")
			s := openTemp(t, path)
			if err := s.CheckRevisionTriggers(ctx); err != nil {
				t.Fatalf("intact database: %v", err)
			}
			if err := openRawSQL(t, path).Exec(ctx, "DROP TRIGGER "+tr.name); err != nil {
				t.Fatal(err)
			}
			err := s.CheckRevisionTriggers(ctx)
			if err == nil || !strings.Contains(err.Error(), tr.name+" on "+tr.table) || !strings.Contains(err.Error(), "0007_introspection_revision.sql") {
				t.Errorf("after DROP TRIGGER %s: %v; want an error naming it and the migration that restores it", tr.name, err)
			}
		})
	}
	t.Run("revision row deleted", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "tokenguard.db")
		s := openTemp(t, path)
		if err := openRawSQL(t, path).Exec(ctx, "DELETE FROM introspection_revision"); err != nil {
			t.Fatal(err)
		}
		if err := s.CheckRevisionTriggers(ctx); err == nil {
			t.Error("CheckRevisionTriggers with no revision row: no error")
		}
		if _, err := s.ReadForIntrospection(ctx, []byte("credential"), []byte("token")); err == nil {
			t.Error("ReadForIntrospection with no revision row: no error, want it to fail closed")
		}
	})
}

// TestMigration0007_anExistingDatabaseGetsItsRevisionAndTriggers opens a database written
// before 0007 holding a credential: the upgrade adds the revision and its triggers, the
// credential is read with the revision of its snapshot, and revoking it changes the revision.
func TestMigration0007_anExistingDatabaseGetsItsRevisionAndTriggers(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "tokenguard.db")
	legacyChainDatabase(t, path, 7, 3)
	h := sha256.Sum256([]byte("gateway"))
	raw := openRawSQL(t, path)
	if _, err := raw.db.ExecContext(ctx, "INSERT INTO credentials (id, name, secret_hash, rights, created_at) VALUES (?, ?, ?, ?, ?)",
		"cred_gateway", "gateway", h[:], `["introspect"]`, formatTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))); err != nil {
		t.Fatal(err)
	}
	storetest.UpgradedCredentialHasARevision(t, openTemp(t, path), h[:], "cred_gateway")
}

// TestIntrospectionCache_noticesATriggerDroppedWhileRunning: see
// storetest.TamperedTriggerWhileRunningIsNoticed (SQLite notices through its schema version).
func TestIntrospectionCache_noticesATriggerDroppedWhileRunning(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokenguard.db")
	s := openTemp(t, path)
	storetest.TamperedTriggerWhileRunningIsNoticed(t, s, openRawSQL(t, path), "DROP TRIGGER tokens_revision_update")
}

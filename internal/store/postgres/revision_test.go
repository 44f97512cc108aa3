package postgres

import (
	"context"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store/storetest"
)

// rawSQL is storetest.SQL on a plain connection to the store's schema, as someone with a
// psql session would change it.
type rawSQL struct{ conn *pgx.Conn }

func openRawSQL(t *testing.T, u string) rawSQL {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.WithoutCancel(t.Context())) })
	return rawSQL{conn}
}

func (r rawSQL) Exec(ctx context.Context, query string) error {
	_, err := r.conn.Exec(ctx, query)
	return err
}

func (r rawSQL) Columns(ctx context.Context, table string) ([]string, error) {
	rows, err := r.conn.Query(ctx, `SELECT column_name::text FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`, table)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// TestRevisionTriggers_coverEveryColumnButLastUsedAt: see storetest.RevisionTriggersCoverEveryColumn.
func TestRevisionTriggers_coverEveryColumnButLastUsedAt(t *testing.T) {
	u := freshSchemaURL(t)
	s := openStore(t, u)
	storetest.RevisionTriggersCoverEveryColumn(t, s, openRawSQL(t, u))
}

// TestIntrospectionCache_seesChangesMadeWithPlainSQL: see storetest.DirectSQLChangesReachTheCache.
func TestIntrospectionCache_seesChangesMadeWithPlainSQL(t *testing.T) {
	u := freshSchemaURL(t)
	s := openStore(t, u)
	storetest.DirectSQLChangesReachTheCache(t, s, openRawSQL(t, u))
}

// TestRevisionTriggers_fireUnderReplicationRole: a session with session_replication_role =
// replica (which skips ordinary triggers, a superuser's way around them) still changes the
// revision when it revokes a token: the triggers are enabled ALWAYS.
func TestRevisionTriggers_fireUnderReplicationRole(t *testing.T) {
	ctx := t.Context()
	u := freshSchemaURL(t)
	s := openStore(t, u)
	h := sha256.Sum256([]byte("replica"))
	if err := s.Update(ctx, func(tx store.Tx) error {
		return tx.InsertCredential(ctx, store.Credential{ID: "cred_replica", Name: "replica", SecretHash: h[:], Rights: []string{"introspect"}, CreatedAt: time.Now()})
	}); err != nil {
		t.Fatal(err)
	}
	before, err := s.ReadRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	raw := openRawSQL(t, u)
	if err := raw.Exec(ctx, "SET session_replication_role = replica"); err != nil {
		t.Skipf("this role may not set session_replication_role (needs superuser), so it cannot skip triggers either: %v", err)
	}
	if err := raw.Exec(ctx, "UPDATE credentials SET revoked_at = now()"); err != nil {
		t.Fatal(err)
	}
	if after, err := s.ReadRevision(ctx); err != nil || after == before {
		t.Errorf("revision after a revocation under session_replication_role = replica = %x, %v; want a new one", after, err)
	}
}

// TestCheckRevisionTriggers_namesEachDroppedOrDisabledTrigger drops each of the three
// triggers in turn, disables one, and sets one back to ordinary (origin) enabling, as someone
// with write access to the schema could: the check serve runs at start fails, naming the
// trigger; on an intact schema it passes.
func TestCheckRevisionTriggers_namesEachDroppedOrDisabledTrigger(t *testing.T) {
	ctx := t.Context()
	type tamper struct{ name, sql, want string }
	var cases []tamper
	for _, tr := range revisionTriggers {
		cases = append(cases, tamper{"drop " + tr.name, "DROP TRIGGER " + tr.name + " ON " + tr.table, tr.name + " on " + tr.table + " (missing)"})
	}
	cases = append(cases,
		tamper{"disable", "ALTER TABLE tokens DISABLE TRIGGER tokens_revision_update", "tokens_revision_update on tokens (not enabled ALWAYS)"},
		tamper{"enable for origin only", "ALTER TABLE credentials ENABLE TRIGGER credentials_revision_write", "credentials_revision_write on credentials (not enabled ALWAYS)"},
		tamper{"revision row deleted", "DELETE FROM introspection_revision", "introspection revision"})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u := freshSchemaURL(t)
			s := openStore(t, u)
			if err := s.CheckRevisionTriggers(ctx); err != nil {
				t.Fatalf("intact schema: %v", err)
			}
			if err := openRawSQL(t, u).Exec(ctx, c.sql); err != nil {
				t.Fatal(err)
			}
			if err := s.CheckRevisionTriggers(ctx); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("after %s: %v; want an error naming %q", c.sql, err, c.want)
			}
			if _, err := s.ReadForIntrospection(ctx, []byte("credential"), []byte("token")); err == nil && c.name == "revision row deleted" {
				t.Error("ReadForIntrospection with no revision row: no error, want it to fail closed")
			}
		})
	}
}

// TestMigration0008_anExistingSchemaGetsItsRevisionAndTriggers opens a schema migrated up to
// 0007 holding a credential: the upgrade adds the revision and its triggers, the credential is
// read with the revision of its snapshot, and revoking it changes the revision.
func TestMigration0008_anExistingSchemaGetsItsRevisionAndTriggers(t *testing.T) {
	ctx := t.Context()
	u, old := schemaMigratedBefore(t, 8)
	h := sha256.Sum256([]byte("gateway"))
	if _, err := old.write.Exec(ctx, "INSERT INTO credentials (id, name, secret_hash, rights, created_at) VALUES ($1, $2, $3, $4, $5)",
		"cred_gateway", "gateway", h[:], []string{"introspect"}, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	storetest.UpgradedCredentialHasARevision(t, openStore(t, u), h[:], "cred_gateway")
}

// TestIntrospectionCache_noticesATriggerDroppedOrDisabledWhileRunning: see
// storetest.TamperedTriggerWhileRunningIsNoticed, with the trigger dropped and disabled.
func TestIntrospectionCache_noticesATriggerDroppedOrDisabledWhileRunning(t *testing.T) {
	for _, tamper := range []string{"DROP TRIGGER tokens_revision_update ON tokens", "ALTER TABLE tokens DISABLE TRIGGER tokens_revision_update"} {
		t.Run(tamper, func(t *testing.T) {
			u := freshSchemaURL(t)
			s := openStore(t, u)
			storetest.TamperedTriggerWhileRunningIsNoticed(t, s, openRawSQL(t, u), tamper)
		})
	}
}

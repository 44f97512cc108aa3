package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/keyring"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// unkeyedAuditColumns are the audit columns before 0004 added key_id.
const unkeyedAuditColumns = "seq, prev_hash, hash, time, actor, action, token_id, fingerprint, outcome, details"

// legacyChainDatabase writes at path a database with the migrations before version before
// applied and a chain of n unkeyed records, as tokenguard wrote it then, and returns them.
func legacyChainDatabase(t *testing.T, path string, before, n int) []audit.Record {
	t.Helper()
	ctx := t.Context()
	migrations, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY,
		name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT`); err != nil {
		t.Fatal(err)
	}
	for _, m := range migrations {
		if m.Version >= before {
			break
		}
		if _, err := db.ExecContext(ctx, m.SQL); err != nil {
			t.Fatalf("applying %s: %v", m.Name, err)
		}
		if _, err := db.ExecContext(ctx, "INSERT INTO schema_migrations VALUES (?, ?, ?)", m.Version, m.Name, formatTime(time.Now())); err != nil {
			t.Fatal(err)
		}
	}
	var (
		written []audit.Record
		prev    *audit.Record
	)
	for i := range n {
		rec := audit.Chain(prev, int64(i+1), audit.Event{Time: time.Unix(int64(i), 0), Actor: "cred_a",
			Action: audit.ActionIntrospect, TokenID: fmt.Sprintf("tok_%d", i%7), Outcome: "active",
			Details: map[string]string{"n": fmt.Sprint(i)}})
		if _, err := db.ExecContext(ctx, "INSERT INTO audit ("+unkeyedAuditColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			rec.Seq, rec.PrevHash, rec.Hash, formatTime(rec.Time), rec.Actor, rec.Action, rec.TokenID, rec.Fingerprint,
			rec.Outcome, fmt.Sprintf(`{"n":"%d"}`, i)); err != nil {
			t.Fatal(err)
		}
		written = append(written, rec)
		prev = &written[len(written)-1]
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return written
}

// TestMigration0003_keepsTheAuditChainOfAnExistingDatabase opens a database written by the
// schema before 0003 (prev_hash UNIQUE, the audit_token index) holding a chain, and checks
// that the upgrade keeps every record, that the chain still verifies and grows, and that the
// new trigger refuses a fork.
func TestMigration0003_keepsTheAuditChainOfAnExistingDatabase(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "tokenguard.db")
	written := legacyChainDatabase(t, path, 3, 50)

	s := openTemp(t, path)
	var v audit.Verifier
	if err := s.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.AppendAudits(ctx, []audit.Event{{Time: time.Unix(100, 0), Actor: "cred_a", Action: audit.ActionIntrospect, Outcome: "inactive"}}); err != nil {
			return err
		}
		recs, err := tx.ListAudit(ctx, 0, 1000)
		if err != nil {
			return err
		}
		if len(recs) != len(written)+1 {
			return fmt.Errorf("audit log holds %d records after the upgrade and one append, want %d", len(recs), len(written)+1)
		}
		for i, rec := range recs {
			if i < len(written) && (rec.Hash != written[i].Hash || rec.Details["n"] != fmt.Sprint(i)) {
				return fmt.Errorf("record %d changed in the upgrade", rec.Seq)
			}
			if err := v.Add(rec); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var indexes int
	if err := s.read.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'audit'").Scan(&indexes); err != nil {
		t.Fatal(err)
	}
	if indexes != 0 {
		t.Errorf("audit has %d indexes after the upgrade, want none (its primary key is the rowid)", indexes)
	}
	_, err := s.write.ExecContext(ctx, "INSERT INTO audit ("+unkeyedAuditColumns+") VALUES (?, ?, 'h', ?, 'a', 'x', '', '', 'ok', NULL)",
		len(written)+2, written[len(written)-1].Hash, formatTime(time.Unix(0, 0)))
	if !isChainViolation(err) {
		t.Errorf("a fork after the upgrade: error = %v, want the chain constraint to refuse it", err)
	}
}

// TestMigration0004_unkeyedChainKeepsVerifyingAndOnlyKeyedRecordsFollow opens a database
// written before 0004 (no key_id) holding an unkeyed chain: the upgrade keeps every record
// and hash, a store with an audit key appends keyed records after them, the whole chain
// verifies with the key, and a store without the key can no longer append.
func TestMigration0004_unkeyedChainKeepsVerifyingAndOnlyKeyedRecordsFollow(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "tokenguard.db")
	written := legacyChainDatabase(t, path, 4, 20)
	keys, err := keyring.New()
	if err != nil {
		t.Fatal(err)
	}
	s := openTemp(t, path)
	s.SetAuditKey(keys.CurrentAuditKey())
	ev := audit.Event{Time: time.Unix(100, 0), Actor: "cred_a", Action: audit.ActionIntrospect, Outcome: "inactive"}
	if err := s.Update(ctx, func(tx store.Tx) error {
		_, err := tx.AppendAudits(ctx, []audit.Event{ev, ev})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	v := audit.NewVerifier(keys)
	var head audit.Record
	var keyedFrom int64
	if err := s.View(ctx, func(rd store.Reader) error {
		recs, err := rd.ListAudit(ctx, 0, 1000)
		if err != nil {
			return err
		}
		for i, rec := range recs {
			if i < len(written) && (rec.Hash != written[i].Hash || rec.KeyID != "") {
				return fmt.Errorf("record %d changed in the upgrade", rec.Seq)
			}
			if i >= len(written) && rec.KeyID != keys.KeyID() {
				return fmt.Errorf("record %d appended after the upgrade has key id %q, want %q", rec.Seq, rec.KeyID, keys.KeyID())
			}
			if err := v.Add(rec); err != nil {
				return err
			}
		}
		head, keyedFrom, err = rd.AuditHead(ctx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if v.Count() != 22 || head.Seq != 22 || head.Hash != v.Head().Hash || keyedFrom != 21 {
		t.Fatalf("verified %d, head %d, keyed from %d; want 22 records, head 22, keyed from 21", v.Count(), head.Seq, keyedFrom)
	}
	s.SetAuditKey(nil)
	err = s.Update(ctx, func(tx store.Tx) error {
		_, err := tx.AppendAudit(ctx, ev)
		return err
	})
	if !errors.Is(err, store.ErrAuditKeyNeeded) {
		t.Fatalf("an unkeyed append after keyed records: %v, want ErrAuditKeyNeeded", err)
	}
}

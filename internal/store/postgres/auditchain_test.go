package postgres

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

func TestAuditTable_refusesARecordNotChainedToTheOneBeforeIt(t *testing.T) {
	s := openStore(t, freshSchemaURL(t))
	ctx := t.Context()
	var first audit.Record
	if err := s.Update(ctx, func(tx store.Tx) (err error) {
		first, err = tx.AppendAudit(ctx, audit.Event{Time: time.Unix(0, 0), Actor: "a", Action: audit.ActionBootstrap, Outcome: "ok"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// insert bypasses AppendAudits (and audit_head), as a faulty writer would.
	insert := func(rows ...[2]any) error {
		tx, err := s.write.Begin(ctx)
		if err != nil {
			return err
		}
		defer func() { _ = tx.Rollback(ctx) }()
		for _, r := range rows {
			if _, err := tx.Exec(ctx, "INSERT INTO audit ("+auditColumns+") VALUES ($1, $2, 'h', now(), 'a', 'x', '', '', 'ok', NULL, '')", r[0], r[1]); err != nil {
				return err
			}
		}
		return tx.Commit(ctx)
	}
	for _, c := range []struct {
		what string
		rows [][2]any
	}{
		{"a second record chained to the genesis hash (a fork)", [][2]any{{int64(2), first.PrevHash}}},
		{"a record chained to a hash that is not its predecessor's", [][2]any{{int64(2), strings.Repeat("ab", 32)}}},
		{"a record after a gap in the sequence", [][2]any{{int64(3), first.Hash}}},
		{"a record with the sequence number of an existing one", [][2]any{{int64(1), audit.GenesisHash}}},
		{"a well chained record followed by a fork of it", [][2]any{{int64(2), first.Hash}, {int64(3), first.Hash}}},
	} {
		err := insert(c.rows...)
		if state := sqlState(err); state != uniqueViolation && state != integrityConstraintViolation {
			t.Errorf("%s: error = %v, want the chain constraint to refuse it", c.what, err)
		}
	}
	if err := insert([2]any{int64(2), first.Hash}, [2]any{int64(3), "h"}); err != nil {
		t.Errorf("two records, each chained to its predecessor: %v", err)
	}
}

// TestAuditTable_refusesAnUnchainedRecordInAMultiRowInsert is the fork guard against plain
// SQL that adds several records in one statement: a multi-row VALUES, and the select-list
// unnest AppendAudits itself uses. A statement holding one record not chained to the record
// before it is refused whole, wherever in the statement that record is; the same statement
// with every record chained is accepted.
func TestAuditTable_refusesAnUnchainedRecordInAMultiRowInsert(t *testing.T) {
	s := openStore(t, freshSchemaURL(t))
	ctx := t.Context()
	var first audit.Record
	if err := s.Update(ctx, func(tx store.Tx) (err error) {
		first, err = tx.AppendAudit(ctx, audit.Event{Time: time.Unix(0, 0), Actor: "a", Action: audit.ActionBootstrap, Outcome: "ok"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	other := strings.Repeat("ab", 32)
	statements := map[string]func(seqs []int64, prevs, hashes []string) error{
		"VALUES": func(seqs []int64, prevs, hashes []string) error {
			var (
				rows []string
				args []any
			)
			for i := range seqs {
				rows = append(rows, fmt.Sprintf("($%d, $%d, $%d, now(), 'a', 'x', '', '', 'ok', NULL, '')", 3*i+1, 3*i+2, 3*i+3))
				args = append(args, seqs[i], prevs[i], hashes[i])
			}
			_, err := s.write.Exec(ctx, "INSERT INTO audit ("+auditColumns+") VALUES "+strings.Join(rows, ", "), args...)
			return err
		},
		"SELECT unnest": func(seqs []int64, prevs, hashes []string) error {
			_, err := s.write.Exec(ctx, "INSERT INTO audit ("+auditColumns+") SELECT unnest($1::bigint[]), unnest($2::text[]), unnest($3::text[]), now(), 'a', 'x', '', '', 'ok', NULL, ''",
				seqs, prevs, hashes)
			return err
		},
	}
	for name, insert := range statements {
		for _, c := range []struct {
			what          string
			prevs, hashes []string
		}{
			{"the first record chained to the genesis hash (a fork)", []string{first.PrevHash, "h2", "h3"}, []string{"h2", "h3", "h4"}},
			{"the first record chained to another hash", []string{other, "h2", "h3"}, []string{"h2", "h3", "h4"}},
			{"a middle record chained to the first record's predecessor (a fork)", []string{first.Hash, first.Hash, "h3"}, []string{"h2", "h3", "h4"}},
			{"the last record chained to a hash that is not its predecessor's", []string{first.Hash, "h2", other}, []string{"h2", "h3", "h4"}},
			{"a record chained to the hash of the record after it", []string{first.Hash, "h4", "h3"}, []string{"h2", "h3", "h4"}},
		} {
			err := insert([]int64{2, 3, 4}, c.prevs, c.hashes)
			if state := sqlState(err); state != integrityConstraintViolation {
				t.Errorf("%s: %s: error = %v, want the chain trigger to refuse it", name, c.what, err)
			}
		}
		if err := insert([]int64{2, 4}, []string{first.Hash, "h2"}, []string{"h2", "h4"}); sqlState(err) != integrityConstraintViolation {
			t.Errorf("%s: records with a gap between them: error = %v, want the chain trigger to refuse it", name, err)
		}
		var n int
		if err := s.write.QueryRow(ctx, "SELECT count(*) FROM audit").Scan(&n); err != nil || n != 1 {
			t.Fatalf("%s: after the refused statements the log holds %d records (%v), want the first only", name, n, err)
		}
	}
	// Both forms accept a well chained run; the second continues the first's.
	if err := statements["VALUES"]([]int64{2, 3}, []string{first.Hash, "h2"}, []string{"h2", "h3"}); err != nil {
		t.Errorf("VALUES: two records, each chained to its predecessor: %v", err)
	}
	if err := statements["SELECT unnest"]([]int64{4, 5}, []string{"h3", "h4"}, []string{"h4", "h5"}); err != nil {
		t.Errorf("SELECT unnest: two records, each chained to its predecessor: %v", err)
	}
}

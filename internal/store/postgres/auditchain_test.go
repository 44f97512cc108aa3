package postgres

import (
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

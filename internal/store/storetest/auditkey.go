package storetest

import (
	"errors"
	"testing"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/keyring"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// auditKeyTests are the conformance tests of the keyed audit chain (Store.SetAuditKey,
// Reader.AuditHead).
var auditKeyTests = []struct {
	name string
	fn   func(*testing.T, Factory)
}{
	{"AuditChainKeyedAfterSetAuditKeyAndHeadReported", testAuditKeyed},
}

// testAuditKeyed: records appended without a key are unkeyed; after SetAuditKey they are
// chained under the key (AppendAudit and AppendAudits alike, across a key change), list with
// their key id and survive a reopen; AuditHead reports the head and the first keyed record;
// the chain verifies with the keys; and once keyed, a store without a key cannot append.
func testAuditKeyed(t *testing.T, f Factory) {
	ctx := t.Context()
	s := f.Open(t)
	view(t, s, func(r store.Reader) error {
		head, keyedFrom, err := r.AuditHead(ctx)
		if err == nil && (head.Seq != 0 || keyedFrom != 0) {
			t.Errorf("AuditHead of an empty log = %d, keyed from %d; want 0, 0", head.Seq, keyedFrom)
		}
		return err
	})
	k1, err := keyring.New()
	if err != nil {
		t.Fatal(err)
	}
	k2, err := keyring.New()
	if err != nil {
		t.Fatal(err)
	}
	unkeyed := appendAudit(t, s, event(audit.ActionBootstrap, "", nil), event(audit.ActionCreate, "tok_a", nil))
	s.SetAuditKey(k1.CurrentAuditKey())
	keyed := appendAudit(t, s, event(audit.ActionIntrospect, "tok_a", nil))
	update(t, s, func(tx store.Tx) error {
		recs, err := tx.AppendAudits(ctx, []audit.Event{event(audit.ActionIntrospect, "tok_a", nil), event(audit.ActionRotate, "tok_a", nil)})
		keyed = append(keyed, recs...)
		return err
	})
	s.SetAuditKey(k2.CurrentAuditKey())
	keyed = append(keyed, appendAudit(t, s, event(audit.ActionRevoke, "tok_a", nil))...)
	all := append(append([]audit.Record(nil), unkeyed...), keyed...)
	prev := (*audit.Record)(nil)
	for i, rec := range all {
		var key *audit.Key
		switch {
		case i >= 5:
			key = k2.CurrentAuditKey()
		case i >= 2:
			key = k1.CurrentAuditKey()
		}
		expectSameRecord(t, audit.ChainKeyed(prev, int64(i+1), rec.Event, key), rec)
		prev = &all[i]
	}
	s = f.Reopen(t, s)
	var listed []audit.Record
	view(t, s, func(r store.Reader) error {
		var err error
		if listed, err = r.ListAudit(ctx, 0, 100); err != nil {
			return err
		}
		head, keyedFrom, err := r.AuditHead(ctx)
		if err != nil {
			return err
		}
		expectSameRecord(t, all[len(all)-1], head)
		if keyedFrom != 3 {
			t.Errorf("AuditHead keyed from %d, want 3", keyedFrom)
		}
		return nil
	})
	if len(listed) != len(all) {
		t.Fatalf("ListAudit after reopen = %d records, want %d", len(listed), len(all))
	}
	both := twoKeyrings{k1, k2}
	v := audit.NewVerifier(both)
	for i, rec := range listed {
		expectSameRecord(t, all[i], rec)
		if err := v.Add(rec); err != nil {
			t.Fatalf("keyed chain does not verify: %v", err)
		}
	}
	// The reopened store has no key: appending now would put an unkeyed record after keyed ones.
	err = s.Update(ctx, func(tx store.Tx) error {
		_, err := tx.AppendAudit(ctx, event(audit.ActionUpdate, "tok_a", nil))
		return err
	})
	if !errors.Is(err, store.ErrAuditKeyNeeded) {
		t.Fatalf("unkeyed append after keyed records: %v, want store.ErrAuditKeyNeeded", err)
	}
	view(t, s, func(r store.Reader) error {
		head, _, err := r.AuditHead(ctx)
		if err == nil && head.Seq != int64(len(all)) {
			t.Errorf("the refused append left head %d, want %d", head.Seq, len(all))
		}
		return err
	})
}

// twoKeyrings finds audit keys in either keyring.
type twoKeyrings [2]*keyring.Keyring

func (k twoKeyrings) AuditKey(id string) (*audit.Key, bool) {
	if key, ok := k[0].AuditKey(id); ok {
		return key, true
	}
	return k[1].AuditKey(id)
}

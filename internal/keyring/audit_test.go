package keyring

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
)

// A key file written before the audit keys existed (this file's format is unchanged: they
// are derived) gives the same audit and checkpoint keys on every load, without being
// rewritten; a new key set brings new ones and the old ones stay available.
func TestAuditKeys_derivedStablyAndRotatedWithTheKeySet(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokenguard.key")
	k1, _, err := LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path) //nolint:gosec // G304: a key file in the test's temporary directory
	if err != nil {
		t.Fatal(err)
	}
	again, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) { //nolint:gosec // G304: the same key file
		t.Fatal("loading the key file rewrote it")
	}
	ev := audit.Event{Time: time.Unix(1, 0), Actor: "a", Action: audit.ActionCreate, Outcome: "ok"}
	r1 := audit.ChainKeyed(nil, 1, ev, k1.CurrentAuditKey())
	if r1.KeyID != k1.KeyID() {
		t.Fatalf("record key id %q, want the key set id %q", r1.KeyID, k1.KeyID())
	}
	if r := audit.ChainKeyed(nil, 1, ev, again.CurrentAuditKey()); r.Hash != r1.Hash {
		t.Fatal("the audit key differs between two loads of one key file")
	}
	if r1.Hash == audit.Chain(nil, 1, ev).Hash {
		t.Fatal("a keyed record hashes like an unkeyed one")
	}
	cp := k1.SignCheckpoint(r1, 1, time.Now())
	if err := cp.Verify(again); err != nil {
		t.Fatalf("checkpoint signed by one load does not verify with another: %v", err)
	}

	newID, err := AddKey(path, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	k2, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	r2 := audit.ChainKeyed(&r1, 2, ev, k2.CurrentAuditKey())
	if r2.KeyID != newID || r2.Hash == audit.ChainKeyed(&r1, 2, ev, k1.CurrentAuditKey()).Hash {
		t.Fatal("the new key set does not bring a new audit key")
	}
	v := audit.NewVerifier(k2)
	if err := v.Expect([]audit.Checkpoint{cp, k2.SignCheckpoint(r2, 1, time.Now())}, k2); err != nil {
		t.Fatal(err)
	}
	for _, r := range []audit.Record{r1, r2} {
		if err := v.Add(r); err != nil {
			t.Fatalf("chain across the key rotation: %v", err)
		}
	}
	if err := v.Finish(); err != nil {
		t.Fatal(err)
	}
	if cp2 := k2.SignCheckpoint(r2, 1, time.Now()); cp2.Verify(k1) == nil {
		t.Fatal("a checkpoint of the new key set verifies with a keyring that lacks it")
	}
}

package audit

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// testKeys is a KeySource and CheckpointKeys of fixed keys.
type testKeys struct {
	audit map[string]*Key
	pub   map[string]ed25519.PublicKey
}

func (k testKeys) AuditKey(id string) (*Key, bool) { key, ok := k.audit[id]; return key, ok }
func (k testKeys) CheckpointKey(id string) (ed25519.PublicKey, bool) {
	p, ok := k.pub[id]
	return p, ok
}

func newTestKey(t testing.TB, id string) *Key {
	t.Helper()
	secret := make([]byte, MinKeySize)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	k, err := NewKey(id, secret)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// keyedChain builds a chain of n records: the first legacy ones unkeyed, then each record
// under keyFor(seq).
func keyedChain(n, legacy int, keyFor func(seq int64) *Key) []Record {
	var recs []Record
	var prev *Record
	for i := range n {
		seq := int64(i + 1)
		var key *Key
		if i >= legacy {
			key = keyFor(seq)
		}
		recs = append(recs, ChainKeyed(prev, seq, Event{Time: time.Date(2026, 12, 1, 0, 0, i, 0, time.UTC),
			Actor: "cred_admin", Action: ActionIntrospect, TokenID: fmt.Sprintf("tok_%d", i), Outcome: "ok"}, key))
		prev = &recs[len(recs)-1]
	}
	return recs
}

func verifyWith(v *Verifier, recs []Record) error {
	for _, r := range recs {
		if err := v.Add(r); err != nil {
			return err
		}
	}
	return v.Finish()
}

func TestNewKey_refusesEmptyIDAndShortKeys(t *testing.T) {
	if _, err := NewKey("", make([]byte, 32)); err == nil {
		t.Error("empty key id accepted")
	}
	if _, err := NewKey("k1", make([]byte, 31)); err == nil || !strings.Contains(err.Error(), "at least 32 bytes") {
		t.Errorf("31-byte key: %v", err)
	}
}

func TestVerifier_keyedChainAcrossAKeyRotationAndAnUnkeyedPrefix(t *testing.T) {
	k1, k2 := newTestKey(t, "k1"), newTestKey(t, "k2")
	keys := testKeys{audit: map[string]*Key{"k1": k1, "k2": k2}}
	recs := keyedChain(9, 3, func(seq int64) *Key {
		if seq < 6 {
			return k1
		}
		return k2
	})
	for _, r := range recs[3:] {
		if r.KeyID == "" || r.Hash == Chain(nil, r.Seq, r.Event).Hash {
			t.Fatalf("record %d is not keyed", r.Seq)
		}
	}
	v := NewVerifier(keys)
	if err := verifyWith(v, recs); err != nil {
		t.Fatalf("valid chain: %v", err)
	}
	if v.Count() != 9 || v.Head().Seq != 9 || v.Head().Hash != recs[8].Hash {
		t.Errorf("count %d head %d", v.Count(), v.Head().Seq)
	}
	// The unkeyed prefix is covered by the first keyed record: rewriting it breaks record 4.
	forged := make([]Record, 3)
	var prev *Record
	for i := range 3 {
		ev := recs[i].Event
		if i == 1 {
			ev.Outcome = "denied"
		}
		forged[i] = Chain(prev, int64(i+1), ev)
		prev = &forged[i]
	}
	err := verifyWith(NewVerifier(keys), append(forged, recs[3:]...))
	if !errors.Is(err, ErrBroken) || !strings.Contains(err.Error(), "at record 4:") {
		t.Errorf("rewritten unkeyed prefix: %v; want broken at record 4", err)
	}
}

func TestVerifier_refusesWhatNoKeyHolderCanForge(t *testing.T) {
	k1 := newTestKey(t, "k1")
	keys := testKeys{audit: map[string]*Key{"k1": k1}}
	attacker := newTestKey(t, "k1") // the right id, a guessed key
	other := newTestKey(t, "kX")
	cases := []struct {
		name    string
		recs    func() []Record
		wantSeq int64
		wantMsg string
	}{
		{"unkeyed record appended after keyed ones", func() []Record {
			r := keyedChain(4, 0, func(int64) *Key { return k1 })
			return append(r, Chain(&r[3], 5, r[3].Event))
		}, 5, "not keyed"},
		{"table re-chained unkeyed from record 3", func() []Record {
			r := keyedChain(5, 0, func(int64) *Key { return k1 })
			for i := 2; i < 5; i++ {
				r[i] = Chain(&r[i-1], int64(i+1), r[i].Event)
			}
			return r
		}, 3, "not keyed"},
		{"table re-chained under a guessed key with the real key id", func() []Record {
			return keyedChain(5, 0, func(int64) *Key { return attacker })
		}, 1, "altered"},
		{"record chained under a key the key file does not hold", func() []Record {
			r := keyedChain(3, 0, func(int64) *Key { return k1 })
			return append(r, ChainKeyed(&r[2], 4, r[2].Event, other))
		}, 4, "does not hold"},
		{"key id of a record changed", func() []Record {
			r := keyedChain(3, 0, func(int64) *Key { return k1 })
			r[1].KeyID = ""
			return r
		}, 2, ""},
		{"edited content", func() []Record {
			r := keyedChain(3, 0, func(int64) *Key { return k1 })
			r[2].Outcome = "inactive"
			return r
		}, 3, "altered"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := verifyWith(NewVerifier(keys), c.recs())
			if !errors.Is(err, ErrBroken) || !strings.Contains(err.Error(), fmt.Sprintf("at record %d:", c.wantSeq)) || !strings.Contains(err.Error(), c.wantMsg) {
				t.Errorf("error = %v; want ErrBroken at record %d saying %q", err, c.wantSeq, c.wantMsg)
			}
		})
	}
}

func TestVerifier_withoutKeysAsksForTheKeyFile(t *testing.T) {
	k1 := newTestKey(t, "k1")
	var v Verifier
	err := verifyWith(&v, keyedChain(2, 1, func(int64) *Key { return k1 }))
	if !errors.Is(err, ErrNoKey) || !strings.Contains(err.Error(), "record 2") || errors.Is(err, ErrBroken) {
		t.Errorf("error = %v; want ErrNoKey at record 2", err)
	}
}

func TestCheckpoint_detectsTruncationRollbackAndRechaining(t *testing.T) {
	k1 := newTestKey(t, "k1")
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keys := testKeys{audit: map[string]*Key{"k1": k1}, pub: map[string]ed25519.PublicKey{"k1": pub}}
	recs := keyedChain(8, 2, func(int64) *Key { return k1 })
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	cps := []Checkpoint{
		SignCheckpoint(recs[7], 3, at, "k1", priv),
		SignCheckpoint(recs[4], 3, at.Add(-time.Hour), "k1", priv),
		SignCheckpoint(Record{}, 0, at.Add(-2*time.Hour), "k1", priv),
	}
	// Through a file: many lines, blank lines allowed.
	var file bytes.Buffer
	for _, c := range cps {
		file.Write(c.MarshalLine())
		file.WriteString("\n")
	}
	read, err := ReadCheckpoints(&file, "cp.jsonl")
	if err != nil || len(read) != 3 {
		t.Fatalf("ReadCheckpoints = %d, %v", len(read), err)
	}
	check := func(recs []Record) error {
		v := NewVerifier(keys)
		if err := v.Expect(read, keys); err != nil {
			return err
		}
		return verifyWith(v, recs)
	}
	if err := check(recs); err != nil {
		t.Fatalf("the chain extends its checkpoints: %v", err)
	}
	if err := check(append(keyedChain(8, 2, func(int64) *Key { return k1 }), ChainKeyed(&recs[7], 9, recs[7].Event, k1))); err != nil {
		t.Fatalf("a longer chain extends its checkpoints: %v", err)
	}
	cases := []struct {
		name    string
		recs    []Record
		wantSeq int64
		wantMsg string
	}{
		{"truncated after record 6", recs[:6], 7, "truncated"},
		{"truncated to nothing", nil, 1, "truncated"},
		{"whole table re-chained unkeyed", func() []Record {
			out := make([]Record, len(recs))
			var prev *Record
			for i, r := range recs {
				out[i] = Chain(prev, r.Seq, r.Event)
				prev = &out[i]
			}
			return out
		}(), 3, "keyed from record 3"},
		{"rolled back to record 5 and appended under the key", func() []Record {
			out := append([]Record(nil), recs[:5]...)
			for i := 5; i < 8; i++ {
				ev := recs[i].Event
				ev.Outcome = "other"
				out = append(out, ChainKeyed(&out[i-1], int64(i+1), ev, k1))
			}
			return out
		}(), 8, "rolled back"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := check(c.recs)
			if !errors.Is(err, ErrBroken) || !strings.Contains(err.Error(), fmt.Sprintf("at record %d:", c.wantSeq)) || !strings.Contains(err.Error(), c.wantMsg) {
				t.Errorf("error = %v; want ErrBroken at record %d saying %q", err, c.wantSeq, c.wantMsg)
			}
		})
	}
}

func TestCheckpoint_refusesForgedCheckpoints(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	_, attackerPriv, _ := ed25519.GenerateKey(rand.Reader)
	keys := testKeys{pub: map[string]ed25519.PublicKey{"k1": pub}}
	head := Record{Seq: 4, Hash: strings.Repeat("a", 64)}
	good := SignCheckpoint(head, 1, time.Now(), "k1", priv)
	if err := good.Verify(keys); err != nil {
		t.Fatalf("good checkpoint: %v", err)
	}
	forgeries := map[string]Checkpoint{
		"signed with another key":   SignCheckpoint(head, 1, time.Now(), "k1", attackerPriv),
		"unknown key id":            SignCheckpoint(head, 1, time.Now(), "k9", priv),
		"seq lowered after signing": func() Checkpoint { c := good; c.Seq = 2; return c }(),
		"hash changed":              func() Checkpoint { c := good; c.Hash = strings.Repeat("b", 64); return c }(),
		"keyed_from changed":        func() Checkpoint { c := good; c.KeyedFrom = 0; return c }(),
		"time changed":              func() Checkpoint { c := good; c.Time = c.Time.Add(time.Second); return c }(),
	}
	for name, c := range forgeries {
		v := NewVerifier(nil)
		if err := v.Expect([]Checkpoint{good, c}, keys); !errors.Is(err, ErrBadCheckpoint) {
			t.Errorf("%s: Expect = %v; want ErrBadCheckpoint", name, err)
		}
	}
	if _, err := ReadCheckpoints(strings.NewReader(string(good.MarshalLine())+"not a checkpoint\n"), "f"); !errors.Is(err, ErrBadCheckpoint) || !strings.Contains(err.Error(), "f line 2") {
		t.Errorf("ReadCheckpoints of a bad line: %v", err)
	}
}

func BenchmarkChainKeyed(b *testing.B) {
	k := newTestKey(b, "k1")
	prev := ChainKeyed(nil, 1, Event{Time: time.Now(), Actor: "cred_x", Action: ActionIntrospect, TokenID: "tok_1", Outcome: "active"}, k)
	ev := prev.Event
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = ChainKeyed(&prev, int64(i+2), ev, k)
	}
}

func BenchmarkChainUnkeyed(b *testing.B) {
	prev := Chain(nil, 1, Event{Time: time.Now(), Actor: "cred_x", Action: ActionIntrospect, TokenID: "tok_1", Outcome: "active"})
	ev := prev.Event
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = Chain(&prev, int64(i+2), ev)
	}
}

func TestVerifier_withKeysRefusesAChainWithoutAKeyedRecord(t *testing.T) {
	keys := testKeys{audit: map[string]*Key{"k1": newTestKey(t, "k1")}}
	recs := keyedChain(3, 3, nil)
	if err := verifyWith(NewVerifier(keys), recs); !errors.Is(err, ErrBroken) || !strings.Contains(err.Error(), "at record 3:") {
		t.Errorf("all-unkeyed chain verified with keys: %v; want ErrBroken at record 3", err)
	}
	var v Verifier // a backup from before the upgrade: no key file
	if err := verifyWith(&v, recs); err != nil {
		t.Errorf("all-unkeyed chain without keys: %v", err)
	}
}

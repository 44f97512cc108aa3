package audit

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"
)

// Checkpoint is a signed statement of a chain's head: record Seq has hash Hash, at Time.
// The service signs one with the Ed25519 checkpoint key of key set KeyID and writes it
// outside the database; a chain that does not extend it was truncated, rolled back or
// rewritten. KeyedFrom is the sequence number of the chain's first keyed record (0 when it
// had none yet): no record from it on may be unkeyed.
type Checkpoint struct {
	Seq       int64     `json:"seq"`
	Hash      string    `json:"hash"`
	Time      time.Time `json:"time"`
	KeyedFrom int64     `json:"keyed_from"`
	KeyID     string    `json:"key_id"`
	Signature []byte    `json:"signature"`
}

// checkpointLine is the one-line JSON form of a Checkpoint in a checkpoint file.
type checkpointLine struct {
	Checkpoint *Checkpoint `json:"audit_checkpoint"`
}

// CheckpointKeys finds the public keys checkpoints are signed with. *keyring.Keyring is one.
type CheckpointKeys interface {
	// CheckpointKey returns the Ed25519 public key of key set id, or false when there is none.
	CheckpointKey(id string) (ed25519.PublicKey, bool)
}

// ErrBadCheckpoint is wrapped by the errors of checkpoints that cannot be trusted: a
// signature that does not verify, an unknown key, or a line that is not a checkpoint.
var ErrBadCheckpoint = errors.New("bad audit checkpoint")

// signedBytes is what the signature covers: every field, in a fixed text form.
func (c Checkpoint) signedBytes() []byte {
	b := []byte("tokenguard audit checkpoint v1\n")
	b = strconv.AppendInt(b, c.Seq, 10)
	b = append(b, '\n')
	b = append(b, c.Hash...)
	b = append(b, '\n')
	b = c.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, '\n')
	b = strconv.AppendInt(b, c.KeyedFrom, 10)
	b = append(b, '\n')
	return append(b, c.KeyID...)
}

// SignCheckpoint returns the checkpoint of head (Seq 0: an empty chain) at instant at, with
// keyedFrom the first keyed record's sequence number, signed with priv, the checkpoint key
// of key set keyID.
func SignCheckpoint(head Record, keyedFrom int64, at time.Time, keyID string, priv ed25519.PrivateKey) Checkpoint {
	c := Checkpoint{Seq: head.Seq, Hash: head.Hash, Time: at.UTC().Truncate(time.Microsecond), KeyedFrom: keyedFrom, KeyID: keyID}
	if head.Seq == 0 {
		c.Hash = GenesisHash
	}
	c.Signature = ed25519.Sign(priv, c.signedBytes())
	return c
}

// Verify checks c's signature with the checkpoint key its KeyID names in keys.
func (c Checkpoint) Verify(keys CheckpointKeys) error {
	pub, ok := keys.CheckpointKey(c.KeyID)
	if !ok {
		return fmt.Errorf("%w: the checkpoint of record %d names key %q, which the key file does not hold", ErrBadCheckpoint, c.Seq, c.KeyID)
	}
	if !ed25519.Verify(pub, c.signedBytes(), c.Signature) {
		return fmt.Errorf("%w: the signature of the checkpoint of record %d does not verify (a forged or altered checkpoint)", ErrBadCheckpoint, c.Seq)
	}
	return nil
}

// MarshalLine returns c as one line of a checkpoint file, with its newline.
func (c Checkpoint) MarshalLine() []byte {
	b, err := json.Marshal(checkpointLine{Checkpoint: &c})
	if err != nil { // only strings, numbers, a time and bytes: cannot fail
		panic(fmt.Sprintf("audit: encoding checkpoint: %v", err))
	}
	return append(b, '\n')
}

// ReadCheckpoints reads every checkpoint of a checkpoint file: one JSON line each, as
// MarshalLine writes; blank lines are skipped. Any other line is an error naming it (name is
// the file's name, for the message). Signatures are not checked here: see Verifier.Expect.
func ReadCheckpoints(r io.Reader, name string) ([]Checkpoint, error) {
	var out []Checkpoint
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var l checkpointLine
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil || l.Checkpoint == nil {
			return nil, fmt.Errorf("%w: %s line %d is not an audit checkpoint (a line written by tokenguard serve --audit-checkpoint or tokenguard audit checkpoint)", ErrBadCheckpoint, name, n)
		}
		out = append(out, *l.Checkpoint)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading checkpoints from %s: %w", name, err)
	}
	return out, nil
}

// Expect makes the verifier check that the chain extends every checkpoint of cps: the record
// of each checkpoint's Seq has its Hash (Add), no record from a checkpoint's KeyedFrom on is
// unkeyed (Add), and the chain does not end before any of them (Finish). Every signature is
// checked first with keys: a checkpoint that does not verify is refused (ErrBadCheckpoint)
// and nothing is expected. Call Expect (once: it replaces what an earlier call expected)
// before the first Add.
func (v *Verifier) Expect(cps []Checkpoint, keys CheckpointKeys) error {
	if v.prev != nil {
		return errors.New("audit: Expect must be called before the first record is added")
	}
	for _, c := range cps {
		if err := c.Verify(keys); err != nil {
			return err
		}
	}
	sorted := slices.Clone(cps)
	slices.SortStableFunc(sorted, func(a, b Checkpoint) int {
		switch {
		case a.Seq < b.Seq:
			return -1
		case a.Seq > b.Seq:
			return 1
		}
		return 0
	})
	// A checkpoint of the empty chain (Seq 0) says nothing about any record.
	for len(sorted) > 0 && sorted[0].Seq == 0 {
		if sorted[0].KeyedFrom > 0 && (v.keyedFrom == 0 || sorted[0].KeyedFrom < v.keyedFrom) {
			v.keyedFrom = sorted[0].KeyedFrom
		}
		sorted = sorted[1:]
	}
	for _, c := range sorted {
		if c.KeyedFrom > 0 && (v.keyedFrom == 0 || c.KeyedFrom < v.keyedFrom) {
			v.keyedFrom = c.KeyedFrom
		}
	}
	v.expect, v.next = sorted, 0
	return nil
}

// Package audit defines tokenguard's hash-chained audit log: the record shape, how each
// record's hash chains to the one before it, and the verification of a whole chain.
package audit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Actions recorded in the audit log.
const (
	ActionCreate     = "token.create"
	ActionUpdate     = "token.update"
	ActionRotate     = "token.rotate"
	ActionRenew      = "token.renew"
	ActionRevoke     = "token.revoke"
	ActionIntrospect = "token.introspect"
	ActionRefuse     = "token.refuse"
	ActionBootstrap  = "credential.bootstrap"
)

// Event is what a caller records; the store assigns Seq, PrevHash and Hash when it appends.
// An Event never holds a secret: tokens are referred to by id and keyed fingerprint.
type Event struct {
	Time        time.Time         `json:"time"`
	Actor       string            `json:"actor"`                 // credential id that acted
	Action      string            `json:"action"`                // one of the Action constants
	TokenID     string            `json:"token_id,omitempty"`    // token acted on
	Fingerprint string            `json:"fingerprint,omitempty"` // keyed fingerprint of the secret involved
	Outcome     string            `json:"outcome"`               // "ok", "denied", "inactive", ...
	Details     map[string]string `json:"details,omitempty"`     // non-secret facts: changed fields, reasons
}

// Record is an appended Event with its position and chain hashes (hex SHA-256).
type Record struct {
	Seq      int64  `json:"seq"`
	PrevHash string `json:"prev_hash"`
	Hash     string `json:"hash"`
	Event
}

// GenesisHash is the PrevHash of the first record.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// Chain returns the Record that follows prev (nil for the first record) with event as content.
func Chain(prev *Record, seq int64, event Event) Record {
	prevHash := GenesisHash
	if prev != nil {
		prevHash = prev.Hash
	}
	event.Time = event.Time.UTC().Truncate(time.Microsecond)
	r := Record{Seq: seq, PrevHash: prevHash, Event: event}
	r.Hash = r.computeHash()
	return r
}

// computeHash is SHA-256 over the previous hash, the sequence number and the canonical JSON
// of the event (encoding/json sorts map keys, so the encoding is deterministic).
func (r Record) computeHash() string {
	body, err := json.Marshal(r.Event)
	if err != nil { // Event holds only strings, a time and a string map: cannot fail
		panic(fmt.Sprintf("audit: encoding event: %v", err))
	}
	h := sha256.New()
	_, _ = fmt.Fprintf(h, "%s\n%d\n", r.PrevHash, r.Seq) // hash.Hash.Write never returns an error
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// ErrBroken is wrapped by the error Verify returns for a chain that does not verify.
var ErrBroken = errors.New("audit chain broken")

// Verifier checks records one at a time, in sequence order.
type Verifier struct {
	prev  *Record
	count int64
}

// Add checks r against the record before it. The error names the first bad record.
func (v *Verifier) Add(r Record) error {
	wantSeq := int64(1)
	wantPrev := GenesisHash
	if v.prev != nil {
		wantSeq = v.prev.Seq + 1
		wantPrev = v.prev.Hash
	}
	switch {
	case r.Seq != wantSeq:
		return fmt.Errorf("%w at record %d: expected sequence number %d (a record is missing or out of order)", ErrBroken, r.Seq, wantSeq)
	case r.PrevHash != wantPrev:
		return fmt.Errorf("%w at record %d: prev_hash does not match the hash of record %d", ErrBroken, r.Seq, wantSeq-1)
	case !hmac.Equal([]byte(r.Hash), []byte(r.computeHash())):
		return fmt.Errorf("%w at record %d: content does not match its hash (the record was altered)", ErrBroken, r.Seq)
	}
	rc := r
	v.prev = &rc
	v.count++
	return nil
}

// Count is the number of records verified so far.
func (v *Verifier) Count() int64 { return v.count }

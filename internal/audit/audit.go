// Package audit defines tokenguard's hash-chained audit log: the record shape, how each
// record's hash chains to the one before it, the verification of a whole chain, and the
// signed checkpoints that anchor a chain's head outside the database.
//
// A record's hash is an HMAC-SHA256 under an audit key (Key) that only the key file holds,
// and the record names that key's id. Records written before the chain was keyed (by
// tokenguard before the audit key existed) carry no key id and a plain SHA-256 hash; they are
// accepted only as a prefix of the chain: once a keyed record appears, every later record
// must be keyed, and the first keyed record's HMAC covers the hash of the last unkeyed one,
// so the unkeyed prefix cannot change either without breaking it.
package audit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"sync"
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
	// ActionKeyChain marks where a chain written before the audit key existed becomes keyed:
	// the service appends it, under the key, when it starts on a chain whose head is unkeyed.
	ActionKeyChain = "audit.key"
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

// Record is an appended Event with its position and chain hashes (hex). KeyID names the
// audit key whose HMAC Hash is; it is empty for an unkeyed record (plain SHA-256, written
// before the chain was keyed).
type Record struct {
	Seq      int64  `json:"seq"`
	PrevHash string `json:"prev_hash"`
	Hash     string `json:"hash"`
	KeyID    string `json:"key_id,omitempty"`
	Event
}

// GenesisHash is the PrevHash of the first record.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// MinKeySize is the shortest audit key NewKey accepts, in bytes.
const MinKeySize = 32

// Key is an audit key: the HMAC-SHA256 key records are chained under, with the id records
// name it by. Its HMAC state is prepared once and reused (hmac's Reset restores the keyed
// state without hashing the key again), so chaining a record costs one HMAC of its content.
// A Key is safe for concurrent use.
type Key struct {
	id     string
	prefix []byte    // what every keyed hash starts with: a version label and the key id
	macs   sync.Pool // of hash.Hash: HMAC-SHA256 under the key
}

// NewKey returns the audit key secret with id. The id must be non-empty (an empty key id
// marks an unkeyed record) and the secret at least MinKeySize bytes.
func NewKey(id string, secret []byte) (*Key, error) {
	if id == "" || len(id) > 255 {
		return nil, errors.New("audit key: the key id must be 1 to 255 bytes")
	}
	if len(secret) < MinKeySize {
		return nil, fmt.Errorf("audit key %q: the key must be at least %d bytes, found %d", id, MinKeySize, len(secret))
	}
	secret = append([]byte(nil), secret...)
	k := &Key{id: id, prefix: []byte("tokenguard audit record v2\n" + id + "\n")}
	k.macs.New = func() any { return hmac.New(sha256.New, secret) }
	return k, nil
}

// ID is the key id records chained under k carry.
func (k *Key) ID() string { return k.id }

// KeySource finds the audit keys a chain names. *keyring.Keyring is one.
type KeySource interface {
	// AuditKey returns the audit key with id, or false when there is none.
	AuditKey(id string) (*Key, bool)
}

// Chain returns the unkeyed Record that follows prev (nil for the first record) with event as
// content: the hash is plain SHA-256, which anyone can compute. The service never writes
// such records once it has an audit key (use ChainKeyed); Chain remains for chains written
// before the audit key existed, and a Verifier refuses an unkeyed record after a keyed one.
func Chain(prev *Record, seq int64, event Event) Record {
	return ChainKeyed(prev, seq, event, nil)
}

// ChainKeyed returns the Record that follows prev (nil for the first record) with event as
// content, its hash an HMAC under key (nil: unkeyed, as Chain).
func ChainKeyed(prev *Record, seq int64, event Event, key *Key) Record {
	prevHash := GenesisHash
	if prev != nil {
		prevHash = prev.Hash
	}
	event.Time = event.Time.UTC().Truncate(time.Microsecond)
	r := Record{Seq: seq, PrevHash: prevHash, Event: event}
	if key != nil {
		r.KeyID = key.id
	}
	r.Hash = r.computeHash(key)
	return r
}

// computeHash is the record's hash: over the previous hash, the sequence number and the
// canonical JSON of the event (encoding/json sorts map keys, so the encoding is
// deterministic). Unkeyed: SHA-256 of exactly that. Keyed: HMAC-SHA256 under key of a
// distinct prefix, the key id and the same fields, so no keyed hash can be replayed as an
// unkeyed one or under another key id.
func (r Record) computeHash(key *Key) string {
	body, err := json.Marshal(r.Event)
	if err != nil { // Event holds only strings, a time and a string map: cannot fail
		panic(fmt.Sprintf("audit: encoding event: %v", err))
	}
	var h hash.Hash
	if key == nil {
		h = sha256.New()
	} else {
		h = key.macs.Get().(hash.Hash)
		h.Reset()
		defer key.macs.Put(h)
		h.Write(key.prefix)
	}
	var buf [96]byte
	b := append(buf[:0], r.PrevHash...)
	b = append(b, '\n')
	b = strconv.AppendInt(b, r.Seq, 10)
	b = append(b, '\n')
	h.Write(b) // hash.Hash.Write never returns an error
	h.Write(body)
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0]))
}

// ErrBroken is wrapped by the error Verify returns for a chain that does not verify.
var ErrBroken = errors.New("audit chain broken")

// ErrNoKey is wrapped by the error a Verifier returns for a keyed record when it was given no
// keys at all: the record cannot be checked without the key file.
var ErrNoKey = errors.New("audit key needed")

// Verifier checks records one at a time, in sequence order, and the checkpoints it expects
// the chain to extend. The zero Verifier holds no keys: it checks unkeyed records only and
// answers ErrNoKey for a keyed one. Use NewVerifier to check keyed records.
type Verifier struct {
	keys  KeySource
	prev  *Record
	count int64
	// keyedSince is the sequence number of the first keyed record seen (0: none yet).
	keyedSince int64
	// expect are the checkpoints to meet, in sequence order; next is the first not yet met.
	expect []Checkpoint
	next   int
	// keyedFrom is the earliest KeyedFrom of the checkpoints (0: none): records from it on
	// must be keyed.
	keyedFrom int64
}

// NewVerifier returns a Verifier that checks keyed records with the keys of keys.
func NewVerifier(keys KeySource) *Verifier { return &Verifier{keys: keys} }

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
	}
	var key *Key
	if r.KeyID == "" {
		switch {
		case v.keyedSince > 0:
			return fmt.Errorf("%w at record %d: the record is not keyed, but the chain is keyed since record %d (records were forged or re-chained without the audit key)",
				ErrBroken, r.Seq, v.keyedSince)
		case v.keyedFrom > 0 && r.Seq >= v.keyedFrom:
			return fmt.Errorf("%w at record %d: the record is not keyed, but a signed checkpoint says the chain is keyed from record %d (records were forged or re-chained without the audit key)",
				ErrBroken, r.Seq, v.keyedFrom)
		}
	} else {
		if v.keys == nil {
			return fmt.Errorf("%w at record %d: it is chained under audit key %q: give the key file to verify it", ErrNoKey, r.Seq, r.KeyID)
		}
		var ok bool
		if key, ok = v.keys.AuditKey(r.KeyID); !ok {
			return fmt.Errorf("%w at record %d: it names audit key %q, which the key file does not hold (a forged record, or the wrong key file)",
				ErrBroken, r.Seq, r.KeyID)
		}
	}
	if !hmac.Equal([]byte(r.Hash), []byte(r.computeHash(key))) {
		return fmt.Errorf("%w at record %d: content does not match its hash (the record was altered)", ErrBroken, r.Seq)
	}
	if v.next < len(v.expect) && v.expect[v.next].Seq == r.Seq {
		for ; v.next < len(v.expect) && v.expect[v.next].Seq == r.Seq; v.next++ {
			if cp := v.expect[v.next]; cp.Hash != r.Hash {
				return fmt.Errorf("%w at record %d: its hash differs from the signed checkpoint of %s (the log was rolled back or rewritten up to here)",
					ErrBroken, r.Seq, cp.Time.Format(time.RFC3339))
			}
		}
	}
	if r.KeyID != "" && v.keyedSince == 0 {
		v.keyedSince = r.Seq
	}
	rc := r
	v.prev = &rc
	v.count++
	return nil
}

// Count is the number of records verified so far.
func (v *Verifier) Count() int64 { return v.count }

// Head is the last record verified (Seq 0 when none).
func (v *Verifier) Head() Record {
	if v.prev == nil {
		return Record{}
	}
	return *v.prev
}

// Finish reports a chain that ends before a checkpoint it was expected to extend (it was
// truncated or rolled back): the error names the first missing record. A Verifier with keys
// also refuses a non-empty chain without a single keyed record: the service keys every chain
// it serves (ActionKeyChain), so such a chain was re-chained without the key, or truncated
// to its unkeyed prefix (a backup from before the upgrade verifies with the zero Verifier).
// Call it after the last record.
func (v *Verifier) Finish() error {
	if v.next >= len(v.expect) {
		if v.keys != nil && v.count > 0 && v.keyedSince == 0 {
			return fmt.Errorf("%w at record %d: no record of the chain is keyed, but tokenguard keys every chain it serves (the chain was re-chained or truncated without the audit key; a backup from before the upgrade verifies without the key file)",
				ErrBroken, v.Head().Seq)
		}
		return nil
	}
	cp := v.expect[v.next]
	return fmt.Errorf("%w at record %d: the chain ends at record %d, but a signed checkpoint of %s has record %d (records were deleted: truncated or rolled back)",
		ErrBroken, v.Head().Seq+1, v.Head().Seq, cp.Time.Format(time.RFC3339), cp.Seq)
}

// Package keyring holds the token service's secret keys: the key file on disk and the keyed
// operations built on it (secret HMACs, fingerprints, blind indexes and AES-256-GCM sealing
// of personal fields).
//
// The file is JSON with one or more key sets, each with an id; the newest is current. New
// hashes and envelopes are made with the current set; envelopes carry their key id and hashes
// are stored with theirs, so a new key set can be added later without losing old data.
//
// Each key set also has an audit key (the HMAC key of the audit chain) and an Ed25519
// checkpoint key (which signs the chain's head). Both are derived with HKDF-SHA256 from the
// set's secret_hmac key under labels of their own, not stored: a key file written before
// they existed has them without being rewritten (key files are often read-only secret
// mounts shared by several instances, and a file rewritten at start-up by one instance
// while another reads it is a race no one needs), every instance on one key file derives
// the same keys, and a new key set (admin rekey --new-key) brings fresh ones with its fresh
// secret_hmac key. HKDF outputs under distinct labels are independent keys: knowing an audit
// key or a checkpoint signature reveals nothing of secret_hmac or of the other.
package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
)

// keySize is the size in bytes of every key: 256 bits.
const keySize = 32

// fileVersion is the version of the key file format written by this package.
const fileVersion = 1

// envelopeVersion is the first byte of every sealed envelope.
const envelopeVersion byte = 1

// ErrNoKey is wrapped by Open when an envelope names a key id the keyring does not hold.
var ErrNoKey = errors.New("key not in keyring")

// keySet is one generation of keys, identified by ID.
type keySet struct {
	ID          string    `json:"id"`
	CreatedAt   time.Time `json:"created_at"`
	SecretHMAC  []byte    `json:"secret_hmac"` // HMAC-SHA256 of token and credential secrets
	Seal        []byte    `json:"seal"`        // AES-256-GCM for personal fields and stored responses
	BlindIndex  []byte    `json:"blind_index"` // HMAC-SHA256 for equality lookups of personal values
	Fingerprint []byte    `json:"fingerprint"` // HMAC-SHA256 for log-safe references to secrets

	// The HMAC states of SecretHMAC, BlindIndex and Fingerprint, prepared by fromFile.
	secretMAC, blindIndexMAC, fingerprintMAC *keyedMAC
}

// keyedMAC computes HMAC-SHA256 under one key. Building an HMAC hashes the key into its
// inner and outer states; a pool keeps prepared ones, and Reset restores the keyed state
// without hashing the key again, so a secret's HMAC costs the hashing of the secret only
// (one key schedule fewer per call: about a third of the HMAC of a short secret).
type keyedMAC struct{ pool sync.Pool }

// newKeyedMAC prepares HMAC-SHA256 under key (which the caller no longer changes).
func newKeyedMAC(key []byte) *keyedMAC {
	m := &keyedMAC{}
	m.pool.New = func() any { return hmac.New(sha256.New, key) }
	return m
}

// sum returns HMAC-SHA256(key, value) in a fresh slice.
func (m *keyedMAC) sum(value string) []byte {
	h := m.pool.Get().(hash.Hash)
	h.Reset()
	_, _ = io.WriteString(h, value) // hash.Hash.Write never returns an error
	out := h.Sum(make([]byte, 0, sha256.Size))
	m.pool.Put(h)
	return out
}

// file is the on-disk shape of a key file.
type file struct {
	Version int      `json:"version"`
	Current string   `json:"current"`
	Keys    []keySet `json:"keys"`
}

// Keyring is a loaded key file. It is safe for concurrent use (it never changes after Load).
type Keyring struct {
	current *keySet
	byID    map[string]*keySet
	aeads   map[string]cipher.AEAD
	// audit and checkpoint are each key set's derived audit key and checkpoint signing key.
	audit      map[string]*audit.Key
	checkpoint map[string]ed25519.PrivateKey
}

// HKDF labels of the keys derived from a key set's secret_hmac key.
const (
	auditKeyLabel      = "tokenguard audit chain hmac v1"
	checkpointKeyLabel = "tokenguard audit checkpoint ed25519 v1"
)

// derive returns the keySize-byte key of label derived from secret with HKDF-SHA256.
func derive(secret []byte, label string) ([]byte, error) {
	return hkdf.Key(sha256.New, secret, nil, label, keySize)
}

// Load reads the key file at path. The file must not be readable or writable by group or
// others: a key file that is, is refused with an error saying how to fix it.
func Load(path string) (*Keyring, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading key file: %w", err)
	}
	if info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("key file %s has mode %04o: it must be readable only by its owner (run: chmod 600 %s)",
			path, info.Mode().Perm(), path)
	}
	f, err := readFile(path)
	if err != nil {
		return nil, err
	}
	k, err := fromFile(f)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return k, nil
}

func readFile(path string) (file, error) {
	raw, err := os.ReadFile(path) // #nosec G304 -- the operator chooses the key file path
	if err != nil {
		return file{}, fmt.Errorf("reading key file: %w", err)
	}
	var f file
	if err := json.Unmarshal(raw, &f); err != nil {
		// json's error quotes no key material: it names a position or a type only.
		return file{}, fmt.Errorf("key file %s is not valid JSON: %w", path, err)
	}
	return f, nil
}

// LoadOrCreate loads the key file at path, creating it with fresh random keys and mode 0600
// when it does not exist. created reports whether a new file was written.
func LoadOrCreate(path string) (k *Keyring, created bool, err error) {
	k, err = Load(path)
	if err == nil {
		return k, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	f, err := newFile(time.Now())
	if err != nil {
		return nil, false, err
	}
	if err := writeNew(path, f); err != nil {
		if errors.Is(err, fs.ErrExist) { // another process created it first: use theirs
			k, err = Load(path)
			return k, false, err
		}
		return nil, false, err
	}
	k, err = fromFile(f)
	return k, err == nil, err
}

// New returns a keyring with fresh random keys that lives only in memory (for tests).
func New() (*Keyring, error) {
	f, err := newFile(time.Now())
	if err != nil {
		return nil, err
	}
	return fromFile(f)
}

func newFile(now time.Time) (file, error) {
	ks := keySet{CreatedAt: now.UTC().Truncate(time.Second)}
	idBytes := make([]byte, 4)
	for _, dst := range []*[]byte{&idBytes, &ks.SecretHMAC, &ks.Seal, &ks.BlindIndex, &ks.Fingerprint} {
		if *dst == nil {
			*dst = make([]byte, keySize)
		}
		if _, err := rand.Read(*dst); err != nil {
			return file{}, fmt.Errorf("generating keys: %w", err)
		}
	}
	ks.ID = "k" + hex.EncodeToString(idBytes)
	return file{Version: fileVersion, Current: ks.ID, Keys: []keySet{ks}}, nil
}

// writeNew writes f to path with mode 0600, failing with fs.ErrExist if path exists. The
// temporary file is hard-linked into place, and a link never replaces an existing file, so a
// crash never leaves a half-written key file behind and keys are never overwritten.
func writeNew(path string, f file) error {
	return writeKeyFile(path, f, func(tmpName string) error {
		if err := os.Link(tmpName, path); err != nil {
			return fmt.Errorf("creating key file %s: %w", path, err)
		}
		return nil
	})
}

// writeKeyFile writes f to a temporary file in the directory of path (mode 0600), syncs and
// closes it, then calls place with the temporary file's name to put it at path, and syncs
// the directory. place decides what may happen to an existing file: writeNew links (never
// overwrite), replace renames (atomic replacement). The temporary file is removed whatever
// happens, so a failed step leaves path as it was.
func writeKeyFile(path string, f file, place func(tmpName string) error) error {
	body, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding key file: %w", err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".tokenguard-key-*")
	if err != nil {
		return fmt.Errorf("writing key file in %s: %w", dir, err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) //nolint:errcheck // best effort: gone after a successful rename, a leftover name after a link
	// On a failed step the temporary file is abandoned (and removed above), so its Close
	// error adds nothing to the error already being returned.
	if err := tmp.Chmod(0o600); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("writing key file: %w", err)
	}
	if _, err := tmp.Write(append(body, '\n')); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("writing key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("writing key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing key file: %w", err)
	}
	if err := place(tmpName); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil { //nolint:gosec // G304: the directory of the key file the operator named
		// Best effort: the key file is already complete and in place.
		_ = d.Sync()
		_ = d.Close() // a read-only directory handle: closing it cannot lose data
	}
	return nil
}

func fromFile(f file) (*Keyring, error) {
	if f.Version != fileVersion {
		return nil, fmt.Errorf("unsupported key file version %d (this build reads version %d)", f.Version, fileVersion)
	}
	if len(f.Keys) == 0 {
		return nil, errors.New("no keys in key file")
	}
	k := &Keyring{byID: map[string]*keySet{}, aeads: map[string]cipher.AEAD{},
		audit: map[string]*audit.Key{}, checkpoint: map[string]ed25519.PrivateKey{}}
	for i := range f.Keys {
		ks := &f.Keys[i]
		if ks.ID == "" || len(ks.ID) > 255 {
			return nil, fmt.Errorf("key set %d has no valid id", i+1)
		}
		if _, dup := k.byID[ks.ID]; dup {
			return nil, fmt.Errorf("key id %q appears twice", ks.ID)
		}
		for name, key := range map[string][]byte{"secret_hmac": ks.SecretHMAC, "seal": ks.Seal, "blind_index": ks.BlindIndex, "fingerprint": ks.Fingerprint} {
			if len(key) != keySize {
				return nil, fmt.Errorf("key set %q: %s must be %d bytes, found %d", ks.ID, name, keySize, len(key))
			}
		}
		block, err := aes.NewCipher(ks.Seal)
		if err != nil {
			return nil, fmt.Errorf("key set %q: %w", ks.ID, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("key set %q: %w", ks.ID, err)
		}
		ks.secretMAC, ks.blindIndexMAC, ks.fingerprintMAC = newKeyedMAC(ks.SecretHMAC), newKeyedMAC(ks.BlindIndex), newKeyedMAC(ks.Fingerprint)
		k.byID[ks.ID] = ks
		k.aeads[ks.ID] = aead
		auditSecret, err := derive(ks.SecretHMAC, auditKeyLabel)
		if err != nil {
			return nil, fmt.Errorf("key set %q: deriving the audit key: %w", ks.ID, err)
		}
		if k.audit[ks.ID], err = audit.NewKey(ks.ID, auditSecret); err != nil {
			return nil, err
		}
		seed, err := derive(ks.SecretHMAC, checkpointKeyLabel)
		if err != nil {
			return nil, fmt.Errorf("key set %q: deriving the checkpoint key: %w", ks.ID, err)
		}
		k.checkpoint[ks.ID] = ed25519.NewKeyFromSeed(seed)
	}
	cur, ok := k.byID[f.Current]
	if !ok {
		return nil, fmt.Errorf("current key id %q is not among the keys", f.Current)
	}
	k.current = cur
	return k, nil
}

// KeyID is the id of the current key set.
func (k *Keyring) KeyID() string { return k.current.ID }

// AuditKey returns the audit key of key set id (audit.KeySource).
func (k *Keyring) AuditKey(id string) (*audit.Key, bool) {
	key, ok := k.audit[id]
	return key, ok
}

// CurrentAuditKey is the audit key of the current key set: new audit records are chained
// under it.
func (k *Keyring) CurrentAuditKey() *audit.Key { return k.audit[k.current.ID] }

// CheckpointKey returns the public checkpoint key of key set id (audit.CheckpointKeys).
func (k *Keyring) CheckpointKey(id string) (ed25519.PublicKey, bool) {
	priv, ok := k.checkpoint[id]
	if !ok {
		return nil, false
	}
	return priv.Public().(ed25519.PublicKey), true
}

// SignCheckpoint signs the checkpoint of the audit chain's head (see audit.SignCheckpoint)
// with the current key set's checkpoint key.
func (k *Keyring) SignCheckpoint(head audit.Record, keyedFrom int64, at time.Time) audit.Checkpoint {
	return audit.SignCheckpoint(head, keyedFrom, at, k.current.ID, k.checkpoint[k.current.ID])
}

// HashSecret returns HMAC-SHA256 of secret under the current key, and that key's id.
func (k *Keyring) HashSecret(secret string) (hash []byte, keyID string) {
	return k.current.secretMAC.sum(secret), k.current.ID
}

// SecretHashes returns the HMAC of secret under every key set, the current one first and
// then the others in id order, for lookups that must also find secrets hashed before a key
// rotation.
func (k *Keyring) SecretHashes(secret string) [][]byte {
	out := [][]byte{k.current.secretMAC.sum(secret)}
	for _, id := range k.KeyIDs() {
		if id != k.current.ID {
			out = append(out, k.byID[id].secretMAC.sum(secret))
		}
	}
	return out
}

// KeyIDs returns the ids of every key set of the keyring, in id order.
func (k *Keyring) KeyIDs() []string {
	ids := make([]string, 0, len(k.byID))
	for id := range k.byID {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// EnvelopeKeyID returns the id of the key set an envelope made by Seal was sealed with,
// without decrypting it.
func (k *Keyring) EnvelopeKeyID(envelope []byte) (string, error) {
	if len(envelope) < 2 || envelope[0] != envelopeVersion {
		return "", errors.New("reading sealed value: unknown envelope format")
	}
	idLen := int(envelope[1])
	if len(envelope) < 2+idLen {
		return "", errors.New("reading sealed value: truncated envelope")
	}
	return string(envelope[2 : 2+idLen]), nil
}

// Fingerprint returns a keyed, non-reversible reference to secret that is safe to log:
// "fp_" followed by 16 hex characters.
func (k *Keyring) Fingerprint(secret string) string {
	return "fp_" + hex.EncodeToString(k.current.fingerprintMAC.sum(secret)[:8])
}

// BlindIndex returns a keyed hash of value (64 hex characters) for equality lookups of
// personal values stored encrypted. Callers normalise value first (e.g. lower case) when
// lookups should ignore such differences.
func (k *Keyring) BlindIndex(value string) string {
	return hex.EncodeToString(k.current.blindIndexMAC.sum(value))
}

// Seal encrypts plaintext with AES-256-GCM under the current key. The envelope is
// version byte, key id length, key id, 12-byte nonce, ciphertext and tag.
func (k *Keyring) Seal(plaintext []byte) ([]byte, error) {
	id := k.current.ID
	aead := k.aeads[id]
	out := make([]byte, 0, 2+len(id)+aead.NonceSize()+len(plaintext)+aead.Overhead())
	out = append(out, envelopeVersion, byte(len(id))) //nolint:gosec // G115: fromFile rejects key ids longer than 255 bytes
	out = append(out, id...)
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("sealing: reading random nonce: %w", err)
	}
	out = append(out, nonce...)
	header := append([]byte(nil), out[:2+len(id)]...) // the header is authenticated too
	return aead.Seal(out, nonce, plaintext, header), nil
}

// Open decrypts an envelope made by Seal with any key set of the keyring.
func (k *Keyring) Open(envelope []byte) ([]byte, error) {
	if len(envelope) < 2 || envelope[0] != envelopeVersion {
		return nil, errors.New("opening sealed value: unknown envelope format")
	}
	idLen := int(envelope[1])
	if len(envelope) < 2+idLen {
		return nil, errors.New("opening sealed value: truncated envelope")
	}
	id := string(envelope[2 : 2+idLen])
	aead, ok := k.aeads[id]
	if !ok {
		return nil, fmt.Errorf("opening sealed value: %w: %q (is this the right key file?)", ErrNoKey, id)
	}
	rest := envelope[2+idLen:]
	if len(rest) < aead.NonceSize()+aead.Overhead() {
		return nil, errors.New("opening sealed value: truncated envelope")
	}
	plain, err := aead.Open(nil, rest[:aead.NonceSize()], rest[aead.NonceSize():], envelope[:2+idLen])
	if err != nil {
		return nil, errors.New("opening sealed value: authentication failed (altered data or wrong key file)")
	}
	return plain, nil
}

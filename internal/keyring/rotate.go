package keyring

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// MaxKeySets is the most key sets a key file may hold; AddKey refuses to add one more.
// Every verification of a secret hashes it once per key set, so the list must stay short:
// drop a retired set once nothing sealed or hashed under it remains.
const MaxKeySets = 16

// AddKey adds a new key set to the key file at path and makes it current, keeping every
// older set so data sealed or hashed under them stays readable and verifiable. It returns
// the new set's id.
//
// The new set has fresh secret-HMAC and sealing keys. Its blind-index and fingerprint keys
// are copied from the current set: blind indexes back uniqueness (owner and name) and
// lookups (owner, data subject) in the database, and fingerprints in the audit log refer to
// secrets across their whole life, so both must stay stable across a rotation. Only the keys
// that protect secrets and personal fields rotate.
//
// The file is replaced atomically (temporary file, fsync, rename, directory fsync) with mode
// 0600; a crash leaves either the old or the new file, never a mix. Running services keep
// their loaded keyring: restart them to use the new key.
func AddKey(path string, now time.Time) (string, error) {
	if _, err := Load(path); err != nil { // mode and content checks
		return "", err
	}
	// Two concurrent AddKey calls would each write the file without the other's new key, and
	// data sealed under the lost key would become unreadable: serialise them with a lock file.
	lockPath := path + ".lock"
	lock, err := os.OpenFile(lockPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) // #nosec G304 -- next to the operator's key file
	if errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("another key change holds %s: wait for it, or delete the file if no tokenguard admin command is running", lockPath)
	}
	if err != nil {
		return "", fmt.Errorf("locking the key file: %w", err)
	}
	// Nothing is written to the lock file (its existence is the lock), so Close has nothing to lose.
	_ = lock.Close()
	defer os.Remove(lockPath) //nolint:errcheck // best effort; a leftover lock names itself in the error above
	f, err := readFile(path)
	if err != nil {
		return "", err
	}
	if len(f.Keys) >= MaxKeySets {
		return "", fmt.Errorf("key file %s already holds %d key sets, the most allowed: remove a retired one first", path, len(f.Keys))
	}
	var cur *keySet
	for i := range f.Keys {
		if f.Keys[i].ID == f.Current {
			cur = &f.Keys[i]
		}
	}
	if cur == nil {
		return "", fmt.Errorf("key file %s: current key id %q is not among the keys", path, f.Current)
	}
	ks := keySet{CreatedAt: now.UTC().Truncate(time.Second), BlindIndex: cur.BlindIndex, Fingerprint: cur.Fingerprint}
	for {
		idBytes := make([]byte, 4)
		if _, err := rand.Read(idBytes); err != nil {
			return "", fmt.Errorf("generating keys: %w", err)
		}
		ks.ID = "k" + hex.EncodeToString(idBytes)
		taken := false
		for _, old := range f.Keys {
			taken = taken || old.ID == ks.ID
		}
		if !taken {
			break
		}
	}
	for _, dst := range []*[]byte{&ks.SecretHMAC, &ks.Seal} {
		*dst = make([]byte, keySize)
		if _, err := rand.Read(*dst); err != nil {
			return "", fmt.Errorf("generating keys: %w", err)
		}
	}
	f.Keys = append(f.Keys, ks)
	f.Current = ks.ID
	if _, err := fromFile(f); err != nil {
		return "", fmt.Errorf("key file %s: %w", path, err)
	}
	if err := replace(path, f); err != nil {
		return "", err
	}
	return ks.ID, nil
}

// replace atomically replaces the key file at path with f, mode 0600: the temporary file is
// renamed over path, so a reader sees either the old file or the new one.
func replace(path string, f file) error {
	return writeKeyFile(path, f, func(tmpName string) error {
		if err := os.Rename(tmpName, path); err != nil {
			return fmt.Errorf("replacing key file %s: %w", path, err)
		}
		return nil
	})
}

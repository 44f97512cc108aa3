package keyring

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAddKey_newCurrentKeyOldDataStaysReadableIndexesStayStable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokenguard.key")
	k1, _, err := LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	oldEnvelope, err := k1.Seal([]byte("owner@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	oldHash, oldID := k1.HashSecret("tg_live_secret")

	newID, err := AddKey(path, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if newID == oldID || newID == "" {
		t.Fatalf("AddKey id = %q, old id %q: want a new id", newID, oldID)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file after AddKey: %v, mode %v; want 0600", err, info.Mode().Perm())
	}
	k2, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if k2.KeyID() != newID {
		t.Fatalf("current key = %s, want %s", k2.KeyID(), newID)
	}
	if got := k2.KeyIDs(); len(got) != 2 {
		t.Fatalf("KeyIDs = %v, want two", got)
	}
	// Old ciphertext stays readable under its key id.
	if id, _ := k2.EnvelopeKeyID(oldEnvelope); id != oldID {
		t.Fatalf("EnvelopeKeyID(old) = %s, want %s", id, oldID)
	}
	if plain, err := k2.Open(oldEnvelope); err != nil || string(plain) != "owner@example.com" {
		t.Fatalf("Open(old envelope) = %q, %v", plain, err)
	}
	// New ciphertext uses the new key, which the old keyring does not hold.
	newEnvelope, err := k2.Seal([]byte("owner@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := k2.EnvelopeKeyID(newEnvelope); id != newID {
		t.Fatalf("EnvelopeKeyID(new) = %s, want %s", id, newID)
	}
	if _, err := k1.Open(newEnvelope); !errors.Is(err, ErrNoKey) {
		t.Fatalf("old keyring opening a new envelope = %v, want ErrNoKey", err)
	}
	// Secret hashes: new ones under the new key; the old hash is still among the lookups.
	newHash, hashID := k2.HashSecret("tg_live_secret")
	if hashID != newID || bytes.Equal(newHash, oldHash) {
		t.Fatalf("HashSecret after AddKey = key %s (same hash %v), want key %s and a new hash", hashID, bytes.Equal(newHash, oldHash), newID)
	}
	hashes := k2.SecretHashes("tg_live_secret")
	if len(hashes) != 2 || !bytes.Equal(hashes[0], newHash) || !bytes.Equal(hashes[1], oldHash) {
		t.Fatalf("SecretHashes = %x, want [new, old]", hashes)
	}
	// Blind indexes and fingerprints do not change.
	if k1.BlindIndex("owner:x") != k2.BlindIndex("owner:x") {
		t.Fatal("blind index changed across AddKey")
	}
	if k1.Fingerprint("tg_live_secret") != k2.Fingerprint("tg_live_secret") {
		t.Fatal("fingerprint changed across AddKey")
	}
	// No temporary file is left behind.
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("directory holds %d entries after AddKey, want only the key file", len(entries))
	}
}

func TestAddKey_refusesBeyondMaxKeySetsAndBadFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tokenguard.key")
	if _, _, err := LoadOrCreate(path); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < MaxKeySets; i++ {
		if _, err := AddKey(path, time.Now()); err != nil {
			t.Fatalf("AddKey #%d: %v", i, err)
		}
	}
	before, err := os.ReadFile(path) //nolint:gosec // G304: a key file in the test's temporary directory
	if err != nil {
		t.Fatal(err)
	}
	if _, err := AddKey(path, time.Now()); err == nil || !strings.Contains(err.Error(), "remove a retired one") {
		t.Fatalf("AddKey beyond %d sets = %v, want a refusal", MaxKeySets, err)
	}
	after, err := os.ReadFile(path) //nolint:gosec // G304: a key file in the test's temporary directory
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Fatal("a refused AddKey changed the key file")
	}
	if _, err := AddKey(filepath.Join(dir, "missing.key"), time.Now()); err == nil {
		t.Fatal("AddKey on a missing file succeeded")
	}
	// A concurrent key change (its lock file present) is refused, not raced.
	if err := os.WriteFile(path+".lock", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := AddKey(path, time.Now()); err == nil || !strings.Contains(err.Error(), "another key change holds") {
		t.Fatalf("AddKey while locked = %v, want a refusal naming the lock", err)
	}
	if err := os.Remove(path + ".lock"); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil { //nolint:gosec // G302: the world-readable mode is what this test must refuse
		t.Fatal(err)
	}
	if _, err := AddKey(path, time.Now()); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("AddKey on a world-readable file = %v, want the mode error", err)
	}
}

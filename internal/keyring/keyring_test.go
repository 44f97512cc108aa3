package keyring

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestLoadOrCreateWritesOwnerOnlyFileAndReloadsSameKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokenguard.key")
	k1, created, err := LoadOrCreate(path)
	if err != nil || !created {
		t.Fatalf("LoadOrCreate = created %v, err %v; want a new file", created, err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %04o, want 0600", info.Mode().Perm())
	}
	k2, created, err := LoadOrCreate(path)
	if err != nil || created {
		t.Fatalf("second LoadOrCreate = created %v, err %v; want the existing file", created, err)
	}
	h1, id1 := k1.HashSecret("s3cret")
	h2, id2 := k2.HashSecret("s3cret")
	if !bytes.Equal(h1, h2) || id1 != id2 || id1 == "" {
		t.Fatalf("reloaded keyring hashes differently: %x/%s vs %x/%s", h1, id1, h2, id2)
	}
	sealed, err := k1.Seal([]byte("owner@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := k2.Open(sealed)
	if err != nil || string(plain) != "owner@example.com" {
		t.Fatalf("Open after reload = %q, %v", plain, err)
	}
}

func TestLoadRefusesGroupReadableKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokenguard.key")
	if _, _, err := LoadOrCreate(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o640); err != nil { //nolint:gosec // G302: the group-readable mode is what this test must refuse
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("Load of a 0640 key file = %v, want an error telling to chmod 600", err)
	}
}

func TestLoadRejectsShortKeysNamingTheField(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokenguard.key")
	body, _ := json.Marshal(file{Version: 1, Current: "k1", Keys: []keySet{{ID: "k1", SecretHMAC: make([]byte, 32), Seal: make([]byte, 16), BlindIndex: make([]byte, 32), Fingerprint: make([]byte, 32)}}})
	if err := os.WriteFile(path, body, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), "seal must be 32 bytes") {
		t.Fatalf("Load = %v, want an error naming the seal key", err)
	}
}

func TestFingerprintAndBlindIndexAreKeyedAndStable(t *testing.T) {
	a, _ := New()
	b, _ := New()
	fp := a.Fingerprint("tg_live_x")
	if !regexp.MustCompile(`^fp_[0-9a-f]{16}$`).MatchString(fp) {
		t.Fatalf("fingerprint %q does not have the form fp_<16 hex>", fp)
	}
	if fp != a.Fingerprint("tg_live_x") {
		t.Fatal("fingerprint is not stable")
	}
	if fp == b.Fingerprint("tg_live_x") {
		t.Fatal("fingerprints under different keys are equal: not keyed")
	}
	first, again := a.BlindIndex("customer:1"), a.BlindIndex("customer:1")
	if first == a.BlindIndex("customer:2") || first != again {
		t.Fatal("blind index is not a stable function of the value")
	}
	if strings.Contains(a.BlindIndex("customer:1"), "customer") {
		t.Fatal("blind index reveals its value")
	}
}

func TestOpenRejectsAlteredEnvelopeAndForeignKey(t *testing.T) {
	a, _ := New()
	b, _ := New()
	sealed, err := a.Seal([]byte("customer:4411"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("customer:4411")) {
		t.Fatal("sealed envelope contains its plaintext")
	}
	altered := bytes.Clone(sealed)
	altered[len(altered)-1] ^= 1
	if _, err := a.Open(altered); err == nil || !strings.Contains(err.Error(), "authentication failed") {
		t.Fatalf("Open(altered) = %v, want authentication failure", err)
	}
	if _, err := b.Open(sealed); !errors.Is(err, ErrNoKey) {
		t.Fatalf("Open with another keyring = %v, want ErrNoKey", err)
	}
	if _, err := a.Open([]byte{1}); err == nil {
		t.Fatal("Open of a truncated envelope succeeded")
	}
}

func TestSecretHashesFindsHashesOfEveryKeySet(t *testing.T) {
	f1, _ := newFile(testTime)
	f2, _ := newFile(testTime)
	both := file{Version: 1, Current: f2.Current, Keys: append(f2.Keys, f1.Keys...)}
	old, err := fromFile(f1)
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := fromFile(both)
	if err != nil {
		t.Fatal(err)
	}
	oldHash, _ := old.HashSecret("s")
	hashes := rotated.SecretHashes("s")
	if len(hashes) != 2 || bytes.Equal(hashes[0], oldHash) || !bytes.Equal(hashes[1], oldHash) {
		t.Fatalf("SecretHashes did not put the current key first and the old key second")
	}
	sealedOld, _ := old.Seal([]byte("v"))
	if p, err := rotated.Open(sealedOld); err != nil || string(p) != "v" {
		t.Fatalf("rotated keyring cannot open an envelope of the old key: %v", err)
	}
}

var testTime = mustTime("2026-01-02T03:04:05Z")

func mustTime(s string) (t time.Time) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// writeNew never overwrites an existing key file, replace does, and a failed placement leaves
// the file as it was; none of them leaves a temporary file behind.
func TestKeyFileWriters_linkNeverOverwritesRenameReplacesFailureLeavesNoTrace(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tokenguard.key")
	first, err := newFile(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	second, err := newFile(time.Date(2030, 2, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	onDisk := func() file {
		t.Helper()
		f, err := readFile(path)
		if err != nil {
			t.Fatalf("reading the key file: %v", err)
		}
		return f
	}
	onlyTheKeyFile := func(step string) {
		t.Helper()
		entries, err := os.ReadDir(dir)
		if err != nil || len(entries) != 1 || entries[0].Name() != "tokenguard.key" {
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Errorf("after %s the directory holds %v (%v), want only tokenguard.key", step, names, err)
		}
	}

	if err := writeNew(path, first); err != nil {
		t.Fatalf("writeNew: %v", err)
	}
	if got := onDisk(); got.Current != first.Current {
		t.Fatalf("key file current = %s, want %s", got.Current, first.Current)
	}
	onlyTheKeyFile("writeNew")

	err = writeNew(path, second)
	if !errors.Is(err, os.ErrExist) || !strings.HasPrefix(err.Error(), "creating key file "+path+": ") {
		t.Errorf("writeNew over an existing file = %v, want creating key file %s: ... file exists", err, path)
	}
	if got := onDisk(); got.Current != first.Current {
		t.Errorf("writeNew replaced the existing keys: current %s, want %s", got.Current, first.Current)
	}
	onlyTheKeyFile("a refused writeNew")

	if err := replace(path, second); err != nil {
		t.Fatalf("replace: %v", err)
	}
	if got := onDisk(); got.Current != second.Current {
		t.Errorf("after replace current = %s, want %s", got.Current, second.Current)
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("after replace: %v, %v; want mode 0600", info, err)
	}
	onlyTheKeyFile("replace")

	placeFailed := errors.New("placement failed")
	if err := writeKeyFile(path, first, func(string) error { return placeFailed }); !errors.Is(err, placeFailed) {
		t.Errorf("writeKeyFile with a failing placement = %v, want its error", err)
	}
	if got := onDisk(); got.Current != second.Current {
		t.Errorf("a failed placement changed the key file: current %s, want %s", got.Current, second.Current)
	}
	onlyTheKeyFile("a failed placement")
}

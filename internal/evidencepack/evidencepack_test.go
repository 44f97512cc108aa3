package evidencepack

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
)

func smallPack(t *testing.T) Pack {
	t.Helper()
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	p, err := Build(Input{GeneratedAt: at, Endpoint: "https://tokens.example.com",
		Checkpoint: Checkpoint{Kind: CheckpointSigned, Checkpoint: audit.Checkpoint{Seq: 7, Hash: strings.Repeat("a", 64), Time: at}, ChainVerified: true, Records: 7},
		Citations:  []Citation{{Seq: 7, Hash: strings.Repeat("a", 64), What: "audit checkpoint"}}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheck_roundTripsThroughZipAndDirectory(t *testing.T) {
	p := smallPack(t)
	tmp := t.TempDir()
	for _, dest := range []string{filepath.Join(tmp, "p.zip"), filepath.Join(tmp, "dir")} {
		if err := Write(p, dest, time.Unix(0, 0)); err != nil {
			t.Fatal(err)
		}
		back, err := Read(dest)
		if err != nil {
			t.Fatal(err)
		}
		m, cites, err := Check(back)
		if err != nil || len(m.Files) != 9 || len(cites) != 1 || m.Checkpoint.Seq != 7 {
			t.Errorf("%s: Check = %d files, %v citations, %v", dest, len(m.Files), cites, err)
		}
	}
	if err := Write(p, filepath.Join(tmp, "p.zip"), time.Unix(0, 0)); err == nil {
		t.Error("Write over an existing zip succeeded")
	}
}

// TestCheck_refusesAnEquivalentButChangedManifest: JSON-equivalent whitespace or a
// re-encoded manifest is still a changed byte.
func TestCheck_refusesAnEquivalentButChangedManifest(t *testing.T) {
	for name, change := range map[string]func([]byte) []byte{
		"indentation":     func(b []byte) []byte { return bytes.Replace(b, []byte("\n  "), []byte("\n   "), 1) },
		"trailing space":  func(b []byte) []byte { return append(bytes.TrimRight(b, "\n"), ' ', '\n') },
		"escaped letter":  func(b []byte) []byte { return bytes.Replace(b, []byte(`"format"`), []byte(`"\u0066ormat"`), 1) },
		"digest changed":  func(b []byte) []byte { return bytes.Replace(b, []byte(`"digest": "`), []byte(`"digest": "0`), 1) },
		"unknown field":   func(b []byte) []byte { return bytes.Replace(b, []byte(`{`), []byte(`{"signed": true,`), 1) },
		"not json at all": func([]byte) []byte { return []byte("hello") },
	} {
		p := smallPack(t)
		p[ManifestName] = change(bytes.Clone(p[ManifestName]))
		if _, _, err := Check(p); !errors.Is(err, ErrTampered) {
			t.Errorf("%s: Check = %v, want ErrTampered", name, err)
		}
	}
	if _, _, err := Check(Pack{"index.html": []byte("x")}); err == nil || !strings.Contains(err.Error(), "no manifest.json") {
		t.Errorf("Check without a manifest = %v", err)
	}
}

func TestRead_refusesNestedAndDuplicateEntries(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Read of a directory with a sub-directory = %v", err)
	}
	notZip := filepath.Join(t.TempDir(), "x.zip")
	_ = os.WriteFile(notZip, []byte("not a zip"), 0o600)
	if _, err := Read(notZip); err == nil || !strings.Contains(err.Error(), "neither a directory nor a zip") {
		t.Errorf("Read of a non-zip file = %v", err)
	}
}

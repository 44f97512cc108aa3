package evidencepack

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
)

var packAt = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// writeSmall writes a small pack to dest: two tokens, three citations, every other part.
func writeSmall(t *testing.T, dest string) Manifest {
	t.Helper()
	w, err := Create(dest, packAt)
	if err != nil {
		t.Fatal(err)
	}
	sum := Summary{GeneratedAt: packAt, Endpoint: "https://tokens.example.com", Statuses: map[string]int{"active": 2},
		Checkpoint: Checkpoint{Kind: CheckpointSigned, Checkpoint: audit.Checkpoint{Seq: 7, Hash: strings.Repeat("a", 64), Time: packAt},
			ChainVerified: true, Records: 7}}
	inv, err := w.List(InventoryName, "tokens")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"tok_a", "tok_b"} {
		if err := inv.Add(InventoryToken{ID: id, Status: "active"}); err != nil {
			t.Fatal(err)
		}
	}
	sum.Tokens = inv.Len()
	cites, err := w.List(CitationsName, "citations")
	if err != nil {
		t.Fatal(err)
	}
	for _, seq := range []int64{2, 5, 7} {
		if err := cites.Add(Citation{Seq: seq, Hash: strings.Repeat("a", 64), What: "record"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []interface{ Close() error }{inv, cites} {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{DeletionsName, RenewalsName, RotationJSON, RotationHTML, PolicyName} {
		if err := w.WriteJSON(name, map[string]string{"part": name}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.WriteJSON(CheckpointName, sum.Checkpoint); err != nil {
		t.Fatal(err)
	}
	m, err := w.Finish(sum)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Seal(Issuance{ManifestDigest: m.Digest, RecordSeq: 8, RecordHash: strings.Repeat("b", 64),
		Checkpoint: audit.Checkpoint{Seq: 9, Hash: strings.Repeat("c", 64), Time: packAt}}); err != nil {
		t.Fatal(err)
	}
	return m
}

func checkPath(t *testing.T, path string) (Manifest, []Citation, error) {
	t.Helper()
	o, err := Open(path)
	if err != nil {
		return Manifest{}, nil, err
	}
	defer func() { _ = o.Close() }()
	m, err := o.Check()
	if err != nil {
		return m, nil, err
	}
	r, err := o.Citations()
	if err != nil {
		return m, nil, err
	}
	defer func() { _ = r.Close() }()
	var cites []Citation
	for {
		c, ok, err := r.Next()
		if err != nil || !ok {
			return m, cites, err
		}
		cites = append(cites, c)
	}
}

func TestCheck_roundTripsThroughZipAndDirectory(t *testing.T) {
	tmp := t.TempDir()
	for _, dest := range []string{filepath.Join(tmp, "p.zip"), filepath.Join(tmp, "dir")} {
		writeSmall(t, dest)
		m, cites, err := checkPath(t, dest)
		if err != nil || len(m.Files) != 9 || len(cites) != 3 || m.Checkpoint.Seq != 7 {
			t.Errorf("%s: Check = %d files, %v citations, %v", dest, len(m.Files), cites, err)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, ".*")); len(left) != 0 {
		t.Errorf("staging or scratch directories left behind: %v", left)
	}
	if _, err := Create(filepath.Join(tmp, "p.zip"), packAt); err == nil {
		t.Error("Create over an existing zip succeeded")
	}
	if _, err := Create(filepath.Join(tmp, "dir"), packAt); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("Create over a non-empty directory = %v", err)
	}
}

// TestWriter_abortLeavesNothing: a pack abandoned half-way leaves no file behind.
func TestWriter_abortLeavesNothing(t *testing.T) {
	tmp := t.TempDir()
	for _, dest := range []string{filepath.Join(tmp, "p.zip"), filepath.Join(tmp, "dir")} {
		w, err := Create(dest, packAt)
		if err != nil {
			t.Fatal(err)
		}
		l, err := w.List(InventoryName, "tokens")
		if err != nil {
			t.Fatal(err)
		}
		_ = l.Add(InventoryToken{ID: "tok_a"})
		if err := w.WriteJSON(PolicyName, map[string]string{}); err != nil {
			t.Fatal(err)
		}
		w.Abort()
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("Abort left %d entries, e.g. %s", len(left), left[0].Name())
	}
}

// TestCheck_refusesAnEquivalentButChangedManifest: JSON-equivalent whitespace or a
// re-encoded manifest is still a changed byte.
func TestCheck_refusesAnEquivalentButChangedManifest(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pack")
	writeSmall(t, dir)
	raw, err := os.ReadFile(filepath.Join(dir, ManifestName)) //nolint:gosec // the test's own pack
	if err != nil {
		t.Fatal(err)
	}
	for name, change := range map[string]func([]byte) []byte{
		"indentation":     func(b []byte) []byte { return bytes.Replace(b, []byte("\n  "), []byte("\n   "), 1) },
		"trailing space":  func(b []byte) []byte { return append(bytes.TrimRight(b, "\n"), ' ', '\n') },
		"escaped letter":  func(b []byte) []byte { return bytes.Replace(b, []byte(`"format"`), []byte(`"\u0066ormat"`), 1) },
		"digest changed":  func(b []byte) []byte { return bytes.Replace(b, []byte(`"digest": "`), []byte(`"digest": "0`), 1) },
		"unknown field":   func(b []byte) []byte { return bytes.Replace(b, []byte(`{`), []byte(`{"signed": true,`), 1) },
		"not json at all": func([]byte) []byte { return []byte("hello") },
	} {
		if err := os.WriteFile(filepath.Join(dir, ManifestName), change(bytes.Clone(raw)), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, _, err := checkPath(t, dir); !errors.Is(err, ErrTampered) {
			t.Errorf("%s: Check = %v, want ErrTampered", name, err)
		}
	}
	if err := os.Remove(filepath.Join(dir, ManifestName)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := checkPath(t, dir); err == nil || !strings.Contains(err.Error(), "no manifest.json") {
		t.Errorf("Check without a manifest = %v", err)
	}
}

// TestCitations_refusesOutOfOrderAndMalformedLists: the citations are walked beside the
// chain, so they must come in sequence order, as one well-formed list.
func TestCitations_refusesOutOfOrderAndMalformedLists(t *testing.T) {
	for name, body := range map[string]string{
		"out of order":      `{"citations": [{"seq": 5}, {"seq": 3}]}`,
		"another list":      `{"tokens": []}`,
		"content after":     `{"citations": []} {}`,
		"not closed":        `{"citations": [{"seq": 1}`,
		"not a list":        `{"citations": {}}`,
		"an item not cited": `{"citations": ["x"]}`,
	} {
		r, err := NewListReader[Citation](strings.NewReader(body), "citations")
		if err != nil {
			continue // refused at the start
		}
		cr := &CitationReader{rc: io.NopCloser(nil), list: r}
		for {
			_, ok, err := cr.Next()
			if err != nil {
				break
			}
			if !ok {
				t.Errorf("%s: read to the end without an error", name)
				break
			}
		}
	}
}

func TestOpen_refusesNestedEntriesAndNonZips(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Open of a directory with a sub-directory = %v", err)
	}
	notZip := filepath.Join(t.TempDir(), "x.zip")
	_ = os.WriteFile(notZip, []byte("not a zip"), 0o600)
	if _, err := Open(notZip); err == nil || !strings.Contains(err.Error(), "neither a directory nor a zip") {
		t.Errorf("Open of a non-zip file = %v", err)
	}
}

// TestCheck_refusesAnIssuanceThatDoesNotSealTheManifest: the issuance part is the one part
// the manifest cannot list; Check requires it, byte for byte in its canonical encoding,
// naming the manifest's digest, a record after the pack's checkpoint and a checkpoint that
// covers that record.
func TestCheck_refusesAnIssuanceThatDoesNotSealTheManifest(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pack")
	m := writeSmall(t, dir)
	if _, _, err := checkPath(t, dir); err != nil {
		t.Fatalf("Check of the untouched pack = %v", err)
	}
	path := filepath.Join(dir, IssuanceName)
	raw, err := os.ReadFile(path) //nolint:gosec // the test's own pack
	if err != nil {
		t.Fatal(err)
	}
	replace := func(from, to string) func([]byte) []byte {
		return func(b []byte) []byte { return bytes.Replace(b, []byte(from), []byte(to), 1) }
	}
	cases := map[string]func([]byte) []byte{
		"another manifest digest": replace(m.Digest, strings.Repeat("0", 64)),
		"another format":          replace(IssuanceFormat, "tokenguard-evidence-issued/9"),
		"re-indented":             replace("\n  ", "\n   "),
		"unknown field":           replace("{", `{"signed": true,`),
		"not json":                func([]byte) []byte { return []byte("sealed") },
	}
	for name, change := range cases {
		if err := os.WriteFile(path, change(bytes.Clone(raw)), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, _, err := checkPath(t, dir); !errors.Is(err, ErrTampered) {
			t.Errorf("%s: Check = %v, want ErrTampered", name, err)
		}
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, _, err := checkPath(t, dir); !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), IssuanceName+" (the record of the pack's issue in the audit chain) is missing") {
		t.Errorf("Check without the issuance = %v", err)
	}
	t.Logf("%d rewrites of the issuance and its removal, each refused", len(cases))

	// The order of the records: the issue after the pack's checkpoint, the issuance's
	// checkpoint at or after the issue.
	iss := Issuance{ManifestDigest: m.Digest, RecordSeq: 8, Checkpoint: audit.Checkpoint{Seq: 9}}
	if err := iss.Covers(m); err != nil {
		t.Errorf("Covers of the pack as written = %v", err)
	}
	for name, bad := range map[string]Issuance{
		"record at the pack's checkpoint": {RecordSeq: 7, Checkpoint: audit.Checkpoint{Seq: 9}},
		"checkpoint before the record":    {RecordSeq: 8, Checkpoint: audit.Checkpoint{Seq: 6}},
	} {
		if err := bad.Covers(m); !errors.Is(err, ErrTampered) {
			t.Errorf("%s: Covers = %v, want ErrTampered", name, err)
		}
	}
}

// TestSeal_refusesAnIssuanceOfAnotherManifest: the writer seals only the manifest it wrote,
// and a refused seal leaves nothing behind.
func TestSeal_refusesAnIssuanceOfAnotherManifest(t *testing.T) {
	tmp := t.TempDir()
	dest := filepath.Join(tmp, "p.zip")
	w, err := Create(dest, packAt)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Seal(Issuance{ManifestDigest: strings.Repeat("0", 64)}); err == nil {
		t.Fatal("Seal before Finish succeeded")
	}
	w, err = Create(dest, packAt)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Finish(Summary{GeneratedAt: packAt}); err != nil {
		t.Fatal(err)
	}
	if err := w.Seal(Issuance{ManifestDigest: strings.Repeat("0", 64)}); err == nil || !strings.Contains(err.Error(), "the manifest has") {
		t.Fatalf("Seal of another manifest's digest = %v", err)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("a refused Seal left %d entries, e.g. %s", len(left), left[0].Name())
	}
}

package evidencepack

import (
	"archive/zip"
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// IsZip reports whether dest names a .zip file rather than a directory.
func IsZip(dest string) bool { return strings.EqualFold(filepath.Ext(dest), ".zip") }

// Writer writes a pack to disk one part at a time, each part hashed as it is written, so no
// part is ever held whole in memory: a directory that must not exist yet or be empty, or a
// .zip file that must not exist yet (its parts are staged in a directory beside it and
// zipped by Finish). Files are written 0600 and directories 0700: the pack names owners and
// reviewers. Abort, or a failing Finish, leaves nothing behind.
type Writer struct {
	dest     string
	dir      string // where the parts are written: dest, or the staging directory of a zip
	spool    string // scratch directory for callers' temporary files (Spool)
	created  bool   // dest is a directory Create made
	modified time.Time
	files    []File
	writing  map[string]bool // parts created and not yet closed
	manifest string          // the digest of the manifest Finish wrote ("" before)
}

// Create starts a pack at dest; modified is the time the zip entries carry.
func Create(dest string, modified time.Time) (*Writer, error) {
	w := &Writer{dest: dest, modified: modified.UTC(), writing: map[string]bool{}}
	parent := filepath.Dir(dest)
	if IsZip(dest) {
		if _, err := os.Lstat(dest); err == nil {
			return nil, fmt.Errorf("%s exists: name a new file", dest)
		}
		dir, err := os.MkdirTemp(parent, "."+filepath.Base(dest)+".partial-*")
		if err != nil {
			return nil, fmt.Errorf("staging %s: %w", dest, err)
		}
		w.dir = dir
	} else {
		if entries, err := os.ReadDir(dest); err == nil && len(entries) > 0 {
			return nil, fmt.Errorf("%s is not empty: write the pack to a new directory", dest)
		}
		if _, err := os.Stat(dest); errors.Is(err, fs.ErrNotExist) {
			if err := os.MkdirAll(dest, 0o700); err != nil {
				return nil, fmt.Errorf("creating %s: %w", dest, err)
			}
			w.created = true
		}
		w.dir = dest
	}
	spool, err := os.MkdirTemp(parent, ".tokenguard-spool-*")
	if err != nil {
		w.Abort()
		return nil, fmt.Errorf("creating a scratch directory beside %s: %w", dest, err)
	}
	w.spool = spool
	return w, nil
}

// Spool is a scratch directory beside the pack for temporary files; Finish and Abort remove it.
func (w *Writer) Spool() string { return w.spool }

// Part is one part being written: an io.Writer whose bytes are hashed on their way to disk.
type Part struct {
	w    *Writer
	name string
	f    *os.File
	buf  *bufio.Writer
	sum  hash.Hash
	n    int64
}

// Part creates the part name. Write it, then Close it.
func (w *Writer) Part(name string) (*Part, error) {
	if name == "" || strings.ContainsAny(name, `/\`) || name[0] == '.' {
		return nil, fmt.Errorf("evidence pack: %q is not a part name", name)
	}
	f, err := os.OpenFile(filepath.Join(w.dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) //nolint:gosec // a fixed part name inside the pack
	if err != nil {
		return nil, fmt.Errorf("writing %s: %w", name, err)
	}
	p := &Part{w: w, name: name, f: f, sum: sha256.New()}
	p.buf = bufio.NewWriterSize(io.MultiWriter(f, p.sum), 256<<10)
	w.writing[name] = true
	return p, nil
}

func (p *Part) Write(b []byte) (int, error) {
	n, err := p.buf.Write(b)
	p.n += int64(n)
	return n, err
}

// Close finishes the part and records its SHA-256 and size for the manifest.
func (p *Part) Close() error {
	err := errors.Join(p.buf.Flush(), p.f.Close())
	if err != nil {
		return fmt.Errorf("writing %s: %w", p.name, err)
	}
	p.w.files = append(p.w.files, File{Path: p.name, SHA256: hex.EncodeToString(p.sum.Sum(nil)), Bytes: int(p.n)})
	delete(p.w.writing, p.name)
	return nil
}

// WriteJSON writes the part name as the indented JSON of v (a small part).
func (w *Writer) WriteJSON(name string, v any) error {
	b, err := encodeJSON(v)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", name, err)
	}
	p, err := w.Part(name)
	if err != nil {
		return err
	}
	if _, err := p.Write(b); err != nil {
		_ = p.f.Close()
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return p.Close()
}

// List is a part holding one JSON object with one list, {"key": [item, ...]}, written one
// item a line as the items are read.
type List struct {
	p *Part
	n int
}

// List creates the part name as a list under key.
func (w *Writer) List(name, key string) (*List, error) {
	p, err := w.Part(name)
	if err != nil {
		return nil, err
	}
	k, _ := json.Marshal(key) // a string: cannot fail
	if _, err := fmt.Fprintf(p, "{\n  %s: [", k); err != nil {
		return nil, err
	}
	return &List{p: p}, nil
}

// Add appends v to the list.
func (l *List) Add(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding an item of %s: %w", l.p.name, err)
	}
	sep := ",\n    "
	if l.n == 0 {
		sep = "\n    "
	}
	l.n++
	if _, err := io.WriteString(l.p, sep); err != nil {
		return err
	}
	_, err = l.p.Write(b)
	return err
}

// Len is the number of items added.
func (l *List) Len() int { return l.n }

// Close ends the list and the part.
func (l *List) Close() error {
	end := "\n  ]\n}\n"
	if l.n == 0 {
		end = "]\n}\n"
	}
	if _, err := io.WriteString(l.p, end); err != nil {
		return err
	}
	return l.p.Close()
}

// Open reads back a part already written and closed (the rotation report reads the
// inventory this way instead of holding it).
func (w *Writer) Open(name string) (io.ReadCloser, error) {
	if !slices.ContainsFunc(w.files, func(f File) bool { return f.Path == name }) {
		return nil, fmt.Errorf("evidence pack: %s was not written", name)
	}
	return os.Open(filepath.Join(w.dir, name)) //nolint:gosec // a part this writer wrote
}

// Finish writes index.html over sum and the parts written, then the manifest, and returns
// the manifest. The pack is complete once Seal has written its issuance (which records the
// manifest's digest); until then Abort removes it. When Finish fails, everything written is
// removed.
func (w *Writer) Finish(sum Summary) (m Manifest, err error) {
	defer func() {
		if err != nil {
			w.Abort()
		}
	}()
	if len(w.writing) > 0 {
		return m, fmt.Errorf("evidence pack: %s is still being written", slices.Sorted(maps.Keys(w.writing)))
	}
	p, err := w.Part(IndexName)
	if err != nil {
		return m, err
	}
	if err := renderIndex(p, sum, w.files); err != nil {
		_ = p.f.Close()
		return m, fmt.Errorf("rendering %s: %w", IndexName, err)
	}
	if err := p.Close(); err != nil {
		return m, err
	}
	m = Manifest{Format: Format, GeneratedAt: sum.GeneratedAt.UTC(), Endpoint: sum.Endpoint, Checkpoint: sum.Checkpoint,
		Files: slices.Clone(w.files)}
	slices.SortFunc(m.Files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	raw, err := encodeManifest(m)
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(raw, &m); err != nil { // m as written, its Digest included
		return m, err
	}
	if err := os.WriteFile(filepath.Join(w.dir, ManifestName), raw, 0o600); err != nil {
		return m, fmt.Errorf("writing %s: %w", ManifestName, err)
	}
	w.manifest = m.Digest
	return m, nil
}

// Seal writes the issuance part, iss, which must record the digest of the manifest Finish
// wrote, and for a .zip the zip file itself; the staging and scratch directories are
// removed. When it fails, everything written is removed.
func (w *Writer) Seal(iss Issuance) (err error) {
	defer func() {
		if err != nil {
			w.Abort()
		}
	}()
	if w.manifest == "" {
		return errors.New("evidence pack: Seal before Finish wrote the manifest")
	}
	if iss.ManifestDigest != w.manifest {
		return fmt.Errorf("evidence pack: the issuance records manifest digest %s, the manifest has %s", iss.ManifestDigest, w.manifest)
	}
	iss.Format = IssuanceFormat
	if err := w.WriteJSON(IssuanceName, iss); err != nil {
		return err
	}
	if IsZip(w.dest) {
		if err := w.zip(append([]string{ManifestName}, names(w.files)...)); err != nil {
			return err
		}
		if err := os.RemoveAll(w.dir); err != nil {
			return err
		}
	}
	return os.RemoveAll(w.spool)
}

func names(files []File) []string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.Path
	}
	return out
}

// zip writes the staged parts into the zip file, sorted by name.
func (w *Writer) zip(parts []string) (err error) {
	slices.Sort(parts)
	f, err := os.OpenFile(w.dest, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) //nolint:gosec // the operator names the pack
	if err != nil {
		return fmt.Errorf("creating %s: %w (it must not exist yet)", w.dest, err)
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			_ = os.Remove(w.dest)
		}
	}()
	bw := bufio.NewWriterSize(f, 256<<10)
	zw := zip.NewWriter(bw)
	for _, name := range parts {
		if err := w.zipOne(zw, name); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return bw.Flush()
}

func (w *Writer) zipOne(zw *zip.Writer, name string) error {
	in, err := os.Open(filepath.Join(w.dir, name)) //nolint:gosec // a staged part
	if err != nil {
		return err
	}
	defer func() { _ = in.Close() }()
	out, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: w.modified})
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	return err
}

// Abort removes everything the writer wrote.
func (w *Writer) Abort() {
	if w.spool != "" {
		_ = os.RemoveAll(w.spool)
	}
	if IsZip(w.dest) {
		_ = os.RemoveAll(w.dir)
		return
	}
	for _, f := range w.files {
		_ = os.Remove(filepath.Join(w.dir, f.Path))
	}
	for name := range w.writing {
		_ = os.Remove(filepath.Join(w.dir, name))
	}
	_ = os.Remove(filepath.Join(w.dir, ManifestName))
	if w.created {
		_ = os.Remove(w.dir)
	}
}

package evidencepack

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// maxManifestBytes bounds the manifest and the checkpoint read into memory (a wrong file or
// a zip bomb must not exhaust it); a manifest lists a dozen parts.
const maxManifestBytes = 16 << 20

// Opened is a pack opened for checking, part by part, without reading it into memory: a
// directory or a .zip file. Close it when done.
type Opened struct {
	path     string
	zr       *zip.ReadCloser
	parts    map[string]*zip.File // of a zip; nil entries for a directory
	issuance Issuance             // read by Check
}

// Open opens the pack at path: a .zip file or a directory. Every regular file is a part;
// sub-directories, links, nested or duplicate zip entries are refused (a pack is flat).
func Open(path string) (*Opened, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	o := &Opened{path: path, parts: map[string]*zip.File{}}
	if info.IsDir() {
		entries, err := os.ReadDir(path)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if !e.Type().IsRegular() {
				return nil, fmt.Errorf("%s: %s is not a regular file: a pack holds only files", path, e.Name())
			}
			o.parts[e.Name()] = nil
		}
		return o, nil
	}
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, fmt.Errorf("%s is neither a directory nor a zip file: %w", path, err)
	}
	for _, f := range zr.File {
		bad := strings.ContainsAny(f.Name, `/\`) || f.Name == "." || f.Name == ".." || !f.Mode().IsRegular()
		_, dup := o.parts[f.Name]
		if bad || dup {
			_ = zr.Close()
			if dup {
				return nil, fmt.Errorf("%s: entry %q appears twice", path, f.Name)
			}
			return nil, fmt.Errorf("%s: entry %q is not a file at the top of the pack", path, f.Name)
		}
		o.parts[f.Name] = f
	}
	o.zr = zr
	return o, nil
}

// Close closes the zip file of a pack (nothing to do for a directory).
func (o *Opened) Close() error {
	if o.zr != nil {
		return o.zr.Close()
	}
	return nil
}

// Names lists the parts of the pack, sorted.
func (o *Opened) Names() []string { return slices.Sorted(maps.Keys(o.parts)) }

// part opens the part name for reading.
func (o *Opened) part(name string) (io.ReadCloser, error) {
	zf, ok := o.parts[name]
	switch {
	case !ok:
		return nil, fmt.Errorf("%w: %s is missing", ErrTampered, name)
	case zf != nil:
		return zf.Open()
	}
	return os.Open(filepath.Join(o.path, name)) //nolint:gosec // a part of the pack the operator named
}

// readSmall reads the whole part name, refusing one larger than maxManifestBytes.
func (o *Opened) readSmall(name string) ([]byte, error) {
	rc, err := o.part(name)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rc.Close() }()
	b, err := io.ReadAll(io.LimitReader(rc, maxManifestBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if len(b) > maxManifestBytes {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrTampered, name, maxManifestBytes)
	}
	return b, nil
}

// digest is the SHA-256 and size of the part name, read as a stream; it stops reading one
// byte past limit (a part longer than its manifest says is changed anyway).
func (o *Opened) digest(name string, limit int64) (string, int64, error) {
	rc, err := o.part(name)
	if err != nil {
		return "", 0, err
	}
	defer func() { _ = rc.Close() }()
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(rc, limit+1))
	if err != nil {
		return "", n, fmt.Errorf("reading %s: %w", name, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// Check verifies the pack against its manifest, reading each part as a stream: the
// manifest is exactly its canonical encoding with a matching digest, every part it lists is
// present with its SHA-256 and size, nothing else is in the pack but the issuance part, and
// the checkpoint part is the checkpoint the manifest names. The issuance part must be
// exactly its canonical encoding and record the manifest's digest (Issuance returns it; its
// signature, its order (Issuance.Covers) and its record are the caller's to check, with
// VerifyCheckpoint and against the chain). The citations are then read with Citations, and
// checked against the audit chain by the caller.
func (o *Opened) Check() (Manifest, error) {
	var m Manifest
	if _, ok := o.parts[ManifestName]; !ok {
		return m, fmt.Errorf("%w: no %s: is this an evidence pack (tokenguard report evidence)?", ErrTampered, ManifestName)
	}
	raw, err := o.readSmall(ManifestName)
	if err != nil {
		return m, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return m, fmt.Errorf("%w: %s is not a manifest: %w", ErrTampered, ManifestName, err)
	}
	if m.Format == formatV1 {
		return m, fmt.Errorf("%s has format %q: the pack was made before packs recorded their issue in the audit chain, so nothing proves it was not rewritten since; make a new pack with tokenguard report evidence", ManifestName, m.Format)
	}
	if m.Format != Format {
		return m, fmt.Errorf("%w: %s has format %q, want %q", ErrTampered, ManifestName, m.Format, Format)
	}
	want, err := encodeManifest(m)
	if err != nil {
		return m, err
	}
	if !bytes.Equal(want, raw) {
		return m, fmt.Errorf("%w: %s was changed (its digest or encoding does not match its content)", ErrTampered, ManifestName)
	}
	listed := map[string]bool{ManifestName: true, IssuanceName: true}
	var problems []string
	if _, ok := o.parts[IssuanceName]; !ok {
		problems = append(problems, IssuanceName+" (the record of the pack's issue in the audit chain) is missing")
	}
	for _, f := range m.Files {
		listed[f.Path] = true
		if _, ok := o.parts[f.Path]; !ok {
			problems = append(problems, f.Path+" is missing")
			continue
		}
		got, n, err := o.digest(f.Path, int64(f.Bytes))
		switch {
		case err != nil:
			problems = append(problems, err.Error())
		case n != int64(f.Bytes) || got != f.SHA256:
			problems = append(problems, fmt.Sprintf("%s was changed (SHA-256 %s, manifest says %s)", f.Path, got, f.SHA256))
		}
	}
	for _, name := range o.Names() {
		if !listed[name] {
			problems = append(problems, name+" is not in the manifest")
		}
	}
	if len(problems) > 0 {
		return m, fmt.Errorf("%w: %s", ErrTampered, strings.Join(problems, "; "))
	}
	part, err := o.readSmall(CheckpointName)
	if err != nil {
		return m, err
	}
	if cp, err := encodeJSON(m.Checkpoint); err != nil || !bytes.Equal(cp, part) {
		return m, fmt.Errorf("%w: %s is not the checkpoint %s names", ErrTampered, CheckpointName, ManifestName)
	}
	if o.issuance, err = o.readIssuance(m); err != nil {
		return m, err
	}
	return m, nil
}

// readIssuance reads and checks the issuance part against the manifest m (see Check).
func (o *Opened) readIssuance(m Manifest) (Issuance, error) {
	var iss Issuance
	raw, err := o.readSmall(IssuanceName)
	if err != nil {
		return iss, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&iss); err != nil {
		return iss, fmt.Errorf("%w: %s is not the record of the pack's issue: %w", ErrTampered, IssuanceName, err)
	}
	if want, err := encodeJSON(iss); err != nil || !bytes.Equal(want, raw) {
		return iss, fmt.Errorf("%w: %s was changed (its encoding does not match its content)", ErrTampered, IssuanceName)
	}
	switch {
	case iss.Format != IssuanceFormat:
		return iss, fmt.Errorf("%w: %s has format %q, want %q", ErrTampered, IssuanceName, iss.Format, IssuanceFormat)
	case iss.ManifestDigest != m.Digest:
		return iss, fmt.Errorf("%w: %s records manifest digest %s, but %s has digest %s (the manifest was rewritten after the pack was issued)",
			ErrTampered, IssuanceName, iss.ManifestDigest, ManifestName, m.Digest)
	}
	return iss, nil
}

// Covers checks the order of the pack's records: the record of the issue comes after the
// pack's checkpoint (m's), and the issuance's checkpoint at or after that record, so it
// covers it. Check it once both checkpoints' signatures, and with the service the chain,
// verified: their own errors say more.
func (i Issuance) Covers(m Manifest) error {
	switch {
	case i.RecordSeq <= m.Checkpoint.Seq:
		return fmt.Errorf("%w: %s names audit record %d, not after the pack's checkpoint %d", ErrTampered, IssuanceName, i.RecordSeq, m.Checkpoint.Seq)
	case i.Checkpoint.Seq < i.RecordSeq:
		return fmt.Errorf("%w: %s holds a checkpoint of record %d, before the record of the issue %d: it does not cover it", ErrTampered, IssuanceName, i.Checkpoint.Seq, i.RecordSeq)
	}
	return nil
}

// Issuance is the pack's issuance part, as Check read it (call Check first).
func (o *Opened) Issuance() Issuance { return o.issuance }

// Citations reads the citations of the pack one at a time, in the order the pack holds
// them: by sequence number (Next refuses a pack whose citations are out of order, so a
// caller can walk them beside the audit chain without holding them). Close it when done.
func (o *Opened) Citations() (*CitationReader, error) {
	rc, err := o.part(CitationsName)
	if err != nil {
		return nil, err
	}
	list, err := NewListReader[Citation](rc, "citations")
	if err != nil {
		_ = rc.Close()
		return nil, fmt.Errorf("%w: %s: %w", ErrTampered, CitationsName, err)
	}
	return &CitationReader{rc: rc, list: list}, nil
}

// CitationReader reads a pack's citations in sequence order.
type CitationReader struct {
	rc   io.ReadCloser
	list *ListReader[Citation]
	last int64
}

// Next returns the next citation; ok is false after the last one.
func (r *CitationReader) Next() (c Citation, ok bool, err error) {
	c, ok, err = r.list.Next()
	switch {
	case err != nil:
		return c, false, fmt.Errorf("%w: %s: %w", ErrTampered, CitationsName, err)
	case ok && c.Seq < r.last:
		return c, false, fmt.Errorf("%w: %s is not in sequence order (record %d after %d)", ErrTampered, CitationsName, c.Seq, r.last)
	case ok:
		r.last = c.Seq
	}
	return c, ok, nil
}

// Close closes the citations part.
func (r *CitationReader) Close() error { return r.rc.Close() }

// ListReader decodes a JSON object holding one list under a key, {"key": [item, ...]}, one
// item at a time; the list is never held whole.
type ListReader[T any] struct {
	dec  *json.Decoder
	key  string
	done bool
}

// NewListReader reads the list under key from r, which must hold nothing else.
func NewListReader[T any](r io.Reader, key string) (*ListReader[T], error) {
	l := &ListReader[T]{dec: json.NewDecoder(r), key: key}
	if err := l.expect('{'); err != nil {
		return nil, err
	}
	tok, err := l.dec.Token()
	if err != nil {
		return nil, err
	}
	if k, ok := tok.(string); !ok || k != key {
		return nil, fmt.Errorf("expected the list %q, found %v", key, tok)
	}
	if err := l.expect('['); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *ListReader[T]) expect(want json.Delim) error {
	tok, err := l.dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("expected %q, found %v", want, tok)
	}
	return nil
}

// Next returns the next item; ok is false after the last one, once the end of the object
// and of the input were read.
func (l *ListReader[T]) Next() (item T, ok bool, err error) {
	if l.done {
		return item, false, nil
	}
	if l.dec.More() {
		if err := l.dec.Decode(&item); err != nil {
			return item, false, err
		}
		return item, true, nil
	}
	l.done = true
	if err := l.expect(']'); err != nil {
		return item, false, err
	}
	if err := l.expect('}'); err != nil {
		return item, false, err
	}
	if _, err := l.dec.Token(); err != io.EOF {
		return item, false, fmt.Errorf("content after the list %q", l.key)
	}
	return item, false, nil
}

// EachItem calls fn on every item of the list under key in r (see ListReader).
func EachItem[T any](r io.Reader, key string, fn func(T) error) error {
	l, err := NewListReader[T](r, key)
	if err != nil {
		return err
	}
	for {
		item, ok, err := l.Next()
		if err != nil || !ok {
			return err
		}
		if err := fn(item); err != nil {
			return err
		}
	}
}

// Pack is a whole pack in memory, its parts by name, the manifest included: for tests and
// tools that rewrite small packs. Check packs with Open, which streams.
type Pack map[string][]byte

// Read reads every part of the pack at path into memory.
func Read(path string) (Pack, error) {
	o, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = o.Close() }()
	p := Pack{}
	for _, name := range o.Names() {
		rc, err := o.part(name)
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(rc)
		_ = rc.Close()
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", name, err)
		}
		p[name] = b
	}
	return p, nil
}

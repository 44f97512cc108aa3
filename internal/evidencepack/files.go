package evidencepack

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// maxPartBytes bounds one part read from a pack (a zip bomb or a wrong directory must not
// exhaust memory); an inventory of 100k tokens is far below it.
const maxPartBytes = 1 << 30

// IsZip reports whether dest names a .zip file rather than a directory.
func IsZip(dest string) bool { return strings.EqualFold(filepath.Ext(dest), ".zip") }

// Write writes p to dest: a .zip file (created, not overwritten), else a directory that must
// not exist yet or be empty. Files are written 0600 and the directory 0700: the pack names
// owners and reviewers. Nothing is left behind when writing fails.
func Write(p Pack, dest string, modified time.Time) error {
	if IsZip(dest) {
		return writeZip(p, dest, modified)
	}
	return writeDir(p, dest)
}

func writeZip(p Pack, dest string, modified time.Time) (err error) {
	f, err := os.OpenFile(dest, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) //nolint:gosec // the operator names the pack
	if err != nil {
		return fmt.Errorf("creating %s: %w (it must not exist yet)", dest, err)
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			_ = os.Remove(dest)
		}
	}()
	zw := zip.NewWriter(f)
	for _, name := range slices.Sorted(maps.Keys(p)) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: modified.UTC()})
		if err != nil {
			return err
		}
		if _, err := w.Write(p[name]); err != nil {
			return err
		}
	}
	return zw.Close()
}

func writeDir(p Pack, dest string) (err error) {
	if entries, err := os.ReadDir(dest); err == nil && len(entries) > 0 {
		return fmt.Errorf("%s is not empty: write the pack to a new directory", dest)
	}
	created := false
	if _, statErr := os.Stat(dest); errors.Is(statErr, fs.ErrNotExist) {
		if err := os.MkdirAll(dest, 0o700); err != nil {
			return fmt.Errorf("creating %s: %w", dest, err)
		}
		created = true
	}
	defer func() {
		if err == nil {
			return
		}
		for name := range p {
			_ = os.Remove(filepath.Join(dest, name))
		}
		if created {
			_ = os.Remove(dest)
		}
	}()
	for _, name := range slices.Sorted(maps.Keys(p)) {
		if err := os.WriteFile(filepath.Join(dest, name), p[name], 0o600); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
	}
	return nil
}

// Read reads the pack at path: a .zip file or a directory. Every regular file is a part
// (sub-directories and links are refused: a pack is flat).
func Read(path string) (Pack, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return readZip(path)
	}
	p := Pack{}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			return nil, fmt.Errorf("%s: %s is not a regular file: a pack holds only files", path, e.Name())
		}
		b, err := readLimited(filepath.Join(path, e.Name()))
		if err != nil {
			return nil, err
		}
		p[e.Name()] = b
	}
	return p, nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path) //nolint:gosec // a part of the pack the operator named
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	return readPart(f, path)
}

func readPart(r io.Reader, name string) ([]byte, error) {
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(r, maxPartBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if n > maxPartBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes: not a part of an evidence pack", name, maxPartBytes)
	}
	return buf.Bytes(), nil
}

func readZip(path string) (Pack, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, fmt.Errorf("%s is neither a directory nor a zip file: %w", path, err)
	}
	defer func() { _ = zr.Close() }()
	p := Pack{}
	for _, f := range zr.File {
		if strings.ContainsAny(f.Name, `/\`) || f.Name == "." || f.Name == ".." || !f.Mode().IsRegular() {
			return nil, fmt.Errorf("%s: entry %q is not a file at the top of the pack", path, f.Name)
		}
		if _, dup := p[f.Name]; dup {
			return nil, fmt.Errorf("%s: entry %q appears twice", path, f.Name)
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, f.Name, err)
		}
		b, err := readPart(rc, f.Name)
		_ = rc.Close()
		if err != nil {
			return nil, err
		}
		p[f.Name] = b
	}
	return p, nil
}

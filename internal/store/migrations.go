package store

import (
	"cmp"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Migration is one schema change of a Store implementation, read from a file named
// NNNN_description.sql. Each implementation embeds its own files and applies them its own
// way (the locking differs); LoadMigrations is the part they share.
type Migration struct {
	Version int    // NNNN of the file name, positive and unique
	Name    string // the file name, recorded in schema_migrations
	SQL     string // the file's content, applied as one script
}

// LoadMigrations reads the migrations in directory dir of fsys and returns them in version
// order. Every .sql file must be named NNNN_description.sql with a positive number, and no
// two files may share a number; other files and sub-directories are ignored. An error names
// the offending file.
func LoadMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("reading migrations in %s: %w", dir, err)
	}
	var out []Migration
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || path.Ext(name) != ".sql" {
			continue
		}
		v, ok := migrationVersion(name)
		if !ok {
			return nil, fmt.Errorf("migration %q: name must be NNNN_description.sql with NNNN a positive number", name)
		}
		body, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("reading migration %q: %w", name, err)
		}
		out = append(out, Migration{Version: v, Name: name, SQL: string(body)})
	}
	slices.SortStableFunc(out, func(a, b Migration) int { return cmp.Compare(a.Version, b.Version) })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("migrations %q and %q have the same version %d: renumber one", out[i-1].Name, out[i].Name, out[i].Version)
		}
	}
	return out, nil
}

// migrationVersion returns the NNNN of NNNN_description.sql: decimal digits only, and above
// zero.
func migrationVersion(name string) (int, bool) {
	num, _, ok := strings.Cut(name, "_")
	if !ok || num == "" || strings.TrimLeft(num, "0123456789") != "" {
		return 0, false
	}
	v, err := strconv.Atoi(num)
	if err != nil || v <= 0 {
		return 0, false
	}
	return v, true
}

package store

import (
	"errors"
	"io/fs"
	"reflect"
	"testing"
	"testing/fstest"
)

func TestLoadMigrations_ordersByVersionAndSkipsOtherFiles(t *testing.T) {
	fsys := fstest.MapFS{
		"m/0010_later.sql":         {Data: []byte("CREATE TABLE c (x int);")},
		"m/0002_second.sql":        {Data: []byte("CREATE TABLE b (x int);")},
		"m/0001_init.sql":          {Data: []byte("CREATE TABLE a (x int);")},
		"m/README.md":              {Data: []byte("not a migration")},
		"m/notes.sql.orig":         {Data: []byte("not a migration either")},
		"m/0003_dir.sql/inner.sql": {Data: []byte("a directory named like a migration is skipped")},
		"other/0004_elsewhere.sql": {Data: []byte("another directory")},
	}
	got, err := LoadMigrations(fsys, "m")
	if err != nil {
		t.Fatalf("LoadMigrations: %v", err)
	}
	want := []Migration{
		{Version: 1, Name: "0001_init.sql", SQL: "CREATE TABLE a (x int);"},
		{Version: 2, Name: "0002_second.sql", SQL: "CREATE TABLE b (x int);"},
		{Version: 10, Name: "0010_later.sql", SQL: "CREATE TABLE c (x int);"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("LoadMigrations = %+v, want %+v", got, want)
	}
}

func TestLoadMigrations_emptyDirectoryHasNoMigrations(t *testing.T) {
	got, err := LoadMigrations(fstest.MapFS{"m/README.md": {Data: []byte("x")}}, "m")
	if err != nil || len(got) != 0 {
		t.Errorf("LoadMigrations = %v, %v; want no migrations and no error", got, err)
	}
}

func TestLoadMigrations_refusesBadNamesAndDuplicateVersions(t *testing.T) {
	cases := []struct {
		name  string
		files []string
		want  string
	}{
		{"no number", []string{"init.sql"}, `migration "init.sql": name must be NNNN_description.sql with NNNN a positive number`},
		{"no underscore", []string{"0001.sql"}, `migration "0001.sql": name must be NNNN_description.sql with NNNN a positive number`},
		{"version zero", []string{"0000_init.sql"}, `migration "0000_init.sql": name must be NNNN_description.sql with NNNN a positive number`},
		{"negative", []string{"-1_init.sql"}, `migration "-1_init.sql": name must be NNNN_description.sql with NNNN a positive number`},
		{"signed", []string{"+1_init.sql"}, `migration "+1_init.sql": name must be NNNN_description.sql with NNNN a positive number`},
		{"letters in the number", []string{"00a1_init.sql"}, `migration "00a1_init.sql": name must be NNNN_description.sql with NNNN a positive number`},
		{"empty number", []string{"_init.sql"}, `migration "_init.sql": name must be NNNN_description.sql with NNNN a positive number`},
		{"same version", []string{"0001_init.sql", "0002_a.sql", "2_b.sql"}, `migrations "0002_a.sql" and "2_b.sql" have the same version 2: renumber one`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for _, f := range tc.files {
				fsys["m/"+f] = &fstest.MapFile{Data: []byte("SELECT 1;")}
			}
			got, err := LoadMigrations(fsys, "m")
			if err == nil {
				t.Fatalf("LoadMigrations = %+v, want the error %q", got, tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("error = %q, want %q", err, tc.want)
			}
		})
	}
}

func TestLoadMigrations_missingDirectoryIsNotExist(t *testing.T) {
	_, err := LoadMigrations(fstest.MapFS{}, "migrations")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("error = %v, want one wrapping fs.ErrNotExist", err)
	}
	if want := "reading migrations in migrations: open migrations: file does not exist"; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
}

package policy

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestLoadConfigDir_locatesResourcesAndLocalModules(t *testing.T) {
	locs, err := LoadConfigDir("testdata/config")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Location{
		"tokenguard_api_token.good":               {"main.tf", 5},
		"gitlab_project_access_token.deploy":      {"tokens.tf", 3},
		"module.app.tokenguard_api_token.generic": {"modules/app/main.tf", 5},
	}
	if len(locs) != len(want) {
		t.Errorf("locations = %v", locs)
	}
	for addr, loc := range want {
		if locs[addr] != loc {
			t.Errorf("%s = %+v, want %+v", addr, locs[addr], loc)
		}
	}
	fs := []Finding{{Address: `module.app.tokenguard_api_token.generic["eu"]`}, {Address: "provider.tokenguard"}}
	locs.Apply(fs)
	if fs[0].File != "modules/app/main.tf" || fs[0].Line != 5 || fs[1].File != "" {
		t.Errorf("Apply = %+v", fs)
	}
}

func TestLoadConfigDir_symlinkLoopEnds(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte("module \"self\" {\n  source = \"./loop\"\n}\nresource \"tokenguard_api_token\" \"a\" {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(".", filepath.Join(dir, "loop")); err != nil {
		t.Fatal(err)
	}
	locs, err := LoadConfigDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if locs["tokenguard_api_token.a"].Line != 4 {
		t.Errorf("locations = %v", locs)
	}
}

func TestLoadConfigDir_errors(t *testing.T) {
	if _, err := LoadConfigDir("testdata/missing"); err == nil || !strings.Contains(err.Error(), "config directory testdata/missing: no such file or directory") {
		t.Errorf("missing: %v", err)
	}
	if _, err := LoadConfigDir("testdata/config/main.tf"); err == nil || !strings.Contains(err.Error(), "is a file") {
		t.Errorf("file: %v", err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bad.tf"), []byte("resource \"x\" {\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfigDir(dir); err == nil || !strings.Contains(err.Error(), "config bad.tf: line") {
		t.Errorf("syntax: %v", err)
	}
}

func TestStripInstanceKeys(t *testing.T) {
	for in, want := range map[string]string{ //nolint:gosec // G101: resource addresses, not credentials
		"tokenguard_api_token.a":                                  "tokenguard_api_token.a",
		"tokenguard_api_token.a[0]":                               "tokenguard_api_token.a",
		`module.app["eu"].tokenguard_api_token.b["x.y[1]"]`:       "module.app.tokenguard_api_token.b",
		`module.app[2].module.db.tokenguard_api_token.c["a\"]b"]`: "module.app.module.db.tokenguard_api_token.c",
	} {
		if got := StripInstanceKeys(in); got != want {
			t.Errorf("StripInstanceKeys(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestLoadConfigTree_findsTheRootModuleBelow: from a repository root without .tf files, the
// root module that declares the plan's resources is found; a directory called as a module is
// never a root; attribute lines are recorded through nested blocks.
func TestLoadConfigTree_findsTheRootModuleBelow(t *testing.T) {
	dir := t.TempDir()
	write := func(p, s string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("envs/prod/main.tf", "module \"tok\" {\n  source = \"../../modules/tok\"\n}\n\nresource \"tokenguard_api_token\" \"prod\" {\n  ttl = \"30d\"\n  rotation {\n    interval = \"7d\"\n  }\n}\n")
	write("envs/staging/main.tf", "resource \"tokenguard_api_token\" \"staging\" {\n  ttl = \"30d\"\n}\n")
	write("modules/tok/main.tf", "resource \"tokenguard_api_token\" \"inner\" {\n  ttl = \"30d\"\n}\n")
	write(".terraform/modules/x/main.tf", "resource \"tokenguard_api_token\" \"prod\" {}\n")
	cfg, err := LoadConfigTree(dir, []string{"tokenguard_api_token.prod", `module.tok.tokenguard_api_token.inner["a"]`})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Root != "envs/prod" || strings.Join(cfg.Candidates, ",") != "envs/prod,envs/staging" {
		t.Errorf("root %q, candidates %v", cfg.Root, cfg.Candidates)
	}
	fs := []Finding{
		{Address: "tokenguard_api_token.prod", Field: "rotation.interval"},
		{Address: "tokenguard_api_token.prod", Field: ""},
		{Address: `module.tok.tokenguard_api_token.inner["a"]`, Field: "ttl"},
	}
	cfg.Apply(fs, "")
	got := []string{}
	for _, f := range fs {
		got = append(got, f.File+":"+strconv.Itoa(f.Line))
	}
	if strings.Join(got, " ") != "envs/prod/main.tf:8 envs/prod/main.tf:5 modules/tok/main.tf:2" {
		t.Errorf("locations %v", got)
	}
	cfg, err = LoadConfigTree(dir, []string{"tokenguard_api_token.staging"})
	if err != nil || cfg.Root != "envs/staging" {
		t.Errorf("staging plan: root %v, %v", cfg, err)
	}
}

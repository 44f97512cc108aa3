// Package testenv says which optional parts of the test environment are present: the shared
// real-plan corpus and a headless browser. A newcomer's clone has neither, so tests that need
// them skip with a one-line reason; CI sets the environment variables below, and then a
// missing part fails the test instead, so CI can never pass as green without it.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

const (
	// CorpusEnv names the directory of real Terraform plan JSON (the shared corpus); .ci/run
	// sets it to ../shared/corpus/terraform-json. A relative path is read from the module root.
	CorpusEnv = "TOKENGUARD_PLAN_CORPUS"
	// RequireBrowserEnv set to 1 makes tests that render HTML in Chromium fail when it is
	// absent instead of skipping; .ci/run sets it.
	RequireBrowserEnv = "TOKENGUARD_REQUIRE_BROWSER"
)

// CorpusPlans returns the corpus's *.json files. It skips the test when CorpusEnv is unset
// and fails it when CorpusEnv names a directory with no plans.
func CorpusPlans(t testing.TB) []string {
	t.Helper()
	dir := os.Getenv(CorpusEnv)
	if dir == "" {
		t.Skipf("%s is not set: the shared plan corpus is not beside this clone (CI sets it)", CorpusEnv)
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(moduleRoot(t), dir)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("%s=%s holds no *.json plan: point it at the corpus's terraform-json directory", CorpusEnv, os.Getenv(CorpusEnv))
	}
	return files
}

// Chromium returns the path of a Chromium binary on PATH. Without one it skips the test, or
// fails it when RequireBrowserEnv is 1.
func Chromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv(RequireBrowserEnv) == "1" {
		t.Fatalf("chromium is not on PATH but %s=1: install it (Debian: apt-get install -y chromium)", RequireBrowserEnv)
	}
	t.Skipf("chromium is not on PATH: the HTML is not rendered in a browser (set %s=1 to require it)", RequireBrowserEnv)
	return ""
}

// moduleRoot is the nearest directory above the working directory that holds go.mod.
func moduleRoot(t testing.TB) string {
	t.Helper()
	start, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	dir := start
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.mod above the test's directory %s", start)
		}
		dir = parent
	}
}

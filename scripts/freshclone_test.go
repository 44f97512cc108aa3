//go:build !windows

package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// optionalTests are the tests that need what only CI has beside the repository: the shared
// plan corpus (../shared) and a Chromium binary. The packages that hold them are the ones the
// fresh clone runs.
var optionalTests = []struct{ pkg, name, skipReason string }{
	{"./internal/policy", "TestReadPlan_readsEveryCorpusPlan", "TOKENGUARD_PLAN_CORPUS is not set"},
	{"./internal/cli", "TestCheck_readsEveryCorpusPlan", "TOKENGUARD_PLAN_CORPUS is not set"},
	{"./internal/cli", "TestReportRotation_htmlRendersInChromiumWithEveryTokenAndNoSecret", "chromium is not on PATH"},
	{"./internal/cli", "TestReportEvidence_indexRendersInChromiumWithEverySection", "chromium is not on PATH"},
}

// freshClone clones the repository's HEAD into a directory with nothing beside it (no
// ../shared) and returns the clone and an environment whose PATH holds only the go tool:
// no Chromium, and none of CI's switches.
func freshClone(t *testing.T) (string, []string) {
	t.Helper()
	gitPath, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git is not on PATH: the fresh clone cannot be made")
	}
	top, err := exec.Command(gitPath, "-C", "..", "rev-parse", "--show-toplevel").Output() //nolint:gosec // G204: git on PATH, asked about this checkout
	if err != nil {
		t.Skipf("not a git checkout (%v): the fresh clone needs the repository's history", err)
	}
	clone := filepath.Join(t.TempDir(), "alone", "tokenguard")
	if out, err := exec.Command(gitPath, "clone", "--quiet", "--no-hardlinks", strings.TrimSpace(string(top)), clone).CombinedOutput(); err != nil { //nolint:gosec // G204: git clones this checkout into the test's directory
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(clone, "..", "..", "shared")); err == nil {
		t.Fatal("the clone's directory has a shared/ beside it: the test would not prove the fresh-clone case")
	}

	goPath, err := exec.LookPath("go")
	if err != nil {
		t.Fatal("go is not on PATH")
	}
	goroot, err := exec.Command(goPath, "env", "GOROOT").Output() //nolint:gosec // G204: the go tool on PATH
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	bin := t.TempDir()
	if err := os.Symlink(goPath, filepath.Join(bin, "go")); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + bin, "GOROOT=" + strings.TrimSpace(string(goroot))}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "HOME", "TMPDIR", "GOPATH", "GOCACHE", "GOMODCACHE", "GOPROXY", "GONOSUMDB", "GOSUMDB", "GOTOOLCHAIN":
			env = append(env, kv)
		}
	}
	return clone, env
}

// goTest runs the optional tests' packages in the clone and returns the verbose output.
func goTest(t *testing.T, clone string, env []string) (string, error) {
	t.Helper()
	var names []string
	for _, o := range optionalTests {
		names = append(names, o.name)
	}
	args := []string{"test", "-count=1", "-v", "-run", "^(" + strings.Join(names, "|") + ")$"}
	for _, o := range optionalTests {
		if !slices.Contains(args, o.pkg) {
			args = append(args, o.pkg)
		}
	}
	cmd := exec.Command(filepath.Join(env[0][len("PATH="):], "go"), args...) //nolint:gosec // G204: the go tool linked into the test's PATH
	cmd.Dir = clone
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestFreshClone_makeTestPassesWithoutSharedCorpusOrChromium proves the README's promise that
// Go and Terraform are all a newcomer needs: in a clone with no ../shared and no Chromium on
// PATH, the tests that need them skip with their one-line reason instead of failing.
func TestFreshClone_makeTestPassesWithoutSharedCorpusOrChromium(t *testing.T) {
	clone, env := freshClone(t)
	out, err := goTest(t, clone, env)
	if err != nil {
		t.Fatalf("go test in a fresh clone: %v\n%s", err, out)
	}
	for _, o := range optionalTests {
		skip := regexp.MustCompile(`(?m)^--- SKIP: ` + o.name + ` `)
		if !skip.MatchString(out) || !strings.Contains(out, o.skipReason) {
			t.Errorf("%s: want a SKIP saying %q, got:\n%s", o.name, o.skipReason, out)
		}
	}
}

// TestFreshClone_ciSwitchesTurnSkipsIntoFailures proves the other half: with CI's switches
// set and the corpus and browser still missing, the same tests fail, so CI cannot pass green
// without them.
func TestFreshClone_ciSwitchesTurnSkipsIntoFailures(t *testing.T) {
	clone, env := freshClone(t)
	env = append(env, "TOKENGUARD_PLAN_CORPUS=../shared/corpus/terraform-json", "TOKENGUARD_REQUIRE_BROWSER=1")
	out, err := goTest(t, clone, env)
	if err == nil {
		t.Fatalf("go test passed with CI's switches set and nothing beside the clone:\n%s", out)
	}
	for _, o := range optionalTests {
		if !regexp.MustCompile(`(?m)^--- FAIL: ` + o.name + ` `).MatchString(out) {
			t.Errorf("%s did not fail under CI's switches:\n%s", o.name, out)
		}
	}
}

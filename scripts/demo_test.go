//go:build !windows

// Package scripts holds the tests of the repository's shell scripts; the scripts themselves
// are run by the GNUmakefile (scripts/demo.sh by `make demo`).
package scripts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// demoResult is what one run of scripts/demo.sh left behind.
type demoResult struct {
	output string // stdout and stderr, interleaved
	err    error  // the exit status
	tmpDir string // TMPDIR of the run: the script's temporary directory was made in it
}

// binDir is where TestMain's first caller of buildBinaries puts the binaries.
var (
	binDir    string
	buildOnce sync.Once
	buildErr  error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tokenguard-demo-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	binDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// buildBinaries builds tokenguard and terraform-provider-tokenguard once per test binary,
// as `make build` does into bin/, and returns their directory.
func buildBinaries(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		for _, b := range []struct{ out, pkg string }{
			{"tokenguard", "./cmd/tokenguard"},
			{"terraform-provider-tokenguard", "."},
		} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(binDir, b.out), b.pkg) //nolint:gosec // the go tool on PATH builds this repository
			cmd.Dir = ".."
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build %s: %w\n%s", b.pkg, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

// runDemo runs scripts/demo.sh with the binaries in binDir and the extra environment env.
func runDemo(t *testing.T, binDir string, env ...string) demoResult {
	t.Helper()
	tmp := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "demo.sh")
	// The demo starts a service in the background: run it in its own process group, and on
	// timeout kill the whole group, so no process outlives the test; never wait more than
	// WaitDelay for a child that still holds the output pipe.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	cmd.Env = append(os.Environ(), "TOKENGUARD_BIN_DIR="+binDir, "TMPDIR="+tmp)
	cmd.Env = append(cmd.Env, env...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("demo.sh did not finish within 5 minutes:\n%s", out.String())
	}
	return demoResult{output: out.String(), err: err, tmpDir: tmp}
}

func terraformOnPath(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("terraform"); err != nil {
		t.Skip("the demo drives the real Terraform CLI and none is on PATH: install Terraform >= 1.11 to run this test")
	}
}

// secretPattern matches a token secret (tg_<env>_...) or an API credential (tgc_...).
var secretPattern = regexp.MustCompile(`\btgc?_[A-Za-z0-9_-]{6,}`)

// servicePIDs returns every pid the demo announced as its service's.
func servicePIDs(t *testing.T, output string) []int {
	t.Helper()
	var pids []int
	for _, m := range regexp.MustCompile(`(?m)^service pid ([0-9]+)\b`).FindAllStringSubmatch(output, -1) {
		pid, err := strconv.Atoi(m[1])
		if err != nil {
			t.Fatalf("service pid %q: %v", m[1], err)
		}
		pids = append(pids, pid)
	}
	return pids
}

// assertCleanedUp checks that no service process and no temporary directory is left.
func assertCleanedUp(t *testing.T, r demoResult) {
	t.Helper()
	pids := servicePIDs(t, r.output)
	if len(pids) == 0 {
		t.Fatalf("the demo never printed its service pid:\n%s", r.output)
	}
	for _, pid := range pids {
		// The script waits for its child, so the pid is reaped: signal 0 reports ESRCH.
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("service pid %d is still running after the demo (kill -0: %v)", pid, err)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	left, err := os.ReadDir(r.tmpDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range left {
		t.Errorf("the demo left %s in TMPDIR", e.Name())
	}
}

func TestDemo_tellsTheWholeStory(t *testing.T) {
	terraformOnPath(t)
	r := runDemo(t, buildBinaries(t))
	if r.err != nil {
		t.Fatalf("demo.sh: %v\n%s", r.err, r.output)
	}
	// Each step heading, in order, with the outcome that proves it.
	steps := []struct {
		heading  string
		outcomes []string
	}{
		{"1. Start the token service", []string{"listening on http://127.0.0.1:", "admin credential was written to a 0600 file (not printed)"}},
		{"2. Point Terraform at the provider in bin/", []string{"Terraform v", "terraform-provider-tokenguard"}},
		{"3. Non-compliant token: blocked at terraform plan", []string{
			"blocked: CPRA-MIN-002 Scopes are minimal", "blocked: CPRA-RET-002 Lifetime is within the cap",
			"blocked: CPRA-ROT-001 Rotation interval is within the cap", "blocked: CPRA-SPI-001 Sensitive data needs an audience bound",
		}},
		{"4. The same plan in CI: tokenguard check blocks it", []string{
			"ERROR   CPRA-MIN-002", "ERROR   CPRA-RET-002", "ERROR   CPRA-ROT-001", "ERROR   CPRA-SPI-001",
			"1 resource checked: 5 findings (4 errors, 1 warning, 0 waived); 4 blocking",
		}},
		{"5. Compliant tokens: terraform apply", []string{"Apply complete! Resources: 2 added, 0 changed, 0 destroyed.", ", secret_version 1, fingerprint fp_"}},
		{"6. A new release changes a rotation trigger", []string{"Apply complete! Resources: 0 added, 1 changed, 0 destroyed.", "(same id), secret_version 1 -> 2, fingerprint fp_"}},
		{"7. tokenguard inventory", []string{"invoice-export  team-billing@example.com  active", "crm-sync        team-sales@example.com    active"}},
		{"8. Customer 4411 asks for deletion", []string{
			"Revoked 1 token(s) bound to the subject", "is now revoked",
			"Notify the holders of 1 token(s)", "crm-sync  team-sales@example.com  customer_records, identifiers  support-desk",
			"terraform apply, blocked: CPRA-DEL-001 Token is not bound to an erased subject", "ERROR   CPRA-DEL-001",
		}},
		{"9. tokenguard audit verify", []string{"audit chain verified: "}},
		{"10. The rotation evidence report", []string{"wrote the rotation report (html, 2 tokens, 0 late)"}},
		{"11. Stop the service and clean up", []string{" stopped; the temporary directory is removed on exit", "demo: all steps passed"}},
	}
	rest := r.output
	for i, s := range steps {
		at := strings.Index(rest, "==> "+s.heading)
		if at < 0 {
			t.Fatalf("step heading %q missing or out of order in:\n%s", s.heading, r.output)
		}
		rest = rest[at:]
		section := rest
		if i+1 < len(steps) {
			if next := strings.Index(rest, "==> "+steps[i+1].heading); next >= 0 {
				section = rest[:next]
			}
		}
		for _, o := range s.outcomes {
			if !strings.Contains(section, o) {
				t.Errorf("step %q: outcome %q not shown; the step printed:\n%s", s.heading, o, section)
			}
		}
	}
	// The token id is printed by the apply and is the same after the rotation.
	ids := regexp.MustCompile(`token (tok_[A-Za-z0-9]+)`).FindAllStringSubmatch(r.output, -1)
	if len(ids) < 2 || ids[0][1] != ids[1][1] {
		t.Errorf("want the same token id before and after the rotation, got %v", ids)
	}
	if m := secretPattern.FindString(r.output); m != "" {
		t.Errorf("the demo printed something shaped like a secret (%.8s…)", m)
	}
	assertCleanedUp(t, r)
}

// A step that misbehaves fails the demo, and the demo still cleans up: here a "terraform"
// that succeeds at everything, so the non-compliant plan is not blocked.
func TestDemo_failsWhenAStepMisbehaves(t *testing.T) {
	terraformOnPath(t)
	fake := filepath.Join(t.TempDir(), "terraform")
	//nolint:gosec // the fake terraform must be executable
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho 'Terraform v0.0.0-fake'\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := runDemo(t, buildBinaries(t), "TERRAFORM="+fake)
	var exit *exec.ExitError
	if !errors.As(r.err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("demo.sh with a terraform that never blocks: want exit code 1, got %v\n%s", r.err, r.output)
	}
	const want = "demo: FAILED: terraform plan of examples/quickstart/noncompliant succeeded; the policy gate should block it"
	if !strings.Contains(r.output, want) {
		t.Errorf("want %q in:\n%s", want, r.output)
	}
	if strings.Contains(r.output, "all steps passed") {
		t.Errorf("a failed demo claims success:\n%s", r.output)
	}
	assertCleanedUp(t, r)
}

func TestDemo_missingBinaries(t *testing.T) {
	r := runDemo(t, t.TempDir())
	var exit *exec.ExitError
	if !errors.As(r.err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("demo.sh without binaries: want exit code 2, got %v\n%s", r.err, r.output)
	}
	if !strings.Contains(r.output, "run 'make build' first") {
		t.Errorf("the error does not say what to do:\n%s", r.output)
	}
}

package cli

import (
	"strings"
	"testing"
)

func TestPolicyTest_bundledTestsPass(t *testing.T) {
	code, stdout, stderr := runCLI(t, "", "policy", "test", "../policy/testdata/userpolicy")
	if code != ExitOK || stderr != "" {
		t.Fatalf("exit %d, stderr %q\n%s", code, stderr, stdout)
	}
	if !strings.Contains(stdout, "PASS acme.labels_test.test_bundle_data_visible (../policy/testdata/userpolicy/labels_test.rego:9)\n") ||
		!strings.Contains(stdout, "PASS tokenguard.cpra.min_purpose_test.") ||
		!strings.Contains(stdout, " passed, 0 failed, 0 skipped\n") {
		t.Errorf("stdout:\n%s", stdout)
	}
}

func TestPolicyTest_failureExitsOne(t *testing.T) {
	code, stdout, _ := runCLI(t, "", "policy", "test", "../policy/testdata/failingpolicy")
	if code != ExitFindings || !strings.Contains(stdout, "FAIL acme.broken_test.test_fails (../policy/testdata/failingpolicy/broken_test.rego:7)\n") || !strings.Contains(stdout, " passed, 1 failed, 0 skipped\n") {
		t.Errorf("exit %d\n%s", code, stdout)
	}
}

func TestPolicyTest_coverage(t *testing.T) {
	code, stdout, _ := runCLI(t, "", "policy", "test", "--coverage", "../policy/testdata/userpolicy")
	if code != ExitOK || !strings.Contains(stdout, "coverage 100.00%  ../policy/testdata/userpolicy/labels.rego\n") || !strings.Contains(stdout, "%  policies/min_purpose.rego\n") {
		t.Errorf("exit %d\n%s", code, stdout)
	}
}

func TestPolicyTest_badDirectory(t *testing.T) {
	code, _, stderr := runCLI(t, "", "policy", "test", "testdata/none")
	if code != ExitUsage || stderr != "tokenguard: policy directory testdata/none: no such file or directory\n" {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestPolicyList(t *testing.T) {
	code, stdout, _ := runCLI(t, "", "policy", "list", "--policy", "../policy/testdata/userpolicy")
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if code != ExitOK || len(lines) < 3 || !strings.HasPrefix(lines[0], "ID ") {
		t.Fatalf("exit %d\n%s", code, stdout)
	}
	if strings.Join(strings.Fields(lines[1]), " ") != "ACME-001 warning token check Token names a cost centre" {
		t.Errorf("first rule line %q", lines[1])
	}
	if !strings.Contains(stdout, "CPRA-MIN-001") || !strings.Contains(stdout, "CPRA-SEC-002") {
		t.Errorf("bundled rules missing:\n%s", stdout)
	}
}

package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestPolicyTest_quietByDefault: like opa test and conftest verify, a passing run prints one
// summary line and nothing else; the count is of every test run.
func TestPolicyTest_quietByDefault(t *testing.T) {
	code, stdout, stderr := runCLI(t, "", "policy", "test", "../policy/testdata/userpolicy")
	if code != ExitOK || stderr != "" {
		t.Fatalf("exit %d, stderr %q\n%s", code, stderr, stdout)
	}
	var passed int
	if n, err := fmt.Sscanf(stdout, "%d passed, 0 failed, 0 skipped\n", &passed); n != 1 || err != nil || passed < 2 ||
		strings.Count(stdout, "\n") != 1 || strings.Contains(stdout, "PASS") {
		t.Errorf("stdout is not one summary line:\n%s", stdout)
	}
	_, verbose, _ := runCLI(t, "", "policy", "test", "-v", "../policy/testdata/userpolicy")
	if got := strings.Count(verbose, "PASS "); got != passed {
		t.Errorf("-v printed %d PASS lines, the summary counts %d passed", got, passed)
	}
}

func TestPolicyTest_bundledTestsPass(t *testing.T) {
	code, stdout, stderr := runCLI(t, "", "policy", "test", "--verbose", "../policy/testdata/userpolicy")
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
	if code != ExitFindings || !strings.Contains(stdout, "FAIL acme.broken_test.test_fails (../policy/testdata/failingpolicy/broken_test.rego:7)\n") || !strings.Contains(stdout, " passed, 1 failed, 0 skipped\n") ||
		strings.Contains(stdout, "PASS ") {
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

// TestPolicyList_json (issue 15 point 6): every rule with its metadata, as JSON.
func TestPolicyList_json(t *testing.T) {
	code, stdout, stderr := runCLI(t, "", "policy", "list", "--format", "json", "--policy", "../policy/testdata/userpolicy")
	var rules []struct {
		ID, Title, Description, Severity, Citation, Remediation, Scope, File string
		Gates                                                                []string
	}
	if err := json.Unmarshal([]byte(stdout), &rules); err != nil || code != ExitOK || stderr != "" {
		t.Fatalf("exit %d, %v, stderr %q\n%s", code, err, stderr, stdout)
	}
	byID := map[string]int{}
	for i, r := range rules {
		byID[r.ID] = i
		if r.ID == "" || r.Title == "" || r.Severity == "" || r.Scope == "" {
			t.Errorf("rule %d lacks metadata: %+v", i, r)
		}
	}
	r := rules[byID["CPRA-RET-002"]]
	if r.Citation != "Cal. Civ. Code 1798.100(e); 1798.81.5(b)" || !strings.Contains(r.Description, "ttl_max_days") || r.Remediation == "" || r.File != "policies/ret_ttl_cap.rego" {
		t.Errorf("CPRA-RET-002 = %+v", r)
	}
	if _, ok := byID["ACME-001"]; !ok {
		t.Error("the user policy's rule is missing")
	}
	if code, _, stderr := runCLI(t, "", "policy", "list", "--format", "yaml"); code != ExitUsage || !strings.Contains(stderr, `--format "yaml": use text or json`) {
		t.Errorf("bad format: exit %d, %q", code, stderr)
	}
}

// TestPolicyShow: one rule's metadata, description, citation and remediation, as text or
// JSON; an unknown id is a usage error that says where the ids are.
func TestPolicyShow(t *testing.T) {
	code, stdout, _ := runCLI(t, "", "policy", "show", "cpra-sec-001")
	for _, want := range []string{
		"CPRA-SEC-001  Secret is not exposed through an output\n",
		"severity:    error\n", "scope:       plan\n", "gates:       check\n",
		"citation:    Cal. Civ. Code 1798.100(e); 1798.81.5(b)\n",
		"Provisions (what the law says):\n  Cal. Civ. Code 1798.100(e): ", "\n  Cal. Civ. Code 1798.81.5(b): ",
		"nonsensitive()", "Remediation: Mark the output sensitive = true",
	} {
		if code != ExitOK || !strings.Contains(stdout, want) {
			t.Errorf("exit %d, output lacks %q:\n%s", code, want, stdout)
		}
	}
	code, stdout, _ = runCLI(t, "", "policy", "show", "--format", "json", "CPRA-XPR-004")
	var r struct{ ID, Citation, Remediation string }
	if err := json.Unmarshal([]byte(stdout), &r); err != nil || code != ExitOK || r.ID != "CPRA-XPR-004" || r.Citation == "" || r.Remediation == "" {
		t.Errorf("json: exit %d, %v, %+v", code, err, r)
	}
	// A rule with a threshold says which numbers are tokenguard's.
	code, stdout, _ = runCLI(t, "", "policy", "show", "CPRA-RET-002")
	for _, want := range []string{"Thresholds:\n  ttl_max_days, ttl_max_days_sensitive: tokenguard default\n", "What tokenguard adds: Caps a token's lifetime"} {
		if code != ExitOK || !strings.Contains(stdout, want) || strings.Contains(stdout, "1798.121") {
			t.Errorf("exit %d, output lacks %q or still cites 1798.121:\n%s", code, want, stdout)
		}
	}
	// The hygiene rule says so instead of citing a provision.
	if code, stdout, _ = runCLI(t, "", "policy", "show", "CPRA-RET-004"); code != ExitOK || !strings.Contains(stdout, "basis:       configuration hygiene\n") || strings.Contains(stdout, "1798.") {
		t.Errorf("RET-004: exit %d:\n%s", code, stdout)
	}
	for _, args := range [][]string{{"policy", "show", "CPRA-NOPE-001"}, {"policy", "show"}, {"policy", "show", "a", "b"}} {
		code, _, stderr := runCLI(t, "", args...)
		if code != ExitUsage || (!strings.Contains(stderr, "tokenguard policy list") && !strings.Contains(stderr, "takes one rule id")) {
			t.Errorf("%v: exit %d, %q", args, code, stderr)
		}
	}
}

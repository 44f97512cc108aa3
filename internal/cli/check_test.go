package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/testenv"
)

const (
	checkData = "testdata/check"
	// now is the plan timestamp of the fixtures, used as today for waivers.
	now = "--now=2026-11-27T12:00:00Z"
)

// runCLI runs the CLI and returns exit code, stdout and stderr.
func runCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Run(args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

type jsonReport struct {
	Findings []struct {
		RuleID   string  `json:"rule_id"`
		Severity string  `json:"severity"`
		Address  string  `json:"address"`
		Message  string  `json:"message"`
		File     *string `json:"file"`
		Line     *int    `json:"line"`
		Waived   bool    `json:"waived"`
		Blocking bool    `json:"blocking"`
	} `json:"findings"`
	Summary map[string]int `json:"summary"`
}

func decodeReport(t *testing.T, s string) jsonReport {
	t.Helper()
	var r jsonReport
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		t.Fatalf("output is not the JSON report: %v\n%s", err, s)
	}
	return r
}

// rulesByAddress renders "address: RULE, RULE" lines.
func rulesByAddress(r jsonReport) string {
	m := map[string][]string{}
	for _, f := range r.Findings {
		id := f.RuleID
		if f.Waived {
			id += "(waived)"
		}
		m[f.Address] = append(m[f.Address], id)
	}
	var lines []string
	for a, ids := range m {
		sort.Strings(ids)
		lines = append(lines, a+": "+strings.Join(ids, ", "))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func TestCheck_readsEveryCorpusPlan(t *testing.T) {
	for _, f := range testenv.CorpusPlans(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			code, _, stderr := runCLI(t, "", "check", f)
			if filepath.Base(f) == "invalid__plan.json" {
				if code != ExitUsage || stderr != "tokenguard: "+f+": input is not valid JSON: unexpected data after the plan object at byte 15543\n" {
					t.Errorf("exit %d, stderr %q", code, stderr)
				}
				return
			}
			if code != ExitOK && code != ExitFindings {
				t.Errorf("exit %d, stderr %q", code, stderr)
			}
		})
	}
}

func TestCheck_tokenguardPlanFindingsPerAddress(t *testing.T) {
	code, stdout, stderr := runCLI(t, "", "check", "--format", "json", filepath.Join(checkData, "plan.json"))
	if code != ExitFindings || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	r := decodeReport(t, stdout)
	want := `module.app.tokenguard_api_token.generic["eu"]: CPRA-MIN-001, CPRA-RET-002
provider.tokenguard: CPRA-SEC-002
tokenguard_api_token.existing: CPRA-MIN-003, CPRA-RET-004, CPRA-SEC-001`
	if got := rulesByAddress(r); got != want {
		t.Errorf("findings:\n%s\nwant:\n%s", got, want)
	}
	if r.Summary["resources_checked"] != 4 || r.Summary["blocking"] != 5 || r.Summary["warnings"] != 1 {
		t.Errorf("summary %v", r.Summary)
	}
}

func TestCheck_compliantPlanExitsZero(t *testing.T) {
	code, stdout, stderr := runCLI(t, "", "check", filepath.Join(checkData, "compliant.json"))
	if code != ExitOK || stderr != "" || stdout != "2 resources checked: no findings\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestCheck_externalTokens(t *testing.T) {
	code, stdout, _ := runCLI(t, "", "check", "--format", "json", filepath.Join(checkData, "external.json"))
	if code != ExitFindings {
		t.Fatalf("exit %d", code)
	}
	r := decodeReport(t, stdout)
	// Every ".good" resource is compliant; AWS access keys and Datadog application keys have no
	// expiry attribute at all, so they only have a non-compliant case.
	want := `aws_iam_access_key.bad: CPRA-XPR-001
azuread_application_password.bad: CPRA-XPR-002, CPRA-XPR-003
cloudflare_api_token.bad: CPRA-XPR-001
datadog_application_key.bad: CPRA-XPR-001
gitlab_group_access_token.bad: CPRA-RET-004
gitlab_personal_access_token.bad: CPRA-XPR-001, CPRA-XPR-004
gitlab_project_access_token.bad: CPRA-XPR-002, CPRA-XPR-003
google_service_account_key.bad: CPRA-XPR-001
grafana_cloud_access_policy_token.bad: CPRA-XPR-001
grafana_service_account_token.bad: CPRA-XPR-001
tfe_organization_token.bad: CPRA-XPR-002, CPRA-XPR-003
tfe_team_token.bad: CPRA-XPR-001
vault_token.bad: CPRA-XPR-001`
	if got := rulesByAddress(r); got != want {
		t.Errorf("findings:\n%s\nwant:\n%s", got, want)
	}
	if r.Summary["resources_checked"] != 24 {
		t.Errorf("resources_checked = %d, want 24", r.Summary["resources_checked"])
	}
}

func TestCheck_secretsNeverPrinted(t *testing.T) {
	secrets := []string{"SECRETSECRET", "wJalrXUtnFEMI"}
	for _, plan := range []string{"plan.json", "external.json"} {
		b, err := os.ReadFile(filepath.Join(checkData, plan)) //nolint:gosec // G304: a plan under testdata/
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte("SECRETSECRET")) {
			t.Fatalf("%s no longer holds the secret this test looks for", plan)
		}
		for _, format := range []string{"text", "json", "sarif", "junit", "github", "markdown"} {
			code, stdout, stderr := runCLI(t, "", "check", "--format", format, "--config-dir", filepath.Join(checkData, "config"), filepath.Join(checkData, plan))
			if code != ExitFindings {
				t.Errorf("%s %s: exit %d %s", plan, format, code, stderr)
			}
			for _, s := range secrets {
				if strings.Contains(stdout, s) || strings.Contains(stderr, s) {
					t.Errorf("%s %s: output holds secret %q", plan, format, s)
				}
			}
		}
	}
}

func TestCheck_waiversMatchedExpiredAndUnused(t *testing.T) {
	code, stdout, stderr := runCLI(t, "", "check", now, "--format", "json", "--waivers", filepath.Join(checkData, "waivers.yaml"), filepath.Join(checkData, "plan.json"))
	if code != ExitFindings || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	r := decodeReport(t, stdout)
	want := `gitlab_project_access_token.legacy: TOKENGUARD-WAIVER-UNUSED
module.app.tokenguard_api_token.*: TOKENGUARD-WAIVER-EXPIRED
module.app.tokenguard_api_token.generic["eu"]: CPRA-MIN-001, CPRA-RET-002
provider.tokenguard: CPRA-SEC-002
tokenguard_api_token.existing: CPRA-MIN-003(waived), CPRA-RET-004, CPRA-SEC-001`
	if got := rulesByAddress(r); got != want {
		t.Errorf("findings:\n%s\nwant:\n%s", got, want)
	}
	for _, f := range r.Findings {
		if f.RuleID == "TOKENGUARD-WAIVER-EXPIRED" && (!f.Blocking || f.File == nil || *f.File != filepath.Join(checkData, "waivers.yaml")) {
			t.Errorf("expired waiver finding %+v", f)
		}
		if f.RuleID == "TOKENGUARD-WAIVER-UNUSED" && (f.Blocking || f.Severity != "warning") {
			t.Errorf("unused waiver finding %+v", f)
		}
	}
	// Before the second waiver expired, it waived its finding.
	_, stdout, _ = runCLI(t, "", "check", "--now=2026-10-30T00:00:00Z", "--format", "json", "--waivers", filepath.Join(checkData, "waivers.yaml"), filepath.Join(checkData, "plan.json"))
	if got := rulesByAddress(decodeReport(t, stdout)); !strings.Contains(got, `generic["eu"]: CPRA-MIN-001(waived), CPRA-RET-002`) {
		t.Errorf("waiver before expiry:\n%s", got)
	}
}

func TestCheck_waiverWaivesTheOnlyBlockingFinding(t *testing.T) {
	dir := t.TempDir()
	waivers := filepath.Join(dir, "w.yaml")
	doc := "waivers:\n" +
		"  - {rule: CPRA-XPR-001, address: '*.bad', reason: No expiry attribute, approved_by: ciso@example.com, expires: 2027-01-31}\n" +
		"  - {rule: 'CPRA-XPR-00[234]', address: x, reason: r, approved_by: a, expires: 2027-01-31}\n"
	if err := os.WriteFile(waivers, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	plan := filepath.Join(dir, "plan.json")
	b, _ := os.ReadFile(filepath.Join(checkData, "external.json"))
	var p map[string]any
	_ = json.Unmarshal(b, &p)
	var keep []any
	for _, rc := range p["resource_changes"].([]any) {
		if rc.(map[string]any)["address"] == "aws_iam_access_key.bad" {
			keep = append(keep, rc)
		}
	}
	p["resource_changes"] = keep
	b, _ = json.Marshal(p)
	if err := os.WriteFile(plan, b, 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ := runCLI(t, "", "check", now, "--waivers", waivers, plan)
	// The unused second waiver is a warning: it does not block unless --fail-on warning.
	if code != ExitOK || !strings.Contains(stdout, "WAIVED  CPRA-XPR-001") || !strings.Contains(stdout, "TOKENGUARD-WAIVER-UNUSED") {
		t.Errorf("exit %d\n%s", code, stdout)
	}
	if code, _, _ := runCLI(t, "", "check", now, "--fail-on", "warning", "--waivers", waivers, plan); code != ExitFindings {
		t.Errorf("--fail-on warning: exit %d, want 1", code)
	}
}

// TestCheck_configDirAddsFileAndLine: with --path-prefix "" paths are relative to
// --config-dir; since issue 15 the line is the attribute's the finding is about (purpose,
// ttl), as in the provider, and the resource block's otherwise.
func TestCheck_configDirAddsFileAndLine(t *testing.T) {
	_, stdout, _ := runCLI(t, "", "check", "--format", "json", "--path-prefix", "", "--config-dir", filepath.Join(checkData, "config"), filepath.Join(checkData, "plan.json"))
	lines := map[string]int{"CPRA-MIN-001": 8, "CPRA-RET-002": 9}
	for _, f := range decodeReport(t, stdout).Findings {
		if f.Address == `module.app.tokenguard_api_token.generic["eu"]` {
			want := lines[f.RuleID]
			if want == 0 {
				want = 5
			}
			if f.File == nil || *f.File != "modules/app/main.tf" || f.Line == nil || *f.Line != want {
				t.Errorf("%s: file %v line %v, want line %d", f.RuleID, f.File, f.Line, want)
			}
		} else if f.File != nil {
			t.Errorf("%s %s: unexpected file %s", f.Address, f.RuleID, *f.File)
		}
	}
}

func TestCheck_stdinOutputFileAndFormats(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(checkData, "plan.json"))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "report.sarif")
	code, stdout, stderr := runCLI(t, string(b), "check", "--format", "sarif", "--output", out, "-")
	if code != ExitFindings || stdout != "" || stderr != "" {
		t.Fatalf("exit %d stdout %q stderr %q", code, stdout, stderr)
	}
	written, err := os.ReadFile(out) //nolint:gosec // G304: the --output file in the test's temporary directory
	if err != nil || !bytes.Contains(written, []byte(`"ruleId": "CPRA-SEC-001"`)) {
		t.Errorf("sarif output: %v\n%s", err, written)
	}
	_, text, _ := runCLI(t, "", "check", filepath.Join(checkData, "plan.json"))
	if strings.Contains(text, "\x1b[") || !strings.HasSuffix(text, "4 resources checked: 6 findings (5 errors, 1 warning, 0 waived); 5 blocking\n") {
		t.Errorf("text output:\n%s", text)
	}
}

func TestCheck_userPolicyAndData(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data.yaml")
	if err := os.WriteFile(data, []byte("tokenguard:\n  thresholds:\n    ttl_max_days: 400\n    unused_max_days: 100\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stdout, stderr := runCLI(t, "", "check", "--format", "json", "--data", data, "--policy", "../policy/testdata/userpolicy", filepath.Join(checkData, "plan.json"))
	want := `module.app.tokenguard_api_token.generic["eu"]: ACME-001, CPRA-MIN-001
provider.tokenguard: CPRA-SEC-002
tokenguard_api_token.existing: CPRA-RET-004, CPRA-SEC-001`
	if got := rulesByAddress(decodeReport(t, stdout)); got != want {
		t.Errorf("findings:\n%s\nwant:\n%s\n%s", got, want, stderr)
	}
}

func TestCheck_badInputExitsTwo(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	empty := write("empty.json", "")
	truncated := write("truncated.json", `{"format_version":"1.2","planned_values":{"root_module":{"resources":[{"address":"a"`)
	notJSON := write("plan.tf", "resource \"tokenguard_api_token\" \"a\" {}\n")
	state := write("terraform.tfstate", `{"version":4,"format_version":"1.0","terraform_version":"1.9.0","values":{"root_module":{}}}`)
	wrongVersion := write("v2.json", `{"format_version":"2.0","planned_values":{}}`)
	badWaivers := write("w.yaml", "waivers:\n  - rule: CPRA-MIN-001\n    address: x\n    reason: r\n    expires: 2027-01-01\n")
	plan := filepath.Join(checkData, "plan.json")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"empty", []string{empty}, empty + ": input is empty"},
		{"truncated", []string{truncated}, truncated + ": input is truncated"},
		{"not JSON", []string{notJSON}, notJSON + ": input is not JSON"},
		{"state file", []string{state}, state + ": input is a Terraform state file, not a plan"},
		{"format version", []string{wrongVersion}, wrongVersion + `: unsupported plan format_version "2.0"`},
		{"directory", []string{dir}, dir + " is a directory"},
		{"missing file", []string{filepath.Join(dir, "nope.json")}, "plan file " + filepath.Join(dir, "nope.json") + ": no such file or directory"},
		{"no argument", nil, "check takes one or more PLAN arguments"}, // issue 15: several plans are allowed
		{"unknown format", []string{"--format", "xml", plan}, `--format: unknown format "xml"`},
		{"fail-on", []string{"--fail-on", "never", plan}, `--fail-on "never": use error or warning`},
		{"bad now", []string{"--now", "today", plan}, `--now "today"`},
		{"waiver field", []string{"--waivers", badWaivers, plan}, "waiver 0: approved_by is required"},
		{"missing waivers", []string{"--waivers", filepath.Join(dir, "none.yaml"), plan}, "none.yaml: no such file or directory"},
		{"missing data", []string{"--data", filepath.Join(dir, "none.json"), plan}, "data file " + filepath.Join(dir, "none.json") + ": no such file or directory"},
		{"missing policy dir", []string{"--policy", filepath.Join(dir, "none"), plan}, "policy directory " + filepath.Join(dir, "none") + ": no such file or directory"},
		{"missing config dir", []string{"--config-dir", filepath.Join(dir, "none"), plan}, "config directory " + filepath.Join(dir, "none") + ": no such file or directory"},
		{"output dir", []string{"--output", filepath.Join(dir, "none", "x.json"), plan}, "--output " + filepath.Join(dir, "none", "x.json") + ": no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, "", append([]string{"check"}, tt.args...)...)
			if code != ExitUsage {
				t.Errorf("exit %d, want 2", code)
			}
			if !strings.HasPrefix(stderr, "tokenguard: ") || !strings.Contains(stderr, tt.want) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("stderr %q, want one line with %q", stderr, tt.want)
			}
			if stdout != "" {
				t.Errorf("stdout %q", stdout)
			}
		})
	}
	code, _, stderr := runCLI(t, "", "check", "-")
	if code != ExitUsage || stderr != "tokenguard: stdin: input is empty: expected the JSON output of `terraform show -json PLAN`\n" {
		t.Errorf("empty stdin: exit %d, stderr %q", code, stderr)
	}
}

func TestCheck_binaryPlanNeedsTerraform(t *testing.T) {
	plan := filepath.Join(t.TempDir(), "tfplan")
	if err := os.WriteFile(plan, []byte("PK\x03\x04not really a plan"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", t.TempDir())
	code, _, stderr := runCLI(t, "", "check", plan)
	if code != ExitUsage || stderr != "tokenguard: "+plan+" is a binary plan file and terraform is not on PATH: install Terraform, or pass the output of terraform show -json\n" {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestCheck_binaryPlanTerraformErrorIsReported(t *testing.T) {
	if _, err := exec.LookPath("terraform"); err != nil {
		t.Skip("terraform is not on PATH; .ci/run requires it, so CI always runs this test")
	}
	plan := filepath.Join(t.TempDir(), "tfplan")
	if err := os.WriteFile(plan, []byte("PK\x03\x04not really a plan"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, "", "check", plan)
	if code != ExitUsage || !strings.HasPrefix(stderr, "tokenguard: "+plan+" (terraform show -json): terraform show -json failed: ") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

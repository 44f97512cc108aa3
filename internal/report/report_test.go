package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/policy"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var sampleRules = []policy.Rule{
	{ID: "CPRA-MIN-001", Title: "Purpose is specific", Description: "A token states which data it reads, for which system, for what.", Severity: "error", Citation: "Cal. Civ. Code 1798.100(a)(1),(c); 11 CCR 7002", Remediation: "Write one sentence that says which data the token reads, for which system, for what.", Scope: "token", Gates: []string{"provider", "check", "service"}},
	{ID: "CPRA-RET-002", Title: "Lifetime is within the cap", Severity: "error", Citation: "Cal. Civ. Code 1798.100(e); 1798.81.5(b)", Remediation: "Lower ttl to 90 days or less.", Scope: "token", Gates: []string{"provider", "check", "service"}},
	{ID: "CPRA-SEC-002", Title: "Service endpoint uses HTTPS", Severity: "error", Citation: "Cal. Civ. Code 1798.100(e); 1798.81.5", Remediation: "Use the https:// address.", Scope: "plan", Gates: []string{"check"}},
	{ID: "CPRA-XPR-003", Title: "Long-lived external token is rotated", Severity: "warning", Citation: "Cal. Civ. Code 1798.100(e)", Remediation: "Declare rotation_configuration.", Scope: "token", Gates: []string{"check"}},
}

// sampleBasis is the threshold basis of the sample's CPRA-RET-002 finding.
const sampleBasis = "tokenguard default ttl_max_days, ttl_max_days_sensitive, configurable in data.tokenguard.thresholds; supports Cal. Civ. Code 1798.100(e), 1798.81.5(b)"

func sampleReport() Report {
	return Report{
		Rules:     sampleRules,
		Resources: []string{"gitlab_project_access_token.deploy", `module.app.tokenguard_api_token.generic["eu"]`, "tokenguard_api_token.good", "tokenguard_api_token.legacy"},
		FailOn:    "error",
		Findings: []policy.Finding{
			{RuleID: "CPRA-XPR-003", Severity: "warning", Title: "Long-lived external token is rotated", Address: "gitlab_project_access_token.deploy", Message: "expires in 300 days, with no rotation: 50% of tokens, a|b, c:d", Citation: "Cal. Civ. Code 1798.100(e)", Remediation: "Declare rotation_configuration.", Field: "rotation_configuration", File: "tokens.tf", Line: 3},
			{RuleID: "CPRA-MIN-001", Severity: "error", Title: "Purpose is specific", Address: `module.app.tokenguard_api_token.generic["eu"]`, Message: "purpose \"test\" is generic:\nit does not say <which> data", Citation: "Cal. Civ. Code 1798.100(a)(1),(c); 11 CCR 7002", Remediation: "Write one sentence that says which data the token reads, for which system, for what.", Field: "purpose", File: "modules/app/main.tf", Line: 5},
			{RuleID: "CPRA-RET-002", Severity: "error", Title: "Lifetime is within the cap", Address: `module.app.tokenguard_api_token.generic["eu"]`, Message: "ttl is 365 days, above the tokenguard default cap of 90 days (configurable, not set by law)", Citation: "Cal. Civ. Code 1798.100(e); 1798.81.5(b)", Basis: sampleBasis, Remediation: "Lower ttl to 90 days or less.", Field: "ttl", File: "modules/app/main.tf", Line: 5, Waived: true, WaiverReason: "Vendor migration in Q1", WaiverApprovedBy: "privacy-office@example.com"},
			{RuleID: "CPRA-SEC-002", Severity: "error", Title: "Service endpoint uses HTTPS", Address: "provider.tokenguard", Message: "provider provider.tokenguard sends tokens over plain HTTP to \"tokens.example.com\"", Citation: "Cal. Civ. Code 1798.100(e); 1798.81.5", Remediation: "Use the https:// address.", Field: "provider.tokenguard.endpoint"},
			{RuleID: policy.RuleWaiverUnused, Severity: "warning", Title: "Waiver matches no finding", Address: "tokenguard_api_token.old_*", Message: "waiver 1 for CPRA-MIN-004 on tokenguard_api_token.old_* matches no finding", Remediation: "Remove the waiver, or correct its rule id or address pattern.", File: "waivers.yaml"},
		},
	}
}

func render(t *testing.T, name string, r Report) string {
	t.Helper()
	f, err := Get(name)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := f.Write(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func golden(t *testing.T, file, got string) {
	t.Helper()
	path := filepath.Join("testdata", file)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil { //nolint:gosec // G306: golden files are committed source, world-readable like the rest of the tree
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path) //nolint:gosec // G304: a golden file under testdata/
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", file, got, want)
	}
}

func TestFormats_golden(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			golden(t, name+".golden", render(t, name, sampleReport()))
			golden(t, name+"_empty.golden", render(t, name, Report{Rules: sampleRules, Resources: []string{"tokenguard_api_token.good"}}))
		})
	}
	colour := sampleReport()
	colour.Color = true
	golden(t, "text_color.golden", render(t, "text", colour))
}

// TestFormats_showTheThresholdBasis: every format carries a finding's threshold basis, so a
// number in a message is never read as if the law set it.
func TestFormats_showTheThresholdBasis(t *testing.T) {
	for _, name := range Names() {
		got := render(t, name, sampleReport())
		if !strings.Contains(got, "tokenguard default ttl") || !strings.Contains(got, "supports Cal. Civ. Code 1798.100(e), 1798.81.5(b)") {
			t.Errorf("%s: the threshold basis is missing:\n%s", name, got)
		}
	}
}

func TestText_noColourUnlessTold(t *testing.T) {
	if strings.Contains(render(t, "text", sampleReport()), "\x1b[") {
		t.Error("ANSI escape in uncoloured text")
	}
}

func TestSummary_failOnWarning(t *testing.T) {
	r := sampleReport()
	want := Summary{Total: 5, Errors: 2, Warnings: 2, Waived: 1, Blocking: 2, ResourcesChecked: 4}
	if got := r.Summary(); got != want {
		t.Errorf("Summary = %+v, want %+v", got, want)
	}
	r.FailOn = "warning"
	want.Blocking = 4
	if got := r.Summary(); got != want {
		t.Errorf("fail-on warning Summary = %+v, want %+v", got, want)
	}
}

func TestGet_unknownFormat(t *testing.T) {
	_, err := Get("yaml")
	if err == nil || err.Error() != `unknown format "yaml": use one of github, json, junit, markdown, sarif, text` {
		t.Errorf("Get(yaml) = %v", err)
	}
}

func TestSARIF_structure(t *testing.T) {
	var log struct {
		Version string `json:"version"`
		Schema  string `json:"$schema"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name  string `json:"name"`
					Rules []struct {
						ID               string                `json:"id"`
						ShortDescription struct{ Text string } `json:"shortDescription"`
						FullDescription  struct{ Text string } `json:"fullDescription"`
						Help             struct{ Text string } `json:"help"`
						Properties       map[string]any        `json:"properties"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string                `json:"ruleId"`
				RuleIndex int                   `json:"ruleIndex"`
				Level     string                `json:"level"`
				Message   struct{ Text string } `json:"message"`
				Locations []struct {
					PhysicalLocation *struct {
						ArtifactLocation struct{ URI string }     `json:"artifactLocation"`
						Region           *struct{ StartLine int } `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
				Suppressions []any `json:"suppressions"`
			} `json:"results"`
		} `json:"runs"`
	}
	r := sampleReport()
	if err := json.Unmarshal([]byte(render(t, "sarif", r)), &log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || !strings.Contains(log.Schema, "sarif-schema-2.1.0.json") || len(log.Runs) != 1 {
		t.Fatalf("version %q schema %q runs %d", log.Version, log.Schema, len(log.Runs))
	}
	run := log.Runs[0]
	if run.Tool.Driver.Name != "tokenguard" {
		t.Errorf("driver name %q", run.Tool.Driver.Name)
	}
	ids := map[string]int{}
	for i, rule := range run.Tool.Driver.Rules {
		if _, dup := ids[rule.ID]; dup {
			t.Errorf("rule %s listed twice", rule.ID)
		}
		ids[rule.ID] = i
		if rule.ShortDescription.Text == "" || rule.FullDescription.Text == "" || rule.Help.Text == "" || rule.Properties["severity"] == nil {
			t.Errorf("rule %s lacks descriptions, help or properties: %+v", rule.ID, rule)
		}
	}
	for _, rule := range sampleRules {
		if _, ok := ids[rule.ID]; !ok {
			t.Errorf("policy rule %s missing from rules[]", rule.ID)
		}
	}
	if len(run.Results) != len(r.Findings) {
		t.Fatalf("%d results for %d findings", len(run.Results), len(r.Findings))
	}
	for i, res := range run.Results {
		f := r.Findings[i]
		if res.RuleID != f.RuleID || ids[res.RuleID] != res.RuleIndex || res.Message.Text != f.Message {
			t.Errorf("result %d: %+v for %+v", i, res, f)
		}
		if f.File != "" {
			if len(res.Locations) != 1 || res.Locations[0].PhysicalLocation == nil || res.Locations[0].PhysicalLocation.ArtifactLocation.URI != f.File {
				t.Errorf("result %d: no physical location for %s", i, f.File)
			} else if f.Line > 0 && (res.Locations[0].PhysicalLocation.Region == nil || res.Locations[0].PhysicalLocation.Region.StartLine != f.Line) {
				t.Errorf("result %d: startLine not %d", i, f.Line)
			}
		}
		if f.Waived != (len(res.Suppressions) == 1) {
			t.Errorf("result %d: waived %v, suppressions %v", i, f.Waived, res.Suppressions)
		}
	}
	if run.Results[0].Level != "warning" || run.Results[1].Level != "error" {
		t.Errorf("levels %s %s", run.Results[0].Level, run.Results[1].Level)
	}
}

func TestGitHub_escapesWorkflowCommands(t *testing.T) {
	out := render(t, "github", sampleReport())
	want := "::warning file=tokens.tf,line=3,title=CPRA-XPR-003 Long-lived external token is rotated::gitlab_project_access_token.deploy: expires in 300 days, with no rotation: 50%25 of tokens, a|b, c:d%0AFix: Declare rotation_configuration.%0ACal. Civ. Code 1798.100(e)\n"
	if !strings.HasPrefix(out, want) {
		t.Errorf("first annotation:\n%s\nwant\n%s", strings.SplitAfter(out, "\n")[0], want)
	}
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if !strings.HasPrefix(line, "::") {
			t.Errorf("line is not a workflow command: %q", line)
		}
	}
	if got := escapeProperty("a:b,c%\n"); got != "a%3Ab%2Cc%25%0A" {
		t.Errorf("escapeProperty = %q", got)
	}
}

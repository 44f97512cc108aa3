package report

import (
	"encoding/xml"
	"strings"
	"testing"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/policy"
)

// hostileReport has a finding whose address, file and waiver texts carry line breaks, a
// workflow command, an ANSI escape and a bidirectional override.
func hostileReport() Report {
	addr := "tokenguard_api_token.x\n::error file=README.md::forged\r\n\x1b[2J\u202e"
	return Report{
		FailOn:    policy.SeverityError,
		Resources: []string{addr, "tokenguard_api_token.clean"},
		Findings: []policy.Finding{
			{RuleID: "CPRA-MIN-001", Severity: policy.SeverityError, Title: "Purpose is specific", Address: addr,
				Message: "purpose is generic\n::warning::forged too", File: "tokens.tf\n::error::x", Line: 3},
			{RuleID: "CPRA-RET-002", Severity: policy.SeverityError, Title: "Lifetime", Address: addr, Message: "ttl",
				Waived: true, WaiverReason: "ok\n::error::waiver", WaiverApprovedBy: "a\x07b"},
		},
	}
}

// TestFormats_escapeControlCharacters (issue 15 point 3): no control character of a finding
// reaches text, github, junit or markdown output raw, so a crafted address cannot start a
// line with ::error (a GitHub Actions workflow command), clear a terminal or reorder text.
// json and sarif escape them by JSON syntax.
func TestFormats_escapeControlCharacters(t *testing.T) {
	for _, name := range []string{"text", "github", "junit", "markdown"} {
		out := render(t, name, hostileReport())
		for _, line := range strings.Split(out, "\n") {
			if name != "github" && strings.HasPrefix(strings.TrimSpace(line), "::") {
				t.Errorf("%s: a line starts a workflow command: %q", name, line)
			}
		}
		for _, bad := range []string{"\x1b", "\r", "\a", "\u202e"} {
			if strings.Contains(out, bad) {
				t.Errorf("%s: raw %q in output", name, bad)
			}
		}
		if !strings.Contains(out, `tokenguard_api_token.x\n::error file=README.md::forged\r\n\x1b[2J\u202e`) &&
			!strings.Contains(out, `tokenguard_api_token.x\n%3A%3Aerror`) && name != "markdown" {
			t.Errorf("%s: the escaped address is not shown as such:\n%s", name, out)
		}
	}
	gh := render(t, "github", hostileReport())
	lines := strings.Split(strings.TrimSuffix(gh, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("github: %d lines, want 2 annotations and the summary:\n%s", len(lines), gh)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "::error ") && !strings.HasPrefix(l, "::notice ") {
			t.Errorf("github line %q is not one of ours", l)
		}
	}
	text := render(t, "text", hostileReport())
	if strings.Count(text, "\n") != strings.Count(render(t, "text", Report{FailOn: policy.SeverityError, Resources: []string{"a", "b"}, Findings: []policy.Finding{
		{RuleID: "CPRA-MIN-001", Severity: policy.SeverityError, Title: "Purpose is specific", Address: "a", Message: "m", File: "f", Line: 3},
		{RuleID: "CPRA-RET-002", Severity: policy.SeverityError, Title: "Lifetime", Address: "a", Message: "ttl", Waived: true, WaiverReason: "ok", WaiverApprovedBy: "ab"},
	}}), "\n") {
		t.Errorf("text: the hostile report has more lines than the same report with plain strings:\n%s", text)
	}
}

// TestJUnit_oneTestcasePerFinding: the tests, failures and skipped counts are the numbers of
// findings (plus clean resources), blocking findings and waived findings.
func TestJUnit_oneTestcasePerFinding(t *testing.T) {
	r := sampleReport()
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
			Skipped  int `xml:"skipped,attr"`
			Cases    []struct {
				Name     string     `xml:"name,attr"`
				Failures []struct{} `xml:"failure"`
				Skipped  *struct{}  `xml:"skipped"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal([]byte(render(t, "junit", r)), &doc); err != nil {
		t.Fatal(err)
	}
	s := r.Summary()
	clean := 2 // tokenguard_api_token.good and .legacy have no findings
	suite := doc.Suites[0]
	failed, skipped := 0, 0
	for _, c := range suite.Cases {
		failed += len(c.Failures)
		if c.Skipped != nil {
			skipped++
		}
	}
	if doc.Tests != s.Total+clean || suite.Tests != len(suite.Cases) || doc.Failures != s.Blocking ||
		suite.Failures != failed || failed != s.Blocking || suite.Skipped != s.Waived || skipped != s.Waived {
		t.Errorf("tests %d failures %d skipped %d (cases %d, failed %d); want tests %d, failures %d, skipped %d",
			doc.Tests, doc.Failures, suite.Skipped, len(suite.Cases), failed, s.Total+clean, s.Blocking, s.Waived)
	}
}

package policy

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseWaivers_requiresEveryField(t *testing.T) {
	full := "  - rule: R\n    address: a\n    reason: r\n    approved_by: p\n    expires: 2026-12-31\n"
	tests := []struct{ doc, want string }{
		{"waivers:\n" + full + "  - rule: R\n    address: a\n    reason: r\n    approved_by: p\n", "waiver 1: expires is required"},
		{"waivers:\n  - address: a\n", "waiver 0: rule is required"},
		{"waivers:\n  - rule: R\n    reason: r\n", "waiver 0: address is required"},
		{"waivers:\n  - rule: R\n    address: a\n    approved_by: p\n", "waiver 0: reason is required"},
		{"waivers:\n  - rule: R\n    address: a\n    reason: r\n    expires: 2026-12-31\n", "waiver 0: approved_by is required"},
		{"waivers:\n  - rule: R\n    address: a\n    reason: r\n    approved_by: p\n    expires: soon\n", `waiver 0: expires "soon" is not a date`},
		{"waivers:\n  - rule: R\n    adress: a\n", "not a waivers document"}, //nolint:misspell // the misspelt key is the input under test
		{"- just a list", "not a waivers document"},
	}
	for _, tt := range tests {
		_, err := ParseWaivers([]byte(tt.doc))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseWaivers(%q) = %v, want %q", tt.doc, err, tt.want)
		}
	}
	ws, err := ParseWaivers([]byte("waivers:\n" + full))
	if err != nil || len(ws) != 1 || !ws[0].Expires.Equal(time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("ParseWaivers = %+v, %v", ws, err)
	}
	if _, err := LoadWaivers("testdata/none.yaml"); err == nil || !strings.Contains(err.Error(), "waivers file testdata/none.yaml: no such file or directory") {
		t.Errorf("LoadWaivers missing file: %v", err)
	}
}

func TestApplyWaivers_matchedExpiredAndUnused(t *testing.T) {
	findings := []Finding{
		{RuleID: "CPRA-RET-002", Severity: "error", Address: `module.legacy.tokenguard_api_token.a["x"]`},
		{RuleID: "CPRA-RET-002", Severity: "error", Address: "tokenguard_api_token.b"},
		{RuleID: "CPRA-MIN-001", Severity: "error", Address: "tokenguard_api_token.b"},
	}
	doc := `waivers:
  - rule: CPRA-RET-002
    address: module.legacy.*
    reason: Vendor cannot rotate before the Q1 migration
    approved_by: privacy-office@example.com
    expires: 2026-11-27
  - rule: CPRA-MIN-001
    address: tokenguard_api_token.b
    reason: Old waiver
    approved_by: privacy-office@example.com
    expires: 2026-11-26
  - rule: CPRA-XPR-*
    address: "*"
    reason: Nothing to waive
    approved_by: privacy-office@example.com
    expires: 2027-01-01
`
	path := t.TempDir() + "/waivers.yaml"
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	ws, err := LoadWaivers(path)
	if err != nil {
		t.Fatal(err)
	}
	// The last day of a waiver still counts; the day after it has expired.
	got := ApplyWaivers(findings, ws, time.Date(2026, 11, 27, 23, 59, 0, 0, time.UTC), "waivers.yaml")
	var lines []string
	for _, f := range got {
		lines = append(lines, strings.Join([]string{f.Address, f.RuleID, f.Severity, map[bool]string{true: "waived", false: "open"}[f.Waived], f.WaiverApprovedBy, f.Message}, " | "))
	}
	want := []string{
		"* | TOKENGUARD-WAIVER-UNUSED | warning | open |  | waiver 2 for CPRA-XPR-* on * matches no finding",
		`module.legacy.tokenguard_api_token.a["x"] | CPRA-RET-002 | error | waived | privacy-office@example.com | `,
		"tokenguard_api_token.b | CPRA-MIN-001 | error | open |  | ",
		"tokenguard_api_token.b | CPRA-RET-002 | error | open |  | ",
		"tokenguard_api_token.b | TOKENGUARD-WAIVER-EXPIRED | error | open |  | waiver 1 for CPRA-MIN-001 on tokenguard_api_token.b expired on 2026-11-26 (approved by privacy-office@example.com); it no longer waives anything",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if findings[0].Waived {
		t.Error("ApplyWaivers modified its input")
	}
}

func TestGlobMatch(t *testing.T) {
	for _, tt := range []struct {
		pattern, s string
		want       bool
	}{
		{"tokenguard_api_token.a", "tokenguard_api_token.a", true},
		{"tokenguard_api_token.a", "tokenguard_api_token.ab", false},
		{"tokenguard_api_token.ci_*", "tokenguard_api_token.ci_deploy", true},
		{"module.legacy.*", `module.legacy.module.x.tokenguard_api_token.a["k"]`, true},
		{"*.billing", "module.a.tokenguard_api_token.billing", true},
		{"*.billing", "module.a.tokenguard_api_token.billing[0]", false},
		{"module.*.tokenguard_api_token.*", "module.app.tokenguard_api_token.x", true},
		{"a*b*c", "abc", true},
		{"a*b*c", "acb", false},
	} {
		if got := globMatch(tt.pattern, tt.s); got != tt.want {
			t.Errorf("globMatch(%q, %q) = %v", tt.pattern, tt.s, got)
		}
	}
}

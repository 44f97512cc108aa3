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

// TestWaiverPolicy_refusals (issue 15 point 5): each rule of the waiver policy, with the
// default policy and with one from data.
func TestWaiverPolicy_refusals(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	day := func(s string) time.Time { d, _ := time.Parse("2006-01-02", s); return d }
	owners := map[string]string{"tokenguard_api_token.billing": "Team-Finance ", "tokenguard_api_token.other": ""}
	w := func(rule, addr, approver, expires string) Waiver {
		return Waiver{Rule: rule, Address: addr, Reason: "r", ApprovedBy: approver, Expires: day(expires), Index: 3, Line: 12}
	}
	cases := []struct {
		name string
		w    Waiver
		want string
	}{
		{"accepted", w("CPRA-RET-002", "tokenguard_api_token.billing", "privacy@example.com", "2027-02-25"), ""},
		{"last day allowed", w("CPRA-RET-002", "tokenguard_api_token.*", "privacy@example.com", "2027-02-25"), ""},
		{"one day too far", w("CPRA-RET-002", "tokenguard_api_token.billing", "privacy@example.com", "2027-02-26"), "more than 90 days from today"},
		{"everything forever by the owner", w("*", "*", "team-finance", "2099-12-31"), "wildcards in both rule (*) and address (*)"},
		{"DEL-001", w("CPRA-DEL-001", "tokenguard_api_token.billing", "privacy@example.com", "2026-12-01"), "covers CPRA-DEL-001, which the waiver policy says cannot be waived"},
		{"SEC-001 by pattern", w("CPRA-SEC-*", "tokenguard_api_token.billing", "privacy@example.com", "2026-12-01"), "covers CPRA-SEC-001"},
		{"approved by the owner", w("CPRA-RET-002", "tokenguard_api_token.*", " team-finance", "2026-12-01"), "approved by the owner of tokenguard_api_token.billing"},
		{"owner in full-width letters", w("CPRA-RET-002", "tokenguard_api_token.billing", "ｔｅａｍ-ＦＩＮＡＮＣＥ", "2026-12-01"), "approved by the owner"},
		{"owner with a zero-width space", w("CPRA-RET-002", "tokenguard_api_token.billing", "team\u200b-fin\u200dance", "2026-12-01"), "approved by the owner"},
		{"another team", w("CPRA-RET-002", "tokenguard_api_token.billing", "team-finances", "2026-12-01"), ""},
		{"expired is not refused", w("CPRA-RET-002", "tokenguard_api_token.billing", "privacy@example.com", "2026-01-01"), ""},
	}
	for _, c := range cases {
		err := GovernWaivers([]Waiver{c.w}, DefaultWaiverPolicy, now, "waivers.yaml", owners)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "waivers.yaml:12: waiver 3 (")):
			t.Errorf("%s: err = %v, want waivers.yaml:12 and %q", c.name, err, c.want)
		}
	}
	// The policy is data: --data can allow a longer expiry and fewer non-waivable rules.
	p, err := waiverPolicyOf(map[string]any{"tokenguard": map[string]any{"waivers": map[string]any{"max_days": 400, "non_waivable": []any{"CPRA-DEL-001"}}}})
	if err != nil || p.MaxDays != 400 || strings.Join(p.NonWaivable, ",") != "CPRA-DEL-001" {
		t.Fatalf("policy from data = %+v, %v", p, err)
	}
	if err := GovernWaivers([]Waiver{w("CPRA-SEC-001", "tokenguard_api_token.billing", "privacy@example.com", "2027-06-01")}, p, now, "w.yaml", owners); err != nil {
		t.Errorf("data policy: %v", err)
	}
	for _, bad := range []map[string]any{{"max_days": 0}, {"max_days": "90"}, {"non_waivable": "CPRA-DEL-001"}, {"non_waivable": []any{""}}} {
		if _, err := waiverPolicyOf(map[string]any{"tokenguard": map[string]any{"waivers": bad}}); err == nil {
			t.Errorf("waiver policy %v accepted", bad)
		}
	}
}

// TestApplyGovernedWaiversToToken: at a single-token gate a refused waiver that names the
// token waives nothing and blocks, naming file:line; another token's refused waiver is not
// this token's concern.
func TestApplyGovernedWaiversToToken(t *testing.T) {
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	exp, _ := time.Parse("2006-01-02", "2026-12-31")
	ws := []Waiver{
		{Rule: "CPRA-RET-002", Address: "tokenguard_api_token.billing", ApprovedBy: "team-finance", Reason: "r", Expires: exp, Index: 0, Line: 2},
		{Rule: "CPRA-RET-002", Address: "tokenguard_api_token.other", ApprovedBy: "team-finance", Reason: "r", Expires: exp, Index: 1, Line: 7},
	}
	fs := []Finding{{RuleID: "CPRA-RET-002", Severity: SeverityError, Address: "tokenguard_api_token.billing"}}
	out := ApplyGovernedWaiversToToken(fs, ws, now, "w.yaml", []string{"tokenguard_api_token.billing"}, DefaultWaiverPolicy, "team-finance")
	if len(out) != 2 || out[0].Waived || out[1].RuleID != RuleWaiverRefused || out[1].Line != 2 || !strings.Contains(out[1].Message, "at w.yaml:2 is refused: it is approved by the owner") {
		t.Errorf("findings = %+v", out)
	}
	out = ApplyGovernedWaiversToToken(fs, ws, now, "w.yaml", []string{"tokenguard_api_token.billing"}, DefaultWaiverPolicy, "someone-else")
	if len(out) != 1 || !out[0].Waived {
		t.Errorf("accepted waiver: %+v", out)
	}
}

// TestLoadWaivers_errorsNameFileAndLine: a broken entry is named by file:line.
func TestLoadWaivers_errorsNameFileAndLine(t *testing.T) {
	p := t.TempDir() + "/w.yaml"
	doc := "waivers:\n  - rule: R\n    address: a\n    reason: r\n    approved_by: p\n    expires: 2026-12-31\n\n  - rule: R\n    address: a\n    reason: r\n"
	if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadWaivers(p)
	if err == nil || err.Error() != "waivers file "+p+": waiver 1: approved_by is required, at "+p+":8" {
		t.Errorf("err = %v", err)
	}
	ws, err := ParseWaivers([]byte(doc[:strings.Index(doc, "\n\n")+1]))
	if err != nil || ws[0].Line != 2 {
		t.Errorf("line = %+v, %v", ws, err)
	}
}

// TestWaiverPolicy_requestWaiversSetting reads data.tokenguard.waivers.request_waivers:
// "accept" (the default) or "refuse"; anything else is an error naming the key.
func TestWaiverPolicy_requestWaiversSetting(t *testing.T) {
	for _, c := range []struct {
		value   any
		refuse  bool
		wantErr bool
	}{{nil, false, false}, {"accept", false, false}, {"refuse", true, false}, {"Refuse", false, true}, {true, false, true}} {
		w := map[string]any{}
		if c.value != nil {
			w["request_waivers"] = c.value
		}
		p, err := waiverPolicyOf(map[string]any{"tokenguard": map[string]any{"waivers": w}})
		if (err != nil) != c.wantErr || (err == nil && p.RefuseRequestWaivers != c.refuse) {
			t.Errorf("request_waivers %v: policy %+v, error %v", c.value, p, err)
		}
		if err != nil && !strings.Contains(err.Error(), "request_waivers") {
			t.Errorf("request_waivers %v: error %q does not name the key", c.value, err)
		}
	}
}

package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestCheck_waiverPolicyRefusesAndNamesFileLine (issue 15 point 5): the waiver that turned
// every finding, DEL-001 and SEC-001 included, into "waived; 0 blocking" (rule *, address *,
// expiring 2099-12-31, approved by the token's owner) now exits 2 naming file:line and why,
// and so does each narrower abuse; the same file with the policy loosened through --data is
// accepted.
func TestCheck_waiverPolicyRefusesAndNamesFileLine(t *testing.T) {
	dir := t.TempDir()
	plan := filepath.Join(checkData, "plan.json")
	entry := func(rule, addr, approver, expires string) string {
		return "waivers:\n  # a comment first, so the entry is not on line 2\n  - rule: " + rule + "\n    address: '" + addr + "'\n    reason: accepted risk\n    approved_by: " + approver + "\n    expires: " + expires + "\n"
	}
	cases := []struct{ name, doc, want string }{
		{"everything forever by the owner", entry("'*'", "*", "team-billing", "2099-12-31"), ":3: waiver 0 (* on *) is refused: it has wildcards in both rule (*) and address (*)"},
		{"erased subject", entry("CPRA-DEL-001", "tokenguard_api_token.existing", "privacy@example.com", "2026-12-01"), ":3: waiver 0 (CPRA-DEL-001 on tokenguard_api_token.existing) is refused: its rule CPRA-DEL-001 covers CPRA-DEL-001"},
		{"secret output", entry("CPRA-SEC-001", "tokenguard_api_token.existing", "privacy@example.com", "2026-12-01"), "covers CPRA-SEC-001, which the waiver policy says cannot be waived"},
		{"too far", entry("CPRA-RET-004", "tokenguard_api_token.existing", "privacy@example.com", "2027-06-30"), "it expires on 2027-06-30, more than 90 days from today"},
		{"owner approves", entry("CPRA-RET-004", "tokenguard_api_token.existing", "Team-Billing", "2026-12-15"), "it is approved by the owner of tokenguard_api_token.existing, which it covers"},
	}
	for _, c := range cases {
		w := writeFile(t, dir, strings.ReplaceAll(c.name, " ", "_")+".yaml", []byte(c.doc))
		code, stdout, stderr := runCLI(t, "", "check", now, "--waivers", w, plan)
		if code != ExitUsage || !strings.Contains(stderr, w+":3: waiver 0 (") || !strings.Contains(stderr, c.want) || stdout != "" {
			t.Errorf("%s: exit %d, stderr %q; want exit 2 and %q", c.name, code, stderr, w+c.want)
		}
	}
	loose := writeFile(t, dir, "loose.json", []byte(`{"tokenguard": {"waivers": {"max_days": 3660, "non_waivable": []}}}`))
	w := writeFile(t, dir, "sec.yaml", []byte(entry("CPRA-SEC-001", "tokenguard_api_token.existing", "privacy@example.com", "2027-06-30")))
	code, stdout, stderr := runCLI(t, "", "check", now, "--data", loose, "--waivers", w, "--format", "json", plan)
	if code == ExitUsage || !strings.Contains(rulesByAddress(decodeReport(t, stdout)), "CPRA-SEC-001(waived)") {
		t.Errorf("loosened policy: exit %d, stderr %q\n%s", code, stderr, stdout)
	}
}

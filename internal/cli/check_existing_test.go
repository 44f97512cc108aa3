package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// ratchetPlan is a plan JSON of a 60-day tokenguard token "old" whose labels change (its ttl
// does not) and, with fresh, a new 60-day token "fresh".
func ratchetPlan(fresh bool) string {
	token := func(env string) string {
		return fmt.Sprintf(`{"name":"invoice-export","owner":"team-billing@example.com","purpose":"Exports invoice totals to the finance data warehouse nightly",
"scopes":["invoices:read"],"data_categories":["commercial"],"ttl":"60d","rotation":{"interval":"30d","overlap":"1h"},"labels":{"env":%q}}`, env)
	}
	changes := []string{fmt.Sprintf(`{"address":"tokenguard_api_token.old","mode":"managed","type":"tokenguard_api_token","name":"old",
"provider_name":"registry.terraform.io/tokenguard/tokenguard","change":{"actions":["update"],"before":%s,"after":%s,"after_unknown":{}}}`, token("prod"), token("dev"))}
	if fresh {
		changes = append(changes, fmt.Sprintf(`{"address":"tokenguard_api_token.fresh","mode":"managed","type":"tokenguard_api_token","name":"fresh",
"provider_name":"registry.terraform.io/tokenguard/tokenguard","change":{"actions":["create"],"before":null,"after":%s,"after_unknown":{"id":true}}}`,
			strings.Replace(token("prod"), "invoice-export", "invoice-export-2", 1)))
	}
	return `{"format_version":"1.2","terraform_version":"1.11.0","timestamp":"2026-03-02T09:00:00Z","resource_changes":[` + strings.Join(changes, ",") + `]}`
}

// The ratchet of `tokenguard check` (issue 21): after ttl_max_days is lowered to 45,
// --existing warn reports the finding on a token whose ttl the plan does not change as a
// warning, and a new token's as an error; the default blocks both.
func TestCheck_existingWarnRatchet(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data.json")
	if err := os.WriteFile(data, []byte(`{"tokenguard": {"thresholds": {"ttl_max_days": 45}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	ret002 := func(out string) []string {
		var got []string
		for _, f := range decodeReport(t, out).Findings {
			if f.RuleID == "CPRA-RET-002" {
				got = append(got, f.Address+" "+f.Severity+" "+fmt.Sprint(strings.HasPrefix(f.Message, "existing, not blocking")))
			}
		}
		slices.Sort(got)
		return got
	}
	cases := []struct {
		name     string
		fresh    bool
		args     []string
		wantCode int
		want     []string
	}{
		{"default blocks the untouched ttl", false, nil, ExitFindings, []string{"tokenguard_api_token.old error false"}},
		{"--existing block", false, []string{"--existing", "block"}, ExitFindings, []string{"tokenguard_api_token.old error false"}},
		{"--existing warn: untouched ttl warns", false, []string{"--existing", "warn"}, ExitOK, []string{"tokenguard_api_token.old warning true"}},
		{"--existing warn: a new token blocks", true, []string{"--existing", "warn"}, ExitFindings,
			[]string{"tokenguard_api_token.fresh error false", "tokenguard_api_token.old warning true"}},
	}
	for _, c := range cases {
		args := append([]string{"check", "--format", "json", "--data", data}, c.args...)
		code, stdout, stderr := runCLI(t, ratchetPlan(c.fresh), append(args, "-")...)
		if got := ret002(stdout); code != c.wantCode || !slices.Equal(got, c.want) {
			t.Errorf("%s: exit %d with CPRA-RET-002 findings %v, want exit %d with %v\n%s%s", c.name, code, got, c.wantCode, c.want, stdout, stderr)
		}
	}
	if code, _, stderr := runCLI(t, ratchetPlan(false), "check", "--existing", "ignore", "-"); code != ExitUsage || !strings.Contains(stderr, `--existing "ignore": use block or warn`) {
		t.Errorf("--existing ignore: exit %d, stderr %q; want exit 2 naming the flag", code, stderr)
	}
}

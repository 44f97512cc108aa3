package cli

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestCheck_sensitiveTokenWithoutRecipientWarns: `tokenguard check` reports CPRA-SEC-003 as
// a non-blocking warning on a token reaching a sensitive category without a recipient (its
// secret would sit in state in clear), not on one with a recipient, not while the recipient is
// unknown until apply, and not on a token reaching no sensitive category (issue 21, point 2).
func TestCheck_sensitiveTokenWithoutRecipientWarns(t *testing.T) {
	token := func(name, categories, recipient string) string {
		extra := ""
		if recipient != "" {
			extra = `,"recipient":` + recipient
		}
		return fmt.Sprintf(`{"address":"tokenguard_api_token.%[1]s","mode":"managed","type":"tokenguard_api_token","name":%[1]q,
"provider_name":"registry.terraform.io/tokenguard/tokenguard","change":{"actions":["create"],"before":null,"after":{"name":%[1]q,
"owner":"team-claims@example.com","purpose":"Reads claim records for the monthly fraud review","scopes":["claims:read"],
"data_categories":%[2]s,"audiences":["claims-warehouse"],"ttl":"7d","rotation":{"interval":"1d","overlap":"1h"}%[3]s},
"after_unknown":{"id":true,"secret":true%[4]s},"after_sensitive":{"secret":true}}}`, name, categories, extra,
			map[bool]string{true: `,"recipient":true`, false: ""}[recipient == "null" && name == "unknown"])
	}
	plan := `{"format_version":"1.2","terraform_version":"1.11.0","timestamp":"2026-03-02T09:00:00Z","resource_changes":[` + strings.Join([]string{
		token("clear", `["health"]`, ""),
		token("sealed", `["health"]`, `"age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"`),
		token("unknown", `["health"]`, "null"),
		token("commercial", `["commercial"]`, ""),
	}, ",") + `]}`
	code, stdout, stderr := runCLI(t, plan, "check", "--format", "json", "-")
	var got []string
	for _, f := range decodeReport(t, stdout).Findings {
		got = append(got, f.RuleID+" "+f.Address+" "+f.Severity)
	}
	want := []string{"CPRA-SEC-003 tokenguard_api_token.clear warning"}
	if code != ExitOK || !slices.Equal(got, want) {
		t.Fatalf("check: exit %d with findings %v, want exit 0 with %v\n%s%s", code, got, want, stdout, stderr)
	}
}

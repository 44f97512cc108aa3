package policy

import (
	"reflect"
	"testing"
	"time"
)

func TestTokenAddresses(t *testing.T) {
	for name, want := range map[string][]string{
		"billing-export": {"tokenguard_api_token.billing_export", "tokenguard_api_token.billing-export"},
		"billing_export": {"tokenguard_api_token.billing_export"},
		"ci token/eu":    {"tokenguard_api_token.ci_token_eu"},
		"":               {"tokenguard_api_token"},
	} {
		if got := TokenAddresses(name); !reflect.DeepEqual(got, want) {
			t.Errorf("TokenAddresses(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestApplyWaiversToToken(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	addrs := TokenAddresses("billing-export")
	findings := func() []Finding {
		return []Finding{
			{RuleID: "CPRA-RET-002", Severity: SeverityError, Address: addrs[0]},
			{RuleID: "CPRA-ROT-001", Severity: SeverityError, Address: addrs[0]},
		}
	}
	waiver := func(rule, address, expires string) Waiver {
		exp, err := time.Parse("2006-01-02", expires)
		if err != nil {
			t.Fatal(err)
		}
		return Waiver{Rule: rule, Address: address, Reason: "vendor migration", ApprovedBy: "privacy-office", Expires: exp}
	}
	type outcome struct {
		RuleID string
		Waived bool
	}
	cases := []struct {
		name    string
		waivers []Waiver
		want    []outcome
	}{
		{"no waivers", nil, []outcome{{"CPRA-RET-002", false}, {"CPRA-ROT-001", false}}},
		{"label spelling", []Waiver{waiver("CPRA-RET-002", "tokenguard_api_token.billing_export", "2026-12-31")},
			[]outcome{{"CPRA-RET-002", true}, {"CPRA-ROT-001", false}}},
		{"name spelling and rule glob", []Waiver{waiver("CPRA-*", "tokenguard_api_token.billing-*", "2026-12-31")},
			[]outcome{{"CPRA-RET-002", true}, {"CPRA-ROT-001", true}}},
		{"other resource", []Waiver{waiver("CPRA-RET-002", "tokenguard_api_token.payroll", "2026-12-31"),
			waiver("CPRA-RET-002", "tokenguard_api_token.payroll", "2026-01-01")},
			[]outcome{{"CPRA-RET-002", false}, {"CPRA-ROT-001", false}}},
		{"module address only at the check gate", []Waiver{waiver("CPRA-RET-002", "module.billing.tokenguard_api_token.billing_export", "2026-12-31")},
			[]outcome{{"CPRA-RET-002", false}, {"CPRA-ROT-001", false}}},
		{"expired", []Waiver{waiver("CPRA-RET-002", "tokenguard_api_token.billing_export", "2026-03-01")},
			[]outcome{{"CPRA-RET-002", false}, {"CPRA-ROT-001", false}, {RuleWaiverExpired, false}}},
		{"last day still applies", []Waiver{waiver("CPRA-RET-002", "*", "2026-03-02")},
			[]outcome{{"CPRA-RET-002", true}, {"CPRA-ROT-001", false}}},
	}
	for _, c := range cases {
		got := ApplyWaiversToToken(findings(), c.waivers, now, "waivers.yaml", addrs)
		var outcomes []outcome
		for _, f := range got {
			outcomes = append(outcomes, outcome{f.RuleID, f.Waived})
			if f.Address != addrs[0] {
				t.Errorf("%s: finding %s has address %q, want %q", c.name, f.RuleID, f.Address, addrs[0])
			}
			if f.RuleID == RuleWaiverExpired && (f.Severity != SeverityError || f.File != "waivers.yaml") {
				t.Errorf("%s: expired waiver finding = %+v, want a blocking finding naming the waivers file", c.name, f)
			}
		}
		if !reflect.DeepEqual(outcomes, c.want) {
			t.Errorf("%s: %v, want %v", c.name, outcomes, c.want)
		}
	}
}

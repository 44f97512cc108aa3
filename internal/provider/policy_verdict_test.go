package provider

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/policy"
)

// One verdict across gates (issue 21): an advisory provider never says Terraform continues
// for a rule the token service's gate judges too (it refuses the apply under its mandatory
// default); for a rule only the provider and check judge, it says the apply goes ahead.
func TestAdvisoryFindingSaysWhatHappensAtApply(t *testing.T) {
	ctx := context.Background()
	var cache engineCache
	now := func() time.Time { return time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC) }
	cfg, d := types.ObjectValue(policyAttrTypes, map[string]attr.Value{"enforcement": types.StringValue("advisory"),
		"paths": types.ListNull(types.StringType), "data_file": types.StringNull(), "waivers_file": types.StringNull(), "existing": types.StringNull()})
	if d.HasError() {
		t.Fatal(d)
	}
	var diags diag.Diagnostics
	g := configurePolicy(ctx, cfg, &cache, now, nil, &diags)
	if diags.HasError() || g == nil {
		t.Fatalf("configurePolicy: %v", diags)
	}
	cases := []struct {
		rule          string
		serviceJudges bool
		want, notWant string
	}{
		{"CPRA-RET-002", true, "the apply will not unless the token service lets it", "Terraform continues"},
		{"CPRA-RET-004", false, "the apply goes ahead", "the apply will not"},
	}
	for _, c := range cases {
		if g.serviceRules[c.rule] != c.serviceJudges {
			t.Fatalf("%s judged by the service = %v, want %v (rule METADATA gates)", c.rule, g.serviceRules[c.rule], c.serviceJudges)
		}
		f := policy.Finding{RuleID: c.rule, Severity: policy.SeverityError, Title: "t", Message: "m", Address: "tokenguard_api_token.a"}
		_, detail := findingText(f, g.mode, atPlan, g.serviceRules[c.rule], true)
		if !strings.Contains(detail, c.want) || strings.Contains(detail, c.notWant) {
			t.Errorf("%s advisory detail:\n%s\nwant %q and not %q", c.rule, detail, c.want, c.notWant)
		}
	}
}

// Rules that must never be waived say so (issue 21): a finding of a rule the waiver policy
// lists as non-waivable (CPRA-DEL-001 by default) advises no waiver, at plan and for an
// unchanged token, and names the setting; a waivable rule still advises its waiver.
func TestNonWaivableFindingSaysItCannotBeWaived(t *testing.T) {
	ctx := context.Background()
	var cache engineCache
	now := func() time.Time { return time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC) }
	cfg, d := types.ObjectValue(policyAttrTypes, map[string]attr.Value{"enforcement": types.StringNull(),
		"paths": types.ListNull(types.StringType), "data_file": types.StringNull(), "waivers_file": types.StringNull(), "existing": types.StringNull()})
	if d.HasError() {
		t.Fatal(d)
	}
	var diags diag.Diagnostics
	g := configurePolicy(ctx, cfg, &cache, now, nil, &diags)
	if diags.HasError() || g == nil {
		t.Fatalf("configurePolicy: %v", diags)
	}
	wp := g.engine.WaiverPolicy()
	for _, c := range []struct {
		rule     string
		waivable bool
	}{{"CPRA-DEL-001", false}, {"CPRA-SEC-001", false}, {"CPRA-MIN-002", true}} {
		if wp.Waivable(c.rule) != c.waivable {
			t.Fatalf("%s waivable = %v, want %v (data.json waivers.non_waivable)", c.rule, !c.waivable, c.waivable)
		}
		f := policy.Finding{RuleID: c.rule, Severity: policy.SeverityError, Title: "t", Message: "m", Address: "tokenguard_api_token.a"}
		for _, stage := range []gateStage{atPlan, atPlanUndeclared} {
			_, detail := findingText(f, g.mode, stage, true, c.waivable)
			says, advises := strings.Contains(detail, c.rule+" cannot be waived"), strings.Contains(detail, "record a reviewed waiver")
			if says == c.waivable || advises != c.waivable {
				t.Errorf("%s (waivable %v) detail at stage %d:\n%s", c.rule, c.waivable, stage, detail)
			}
		}
		if detail := existingText(f, "head", c.waivable); strings.Contains(detail, "record a reviewed waiver") != c.waivable {
			t.Errorf("%s (waivable %v) ratchet detail:\n%s", c.rule, c.waivable, detail)
		}
	}
}

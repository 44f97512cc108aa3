package provider

import (
	"context"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// TestValidateConfig_rulesOnRawConfiguration: ValidateConfig reads owner, renewal, ttl and
// replace_before from the raw configuration and reports the two cross-attribute rules exactly
// when their values are known: a reviewer equal to the owner (case and spaces folded), a
// replace window not shorter than ttl.
func TestValidateConfig_rulesOnRawConfiguration(t *testing.T) {
	ctx := context.Background()
	var sr resource.SchemaResponse
	(&apiTokenResource{}).Schema(ctx, resource.SchemaRequest{}, &sr)
	typ := tokenType(t)
	unknown := tftypes.NewValue(tftypes.String, tftypes.UnknownValue)
	renewal := func(reviewer tftypes.Value) tftypes.Value {
		return tftypes.NewValue(typ.AttributeTypes["renewal"], map[string]tftypes.Value{
			"reason": tfString("Quarter-end close"), "reviewed_by": reviewer})
	}
	cases := []struct {
		name  string
		attrs map[string]tftypes.Value
		want  string // the error summary, "" for none
	}{
		{"reviewer is the owner", map[string]tftypes.Value{"owner": tfString("team-billing"), "renewal": renewal(tfString(" Team-Billing "))}, "Renewal Reviewer Is The Owner"},
		{"another reviewer", map[string]tftypes.Value{"owner": tfString("team-billing"), "renewal": renewal(tfString("security@example.com"))}, ""},
		{"reviewer unknown", map[string]tftypes.Value{"owner": tfString("team-billing"), "renewal": renewal(unknown)}, ""},
		{"renewal unknown", map[string]tftypes.Value{"owner": tfString("team-billing"), "renewal": tftypes.NewValue(typ.AttributeTypes["renewal"], tftypes.UnknownValue)}, ""},
		{"owner unknown", map[string]tftypes.Value{"owner": unknown, "renewal": renewal(tfString("team-billing"))}, ""},
		{"no renewal", map[string]tftypes.Value{"owner": tfString("team-billing")}, ""},
		{"replace window as long as ttl", map[string]tftypes.Value{"ttl": tfString("3d"), "replace_before": tfString("72h")}, "Replace Window Not Shorter Than TTL"},
		{"replace window shorter", map[string]tftypes.Value{"ttl": tfString("3d"), "replace_before": tfString("1d")}, ""},
		{"ttl unknown", map[string]tftypes.Value{"ttl": unknown, "replace_before": tfString("1d")}, ""},
		{"replace window malformed", map[string]tftypes.Value{"ttl": tfString("3d"), "replace_before": tfString("soon")}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var resp resource.ValidateConfigResponse
			(&apiTokenResource{}).ValidateConfig(ctx, resource.ValidateConfigRequest{Config: tfsdk.Config{Raw: tokenValue(t, c.attrs), Schema: sr.Schema}}, &resp)
			got := ""
			if resp.Diagnostics.HasError() {
				got = resp.Diagnostics.Errors()[0].Summary()
			}
			if len(resp.Diagnostics) > 1 || got != c.want {
				t.Errorf("diagnostics %v, want %q", resp.Diagnostics, c.want)
			}
		})
	}
	// An unknown configuration as a whole (not known until apply) is not an error here.
	var resp resource.ValidateConfigResponse
	(&apiTokenResource{}).ValidateConfig(ctx, resource.ValidateConfigRequest{Config: tfsdk.Config{Raw: tftypes.NewValue(typ, tftypes.UnknownValue), Schema: sr.Schema}}, &resp)
	if len(resp.Diagnostics) != 0 {
		t.Errorf("unknown configuration: %v", resp.Diagnostics)
	}
}

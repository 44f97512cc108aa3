package provider

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/policy"
)

// policyAttrTypes are the attribute types of the provider's policy block.
var policyAttrTypes = map[string]attr.Type{
	"enforcement": types.StringType, "paths": types.ListType{ElemType: types.StringType},
	"data_file": types.StringType, "waivers_file": types.StringType, "existing": types.StringType,
}

// tokenType is the Terraform type of tokenguard_api_token.
func tokenType(t testing.TB) tftypes.Object {
	t.Helper()
	var sr resource.SchemaResponse
	(&apiTokenResource{}).Schema(context.Background(), resource.SchemaRequest{}, &sr)
	typ, ok := sr.Schema.Type().TerraformType(context.Background()).(tftypes.Object)
	if !ok {
		t.Fatal("the resource schema is not an object")
	}
	return typ
}

// tokenValue is a tokenguard_api_token value: attrs over nulls.
func tokenValue(t testing.TB, attrs map[string]tftypes.Value) tftypes.Value {
	t.Helper()
	typ := tokenType(t)
	all := map[string]tftypes.Value{}
	for name, at := range typ.AttributeTypes {
		all[name] = tftypes.NewValue(at, nil)
	}
	for name, v := range attrs {
		if _, ok := typ.AttributeTypes[name]; !ok {
			t.Fatalf("no attribute %s", name)
		}
		all[name] = v
	}
	return tftypes.NewValue(typ, all)
}

func tfString(s string) tftypes.Value { return tftypes.NewValue(tftypes.String, s) }

func strSet(values ...any) tftypes.Value {
	elems := make([]tftypes.Value, len(values))
	for i, v := range values {
		if v == tftypes.UnknownValue {
			elems[i] = tftypes.NewValue(tftypes.String, tftypes.UnknownValue)
			continue
		}
		elems[i] = tfString(v.(string))
	}
	return tftypes.NewValue(tftypes.Set{ElementType: tftypes.String}, elems)
}

// TestTokenChange_planJSONShape: the provider builds the same TokenChange the check gate reads
// from plan JSON: JSON values, unknown values absent and listed by dotted path (a set with an
// unknown element as a whole), the secret marked sensitive.
func TestTokenChange_planJSONShape(t *testing.T) {
	typ := tokenType(t)
	rotation := typ.AttributeTypes["rotation"]
	after := tokenValue(t, map[string]tftypes.Value{
		"name":            tfString("billing-export"),
		"owner":           tfString("team-billing"),
		"purpose":         tftypes.NewValue(tftypes.String, tftypes.UnknownValue),
		"scopes":          strSet("invoices:read", tftypes.UnknownValue),
		"data_categories": strSet(),
		"ttl":             tfString("30d"),
		"rotation": tftypes.NewValue(rotation, map[string]tftypes.Value{
			"interval": tftypes.NewValue(tftypes.String, tftypes.UnknownValue),
			"overlap":  tfString("1h"),
		}),
		"rotation_triggers": tftypes.NewValue(tftypes.Map{ElementType: tftypes.String}, map[string]tftypes.Value{
			"release": tftypes.NewValue(tftypes.String, tftypes.UnknownValue),
		}),
		"secret":         tftypes.NewValue(tftypes.String, tftypes.UnknownValue),
		"secret_version": tftypes.NewValue(tftypes.Number, 2),
	})
	before := tokenValue(t, map[string]tftypes.Value{
		"name": tfString("billing-export"), "secret": tfString("tg_test_not_a_real_secret"), "secret_version": tftypes.NewValue(tftypes.Number, 1),
	})
	tc, err := tokenChange(plannedToken{actions: []string{"update"}, before: before, after: after})
	if err != nil {
		t.Fatal(err)
	}
	if tc.Address != "tokenguard_api_token.billing_export" || tc.Name != "billing_export" || tc.Type != policy.TokenguardType ||
		tc.Provider != "registry.terraform.io/tokenguard/tokenguard" || !reflect.DeepEqual(tc.Actions, []string{"update"}) {
		t.Errorf("identity = %q %q %q %q %v", tc.Address, tc.Name, tc.Type, tc.Provider, tc.Actions)
	}
	if want := []string{"purpose", "rotation.interval", "rotation_triggers.release", "scopes", "secret"}; !reflect.DeepEqual(tc.Unknown, want) {
		t.Errorf("Unknown = %q, want %q", tc.Unknown, want)
	}
	if want := []string{"secret"}; !reflect.DeepEqual(tc.Sensitive, want) {
		t.Errorf("Sensitive = %q, want %q", tc.Sensitive, want)
	}
	for _, absent := range []string{"purpose", "scopes", "secret"} {
		if _, ok := tc.After[absent]; ok {
			t.Errorf("after holds unknown %s", absent)
		}
	}
	want := map[string]any{"overlap": "1h"}
	if got := tc.After["rotation"]; !reflect.DeepEqual(got, want) {
		t.Errorf("after rotation = %#v, want %#v", got, want)
	}
	if got := tc.After["rotation_triggers"]; !reflect.DeepEqual(got, map[string]any{}) {
		t.Errorf("after rotation_triggers = %#v, want an empty object", got)
	}
	if got := tc.After["data_categories"]; !reflect.DeepEqual(got, []any{}) {
		t.Errorf("after data_categories = %#v, want []", got)
	}
	if v, ok := tc.After["audiences"]; !ok || v != nil {
		t.Errorf("after audiences = %#v (present %v), want null", v, ok)
	}
	if got := tc.After["secret_version"]; got != json.Number("2") {
		t.Errorf("after secret_version = %#v, want json.Number 2", got)
	}
	// NormalizeToken strips the secret before any rule sees it.
	tok := policy.NormalizeToken(tc, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	if v := tok.Before["secret"]; v != nil {
		t.Errorf("normalised before holds the secret: %v", v)
	}
	if tok.Fields.Purpose != nil || tok.Fields.Scopes != nil || !tok.Fields.RotationConfigured || *tok.Fields.TTLSeconds != 30*86400 {
		t.Errorf("fields = %+v", tok.Fields)
	}
}

func TestFindingPath(t *testing.T) {
	var sr resource.SchemaResponse
	(&apiTokenResource{}).Schema(context.Background(), resource.SchemaRequest{}, &sr)
	for field, want := range map[string]path.Path{
		"ttl":                 path.Root("ttl"),
		"rotation":            path.Root("rotation"),
		"rotation.interval":   path.Root("rotation").AtName("interval"),
		"rotation.overlap":    path.Root("rotation").AtName("overlap"),
		"renewal.reviewed_by": path.Root("renewal").AtName("reviewed_by"),
		"last_used_at":        path.Root("last_used_at"),
	} {
		got, ok := findingPath(context.Background(), sr.Schema, field)
		if !ok || !got.Equal(want) {
			t.Errorf("findingPath(%q) = %s, %v; want %s", field, got, ok, want)
		}
	}
	// data_subjects is sensitive (issue 14): on the attribute, Terraform would print the
	// configuration line that holds the subjects, so its findings go on the resource.
	for _, field := range []string{"", "output.token", "rotation.cadence", "provider.tokenguard.endpoint", "data_subjects"} {
		if got, ok := findingPath(context.Background(), sr.Schema, field); ok {
			t.Errorf("findingPath(%q) = %s, want the whole resource", field, got)
		}
	}
}

// TestConfigurePolicy_compilesOncePerConfiguration: Configure runs for every provider
// configuration of a run; the bundle is compiled once per distinct policy configuration.
func TestConfigurePolicy_compilesOncePerConfiguration(t *testing.T) {
	ctx := context.Background()
	var cache engineCache
	now := func() time.Time { return time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC) }
	obj := func(enforcement, dataFile string) types.Object {
		attrs := map[string]attr.Value{"enforcement": types.StringNull(), "paths": types.ListNull(types.StringType),
			"data_file": types.StringNull(), "waivers_file": types.StringNull(), "existing": types.StringNull()}
		if enforcement != "" {
			attrs["enforcement"] = types.StringValue(enforcement)
		}
		if dataFile != "" {
			attrs["data_file"] = types.StringValue(dataFile)
		}
		v, d := types.ObjectValue(policyAttrTypes, attrs)
		if d.HasError() {
			t.Fatal(d)
		}
		return v
	}
	var diags diag.Diagnostics
	first := configurePolicy(ctx, types.ObjectNull(policyAttrTypes), &cache, now, nil, &diags)
	second := configurePolicy(ctx, obj("mandatory", ""), &cache, now, nil, &diags)
	data := filepath.Join(t.TempDir(), "cpra.json")
	if err := os.WriteFile(data, []byte(`{"tokenguard": {"thresholds": {"ttl_max_days": 10}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	third := configurePolicy(ctx, obj("advisory", data), &cache, now, nil, &diags)
	off := configurePolicy(ctx, obj("off", ""), &cache, now, nil, &diags)
	if diags.HasError() {
		t.Fatal(diags)
	}
	if first.mode != enforcementMandatory || second.mode != enforcementMandatory || third.mode != enforcementAdvisory || off.mode != enforcementOff {
		t.Errorf("modes = %s %s %s %s", first.mode, second.mode, third.mode, off.mode)
	}
	if first.engine == nil || first.engine != second.engine {
		t.Error("the same policy configuration compiled the bundle twice")
	}
	if third.engine == nil || third.engine == first.engine {
		t.Error("a different data file reused the engine compiled without it")
	}
	if off.engine != nil || len(cache.engines) != 2 {
		t.Errorf("enforcement off compiled the bundle (%d engines cached)", len(cache.engines))
	}

	var bad diag.Diagnostics
	if g := configurePolicy(ctx, obj("mandatory", "/nonexistent/cpra.json"), &cache, now, nil, &bad); g != nil || !bad.HasError() ||
		bad[0].Summary() != "Invalid Policy Configuration" {
		t.Errorf("a missing data file gave gate %v and diagnostics %v, want an Invalid Policy Configuration error", g, bad)
	}
}

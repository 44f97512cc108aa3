package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/token"
)

var (
	_ basetypes.StringTypable                    = durationType{}
	_ basetypes.StringValuableWithSemanticEquals = durationValue{}
)

// durationType is the type of the duration attributes (ttl, replace_before, rotation.interval,
// rotation.overlap): a string holding a Go duration or whole days, where two spellings of the
// same time span are semantically equal ("30d" = "720h" = "720h0m0s"). The framework keeps the
// spelling already in state when a read or an apply returns the same span differently, and
// spellingKept keeps it in the plan when the configuration respells it, so tidying a duration
// plans nothing.
type durationType struct {
	basetypes.StringType
}

func (t durationType) Equal(o attr.Type) bool {
	_, ok := o.(durationType)
	return ok
}

func (t durationType) String() string { return "provider.durationType" }

func (t durationType) ValueFromString(_ context.Context, in basetypes.StringValue) (basetypes.StringValuable, diag.Diagnostics) {
	return durationValue{StringValue: in}, nil
}

func (t durationType) ValueFromTerraform(ctx context.Context, in tftypes.Value) (attr.Value, error) {
	v, err := t.StringType.ValueFromTerraform(ctx, in)
	if err != nil {
		return nil, err
	}
	s, ok := v.(basetypes.StringValue)
	if !ok {
		return nil, fmt.Errorf("unexpected value type %T for a duration", v)
	}
	return durationValue{StringValue: s}, nil
}

func (t durationType) ValueType(context.Context) attr.Value { return durationValue{} }

// durationValue is a value of durationType.
type durationValue struct {
	basetypes.StringValue
}

func durationNull() durationValue { return durationValue{StringValue: basetypes.NewStringNull()} }
func durationOf(s string) durationValue {
	return durationValue{StringValue: basetypes.NewStringValue(s)}
}
func durationFrom(v basetypes.StringValue) durationValue { return durationValue{StringValue: v} }

func (v durationValue) Type(context.Context) attr.Type { return durationType{} }

func (v durationValue) Equal(o attr.Value) bool {
	other, ok := o.(durationValue)
	return ok && v.StringValue.Equal(other.StringValue)
}

// StringSemanticEquals reports whether both values spell the same time span. Unparsable
// values are equal only when they are the same text (the validators report them).
func (v durationValue) StringSemanticEquals(_ context.Context, newValuable basetypes.StringValuable) (bool, diag.Diagnostics) {
	var diags diag.Diagnostics
	other, ok := newValuable.(durationValue)
	if !ok {
		diags.AddError("Semantic Equality Check Error",
			fmt.Sprintf("Expected a duration value, got %T. This is a bug in the tokenguard provider: please report it.", newValuable))
		return false, diags
	}
	if v.ValueString() == other.ValueString() {
		return true, diags
	}
	a, err1 := token.ParseDuration(v.ValueString())
	b, err2 := token.ParseDuration(other.ValueString())
	return err1 == nil && err2 == nil && a == b, diags
}

// span returns the time span v spells; ok is false when v is null, unknown or unparsable.
func (v durationValue) span() (time.Duration, bool) {
	if v.IsNull() || v.IsUnknown() {
		return 0, false
	}
	d, err := token.ParseDuration(v.ValueString())
	return d, err == nil
}

// spellingKept is the plan modifier of every duration attribute of the resource: when the
// configuration spells the time span already in state differently ("480h" for "20d"), the plan
// keeps the state's spelling, so a respelling plans nothing. Terraform accepts a planned value
// equal to the prior state's when prior and configuration are both set: the provider declares
// the configured value equivalent. A ttl derived at import is not kept: the plan records the
// configured ttl in its place (see ttlLowered).
type spellingKept struct{}

func (spellingKept) Description(context.Context) string {
	return "keeps the spelling in state when the configuration spells the same time span differently"
}
func (m spellingKept) MarkdownDescription(ctx context.Context) string { return m.Description(ctx) }
func (spellingKept) PlanModifyString(ctx context.Context, req planmodifier.StringRequest, resp *planmodifier.StringResponse) {
	if !knownString(req.ConfigValue) || !knownString(req.StateValue) || !knownString(req.PlanValue) ||
		req.PlanValue.Equal(req.StateValue) {
		return
	}
	if req.Path.Equal(path.Root("ttl")) {
		if basis, _ := loadPlanBasis(ctx, req.Private, &resp.Diagnostics); basis.TTLDerived {
			return
		}
	}
	same, d := durationFrom(req.StateValue).StringSemanticEquals(ctx, durationFrom(req.PlanValue))
	resp.Diagnostics.Append(d...)
	if same {
		resp.PlanValue = req.StateValue
	}
}

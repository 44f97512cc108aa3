package provider

import (
	"context"
	"reflect"
	"slices"
	"sync"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/attr/xattr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// unchangedPlan reports whether ModifyPlan has nothing to decide for an existing token, so it
// may leave Terraform's proposed plan as it is without decoding plan and state into the model
// and writing the plan back (the framework's reflection, most of ModifyPlan's cost in a
// no-op plan of many tokens; docs/benchmarks.md). That holds when:
//
//   - the proposed plan equals the state, value for value: the configuration declares what
//     state holds and the framework planned no attribute unknown, so every decision that
//     compares plan with state (ttl, triggers, recipient, renewal, data subjects, a name
//     prefix, the stage of the gate) finds them equal, and nothing in the plan is unknown;
//   - the last refresh found the secret in state current (no stale version);
//   - replacementReason and rotationReason, given the attributes they read, find no reason,
//     and say nothing.
//
// The full path then plans exactly what Terraform proposed, a no-op at atPlanUndeclared.
// TestModifyPlan_shortcutSameAsFullPath compares both paths over varied states, private
// states and configurations.
func (r *apiTokenResource) unchangedPlan(ctx context.Context, plan, state tftypes.Value, basis planBasis, timed bool) bool {
	if plan.IsNull() || state.IsNull() || basis.StaleVersion != 0 || !plan.Equal(state) {
		return false
	}
	s := r.resourceSchema(ctx)
	ok := true
	// field decodes one attribute of state as the framework's Get does: through the
	// attribute's type.
	field := func(name string) attr.Value {
		a, found := s.Attributes[name]
		if !found {
			ok = false
			return nil
		}
		raw, err := state.ApplyTerraform5AttributePathStep(tftypes.AttributeName(name))
		v, isValue := raw.(tftypes.Value)
		if err != nil || !isValue {
			ok = false
			return nil
		}
		out, err := a.GetType().ValueFromTerraform(ctx, v)
		if err != nil {
			ok = false
			return nil
		}
		return out
	}
	str := func(name string) types.String {
		v, isString := field(name).(types.String)
		ok = ok && isString
		return v
	}
	dur := func(name string) durationValue {
		v, isDuration := field(name).(durationValue)
		ok = ok && isDuration
		return v
	}
	var m apiTokenModel
	m.ID, m.Name, m.Status = str("id"), str("name"), str("status")
	m.CreatedAt, m.ExpiresAt, m.RotatedAt = str("created_at"), str("expires_at"), str("rotated_at")
	m.Secret, m.SealedSecret, m.Recipient = str("secret"), str("sealed_secret"), str("recipient")
	m.ReplaceBefore = dur("replace_before")
	var isObject, isMap, isInt bool
	m.Rotation, isObject = field("rotation").(types.Object)
	m.RotationTriggers, isMap = field("rotation_triggers").(types.Map)
	m.SecretVersion, isInt = field("secret_version").(types.Int64)
	if !ok || !isObject || !isMap || !isInt {
		return false
	}
	var diags diag.Diagnostics
	return replacementReason(m, m, basis, timed) == "" && rotationReason(ctx, m, m, basis, timed, &diags) == "" && len(diags) == 0
}

// modelField is a tfsdk-tagged field of apiTokenModel: its attribute name and its index,
// through the embedded structs.
type modelField struct {
	name  string
	index []int
}

// tokenModelFields are the fields of apiTokenModel, found once.
var tokenModelFields = sync.OnceValue(func() []modelField { return structFields(reflect.TypeFor[apiTokenModel](), nil) })

// structFields are the tfsdk-tagged fields of t, those of its embedded structs included.
func structFields(t reflect.Type, prefix []int) []modelField {
	var out []modelField
	for i := range t.NumField() {
		f := t.Field(i)
		index := append(slices.Clone(prefix), i)
		name := f.Tag.Get("tfsdk")
		if f.Anonymous && f.Type.Kind() == reflect.Struct && name == "" {
			out = append(out, structFields(f.Type, index)...)
			continue
		}
		if name != "" && name != "-" {
			out = append(out, modelField{name: name, index: index})
		}
	}
	return out
}

// decodeModel decodes a resource value into the model as the framework's Get does (each
// attribute through its type's ValueFromTerraform, validated as Get validates it), without
// Get's reflection over the struct tags on every call, a regular expression compiled per
// field (about half of Read's CPU in a no-op plan; docs/benchmarks.md). ok is false for
// anything it would not decode as Get does: a value whose validation says anything, a type
// or attribute that does not match; the caller then uses Get.
// TestDecodeModel_sameAsFrameworkGet compares both.
func (r *apiTokenResource) decodeModel(ctx context.Context, raw tftypes.Value) (m apiTokenModel, ok bool) {
	var attrs map[string]tftypes.Value
	fields := tokenModelFields()
	if raw.IsNull() || !raw.IsKnown() || raw.As(&attrs) != nil || len(attrs) != len(fields) {
		return m, false
	}
	s := r.resourceSchema(ctx)
	target := reflect.ValueOf(&m).Elem()
	for _, f := range fields {
		v, found := attrs[f.name]
		a, inSchema := s.Attributes[f.name]
		if !found || !inSchema {
			return m, false
		}
		typ := a.GetType()
		value, err := typ.ValueFromTerraform(ctx, v)
		if err != nil {
			return m, false
		}
		if validated, isValidated := value.(xattr.ValidateableAttribute); isValidated {
			var resp xattr.ValidateAttributeResponse
			validated.ValidateAttribute(ctx, xattr.ValidateAttributeRequest{Path: path.Root(f.name)}, &resp)
			if len(resp.Diagnostics) > 0 {
				return m, false
			}
		} else if validating, isValidating := typ.(xattr.TypeWithValidate); isValidating { //nolint:staticcheck // Get still calls it
			if len(validating.Validate(ctx, v, path.Root(f.name))) > 0 {
				return m, false
			}
		}
		field, converted := target.FieldByIndex(f.index), reflect.ValueOf(value)
		if converted.Type() != field.Type() {
			return m, false
		}
		field.Set(converted)
	}
	return m, true
}

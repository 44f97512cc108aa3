package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
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

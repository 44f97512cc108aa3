package provider

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/token"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// This file holds the decisions that tokenguard_api_token's plan makes from state,
// configuration and the plan basis Read recorded (see plan_basis.go): replacement, renewal and
// rotation, the gate's stage, names from name_prefix, and which token an interrupted create
// left behind. resource_api_token.go keeps the lifecycle that acts on them.

// planStage is the gate's stage for a plan of an existing token: atPlan when the practitioner
// changed its declaration, atPlanUndeclared when the configuration says what state says (the
// plan is a no-op or a change the provider decided, as in the refresh before a destroy).
func planStage(state, plan apiTokenModel) gateStage {
	if plan.Name.Equal(state.Name) && plan.NamePrefix.Equal(state.NamePrefix) && plan.Owner.Equal(state.Owner) && plan.Purpose.Equal(state.Purpose) &&
		plan.Scopes.Equal(state.Scopes) && plan.DataCategories.Equal(state.DataCategories) &&
		plan.DataSubjects.Equal(state.DataSubjects) && plan.Audiences.Equal(state.Audiences) && plan.Labels.Equal(state.Labels) &&
		plan.TTL.Equal(state.TTL) && plan.ReplaceBefore.Equal(state.ReplaceBefore) && plan.Rotation.Equal(state.Rotation) &&
		plan.Renewal.Equal(state.Renewal) && sameTriggers(state.RotationTriggers, plan.RotationTriggers) &&
		plan.Recipient.Equal(state.Recipient) {
		return atPlanUndeclared
	}
	return atPlan
}

// declaresNothingNew reports whether the plan of an existing token changes nothing: no
// declared attribute, timeout, secret or expiry.
func declaresNothingNew(state, plan apiTokenModel) bool {
	return planStage(state, plan) == atPlanUndeclared && plan.Timeouts.Equal(state.Timeouts) &&
		!plan.Secret.IsUnknown() && !plan.SealedSecret.IsUnknown() && !plan.ExpiresAt.IsUnknown()
}

// overlapNote says how long the previous secret keeps working after the planned rotation.
func overlapNote(ctx context.Context, rotation types.Object, diags *diag.Diagnostics) string {
	if rot, ok := rotationOf(ctx, rotation, diags); ok && knownString(rot.Overlap) {
		if d, ok := rot.Overlap.span(); ok && d > 0 {
			return "; the previous secret keeps working for rotation.overlap (" + rot.Overlap.ValueString() + ") after the apply"
		}
	}
	return "; the previous secret stops working when the apply rotates (no rotation.overlap)"
}

// replacedByAttribute reports whether an attribute that requires replacement changes: name,
// owner or data_subjects (unknown counts as changed, as Terraform counts it), or a lowered or
// unknown ttl.
func replacedByAttribute(state, plan apiTokenModel) bool {
	if !plan.Name.Equal(state.Name) || !plan.Owner.Equal(state.Owner) || !plan.DataSubjects.Equal(state.DataSubjects) || plan.TTL.IsUnknown() {
		return true
	}
	lowered, _ := ttlRaised(plan.TTL, state.TTL) // the state's ttl is longer than the plan's
	return lowered
}

// orphanMaxAge is how old a token may be and still be taken for the orphan of an interrupted
// create: long enough for a Ctrl-C and a second apply, short enough that a token of another
// state has most likely been recorded, used or rotated by then.
const orphanMaxAge = 10 * time.Minute

// orphanOf reports whether t is what an interrupted create of req left behind: the service
// issued it but Terraform never recorded it. It must match req exactly (every declared
// attribute, and a lifetime equal to the requested ttl), hold its first secret, never have
// been used, and be younger than orphanMaxAge; age is how old it is.
func orphanOf(t wire.Token, req wire.CreateTokenRequest, now time.Time) (age time.Duration, ok bool) {
	age = now.Sub(t.CreatedAt)
	ttl, err := token.ParseDuration(req.TTL)
	if err != nil || t.Status != "active" || t.SecretVersion != 1 || t.LastUsedAt != nil || t.RotatedAt != nil ||
		age < 0 || age > orphanMaxAge || t.ExpiresAt.Sub(t.CreatedAt) != ttl {
		return age, false
	}
	sameSet := func(a, b []string) bool {
		a, b = slices.Clone(a), slices.Clone(b)
		slices.Sort(a)
		slices.Sort(b)
		return slices.Equal(a, b)
	}
	var gotRot, wantRot wire.Rotation
	if t.Rotation != nil {
		gotRot = *t.Rotation
	}
	if req.Rotation != nil {
		wantRot = *req.Rotation
	}
	sameSpan := func(a, b string) bool {
		da, errA := token.ParseDuration(a)
		db, errB := token.ParseDuration(b)
		return (a == "" || isZeroDuration(a)) == (b == "" || isZeroDuration(b)) && (a == "" || isZeroDuration(a) || (errA == nil && errB == nil && da == db))
	}
	return age, t.Name == req.Name && t.Owner == req.Owner && t.Purpose == req.Purpose &&
		sameSet(t.Scopes, req.Scopes) && sameSet(t.DataCategories, req.DataCategories) &&
		sameSet(t.DataSubjects, req.DataSubjects) && sameSet(t.Audiences, req.Audiences) &&
		maps.Equal(t.Labels, req.Labels) && sameSpan(gotRot.Interval, wantRot.Interval) && sameSpan(gotRot.Overlap, wantRot.Overlap)
}

// lostSecretEnd says when the previous secret of a token just rotated stops working.
func lostSecretEnd(t wire.Token) string {
	if t.PreviousValidTil == nil || (t.RotatedAt != nil && !t.PreviousValidTil.After(*t.RotatedAt)) {
		return "now"
	}
	return "at " + t.PreviousValidTil.UTC().Format(time.RFC3339) + ", when the token's rotation overlap ends"
}

// rotationReason says why the secret must rotate in this plan, or "" when it need not: the
// secret in state is stale (the service rotated it outside Terraform), rotation_triggers
// changed, or rotation.interval had elapsed since the last rotation (or creation) at the last
// refresh. timed is false when no refresh was recorded: then no interval decision is made, and
// the next refreshed plan makes it.
func rotationReason(ctx context.Context, state, plan apiTokenModel, basis planBasis, timed bool, diags *diag.Diagnostics) string {
	if basis.StaleVersion > 0 {
		if basis.StaleUntil != nil {
			// The secret in state is the service's previous secret, inside the overlap the
			// out-of-band rotation announced: the service refuses a rotation until it ends
			// (a rotation keeps its word), so this plan rotates nothing and says when to apply.
			diags.AddWarning("Secret In State Is Stale",
				"tokenguard_api_token "+strconv.Quote(state.Name.ValueString())+" ("+state.ID.ValueString()+"): "+staleSecretNote(state, basis)+
					" The service refuses a new rotation while that overlap runs, so this plan does not rotate; "+
					"the first plan after "+basis.StaleUntil.UTC().Format(time.RFC3339)+" rotates a current secret into state.")
			return ""
		}
		return staleSecretNote(state, basis)
	}
	// Right after an import the state has neither triggers nor secret: the first triggers
	// are recorded without rotating, so an import never rotates a secret by surprise.
	// The same holds for a recipient configured after an import.
	imported := state.RotationTriggers.IsNull() && state.Secret.IsNull() && state.SealedSecret.IsNull()
	if !imported && !sameTriggers(state.RotationTriggers, plan.RotationTriggers) {
		return "rotation_triggers changed."
	}
	if !imported && !plan.Recipient.Equal(state.Recipient) {
		// The service keeps only a keyed hash of the secret: it cannot seal the current one
		// again, so a new recipient (or none) takes a new secret.
		switch {
		case plan.Recipient.IsUnknown():
			return "recipient is not known until apply, and each recipient takes a new secret sealed to it."
		case plan.Recipient.IsNull():
			return "recipient was removed: the new secret is stored in state in clear (sensitive), and sealed_secret becomes null."
		case state.Recipient.IsNull():
			return "recipient was set: the new secret is sealed to it and the secret in state, which was in clear, becomes null."
		}
		return "recipient changed: the new secret is sealed to the new recipient."
	}
	rot, ok := rotationOf(ctx, plan.Rotation, diags)
	if !ok || !timed {
		return ""
	}
	interval, ok := rot.Interval.span()
	if !ok {
		return ""
	}
	last, ok := parseTime(state.RotatedAt)
	since := "the last rotation"
	if !ok {
		if last, ok = parseTime(state.CreatedAt); !ok {
			return ""
		}
		since = "creation"
	}
	due := last.Add(interval)
	if basis.RefreshedAt.Before(due) {
		return ""
	}
	return "scheduled rotation: rotation.interval (" + rot.Interval.ValueString() + ") elapsed since " + since + " at " +
		last.UTC().Format(time.RFC3339) + "; it was due at " + due.UTC().Format(time.RFC3339) + " (as of the refresh at " +
		basis.RefreshedAt.UTC().Format(time.RFC3339) + ")."
}

// staleSecretNote says that the secret in state is no longer the token's current secret and
// when it stops (or stopped) working.
func staleSecretNote(state apiTokenModel, basis planBasis) string {
	note := fmt.Sprintf("the secret in state is version %d, but the token service holds version %d: the token was rotated "+
		"outside Terraform (or by an apply that was interrupted before it saved the new secret). ",
		basis.StaleVersion, state.SecretVersion.ValueInt64())
	if basis.StaleUntil != nil {
		return note + "The secret in state stops working at " + basis.StaleUntil.UTC().Format(time.RFC3339) + ", when the service's overlap ends."
	}
	return note + "The secret in state has already stopped working."
}

// replacementReason says why the token in state must be replaced, or "" when it need not be.
// Expiry and replace_before are judged at the instant of the last refresh (basis), never on
// the clock; with no recorded refresh only the status the service reported counts.
func replacementReason(state, plan apiTokenModel, basis planBasis, timed bool) string {
	switch state.Status.ValueString() {
	case "revoked":
		return "was revoked outside Terraform"
	case "expired":
		return "has expired"
	}
	if plan.ReplaceBefore.IsUnknown() {
		return "has a replace_before that is not known until apply; the token is replaced now rather than have the apply " +
			"change an update into a replacement. Make replace_before known at plan time to keep the token"
	}
	expires, ok := parseTime(state.ExpiresAt)
	if !ok || !timed {
		return ""
	}
	now := basis.RefreshedAt
	if !now.Before(expires) {
		return "has expired (at " + state.ExpiresAt.ValueString() + ")"
	}
	if before, ok := plan.ReplaceBefore.span(); ok && !now.Before(expires.Add(-before)) {
		return "expires at " + state.ExpiresAt.ValueString() + ", within replace_before (" + plan.ReplaceBefore.ValueString() + ")"
	}
	return ""
}

// ttlRaised reports whether the planned ttl is longer than the one in state; ok is false when
// either is unknown or unparsable.
func ttlRaised(stateTTL, planTTL durationValue) (raised, ok bool) {
	before, ok1 := stateTTL.span()
	after, ok2 := planTTL.span()
	if !ok1 || !ok2 {
		return false, false
	}
	return after > before, true
}

// ttlLowered is the RequiresReplaceIf condition of ttl: a shorter lifetime is a new token, and
// so is a ttl not known until apply (it may turn out shorter; the apply must not change an
// update into a replacement). A ttl derived at import is replaced by the configured one as is
// when the configured one could be the token's: a renewal sets expiry to its time + ttl, so
// any ttl from the token's remaining life (at the refresh) up to its whole lifetime could be.
// A ttl shorter than the remaining life would leave the token living longer than configured,
// so it replaces the token, also when the import itself planned no change (the mark of a
// derived ttl then stays in private state until the next apply).
func ttlLowered(ctx context.Context, req planmodifier.StringRequest, resp *stringplanmodifier.RequiresReplaceIfFuncResponse) {
	if !knownString(req.StateValue) || req.PlanValue.IsNull() {
		return
	}
	if basis, timed := loadPlanBasis(ctx, req.Private, &resp.Diagnostics); basis.TTLDerived {
		var expiresAt types.String
		resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("expires_at"), &expiresAt)...)
		expires, ok := parseTime(expiresAt)
		planned, known := durationFrom(req.PlanValue).span()
		if !timed || !ok || !known || planned >= expires.Sub(basis.RefreshedAt) {
			return
		}
	}
	if req.PlanValue.IsUnknown() {
		resp.RequiresReplace = true
		return
	}
	lowered, ok := ttlRaised(durationFrom(req.PlanValue), durationFrom(req.StateValue))
	resp.RequiresReplace = ok && lowered
}

// sameTriggers compares rotation_triggers; null and empty are the same, unknown differs.
func sameTriggers(a, b types.Map) bool {
	if a.IsUnknown() || b.IsUnknown() {
		return false
	}
	if len(a.Elements()) == 0 && len(b.Elements()) == 0 {
		return true
	}
	return a.Equal(b)
}

// sameRotation reports whether two rotation blocks say the same: both absent, or intervals
// and overlaps of equal time spans ("14d" and "336h" are the same interval).
func sameRotation(ctx context.Context, a, b types.Object, diags *diag.Diagnostics) bool {
	ra, okA := rotationOf(ctx, a, diags)
	rb, okB := rotationOf(ctx, b, diags)
	if !okA || !okB {
		return a.Equal(b)
	}
	return sameSpan(ra.Interval, rb.Interval) && sameSpan(ra.Overlap, rb.Overlap)
}

// sameSpan reports whether two durations are equal as time spans, null being zero.
func sameSpan(a, b durationValue) bool {
	if a.IsUnknown() || b.IsUnknown() {
		return false
	}
	da, _ := a.span()
	db, _ := b.span()
	return da == db && (a.IsNull() || knownString(a)) && (b.IsNull() || knownString(b))
}

// nameFromState keeps the name in state when the configuration sets none (name_prefix): the
// name was chosen at create and stays the token's name until a replacement chooses another.
type nameFromState struct{}

func (nameFromState) Description(context.Context) string {
	return "keeps the name chosen at create when name_prefix is used"
}
func (m nameFromState) MarkdownDescription(ctx context.Context) string { return m.Description(ctx) }
func (nameFromState) PlanModifyString(_ context.Context, req planmodifier.StringRequest, resp *planmodifier.StringResponse) {
	if req.ConfigValue.IsNull() && !req.StateValue.IsNull() && !req.PlanValue.IsNull() && req.PlanValue.IsUnknown() {
		resp.PlanValue = req.StateValue
	}
}

// prefixChanged is the RequiresReplaceIf condition of name_prefix: a new prefix replaces the
// token unless its current name already starts with it (a token imported, or first managed,
// under its full name).
func prefixChanged(ctx context.Context, req planmodifier.StringRequest, resp *stringplanmodifier.RequiresReplaceIfFuncResponse) {
	if req.State.Raw.IsNull() || req.PlanValue.IsUnknown() {
		resp.RequiresReplace = !req.State.Raw.IsNull()
		return
	}
	var name types.String
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("name"), &name)...)
	if req.PlanValue.IsNull() {
		return // back to a fixed name: name itself decides
	}
	resp.RequiresReplace = !knownString(name) || !strings.HasPrefix(name.ValueString(), req.PlanValue.ValueString())
}

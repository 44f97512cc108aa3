package provider

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/token"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

var (
	_ resource.Resource                   = (*apiTokenResource)(nil)
	_ resource.ResourceWithConfigure      = (*apiTokenResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*apiTokenResource)(nil)
	_ resource.ResourceWithValidateConfig = (*apiTokenResource)(nil)
	_ resource.ResourceWithImportState    = (*apiTokenResource)(nil)
	_ resource.ResourceWithIdentity       = (*apiTokenResource)(nil)
	_ resource.ResourceWithUpgradeState   = (*apiTokenResource)(nil)
)

// defaultMaxTTL is the token service's default maximum TTL. The provider cannot ask the service
// for its configured maximum at validation time, so it checks this bound and lets the service
// reject anything above a lower configured cap when the token is created or renewed.
const defaultMaxTTL = 90 * token.Day

// defaultOperationTimeout bounds a create, read, update or delete when the timeouts attribute
// does not: above the client's own worst case with its default settings (five attempts of
// 30 seconds and their back-off).
const defaultOperationTimeout = 10 * time.Minute

// NewAPITokenResource returns the tokenguard_api_token resource.
func NewAPITokenResource() resource.Resource {
	return &apiTokenResource{}
}

// apiTokenResource manages one token of the token service.
type apiTokenResource struct {
	data *providerData

	schemaOnce sync.Once
	schema     schema.Schema // the resource schema, for the attribute paths of policy findings

	// fullPlanOnly turns off the shortcuts of ModifyPlan (unchangedPlan) and Read (an
	// unchanged state is not written back); the tests that prove them equivalent set it.
	fullPlanOnly bool
}

func (r *apiTokenResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_api_token"
}

func (r *apiTokenResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = configuredData(req.ProviderData, &resp.Diagnostics)
}

// ValidateConfig checks the rules that span attributes. It reads the four attributes it needs
// from the raw configuration: decoding the whole model through the framework's reflection,
// once per resource, cost about 4% of the provider's CPU in a plan of 500 tokens
// (docs/benchmarks.md).
func (r *apiTokenResource) ValidateConfig(_ context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	cfg := req.Config.Raw
	owner, ownerKnown := configString(cfg, "owner")
	if reviewer, ok := configString(configAttribute(cfg, "renewal"), "reviewed_by"); ok && ownerKnown &&
		strings.EqualFold(strings.TrimSpace(reviewer), strings.TrimSpace(owner)) {
		resp.Diagnostics.AddAttributeError(path.Root("renewal").AtName("reviewed_by"), "Renewal Reviewer Is The Owner",
			"renewal.reviewed_by is "+strconv.Quote(owner)+", the token's owner. A renewal must be "+
				"reviewed by someone other than the owner (CPRA-RET-003): name the reviewer, for example your security team.")
	}
	replaceBefore, ok1 := configString(cfg, "replace_before")
	ttlText, ok2 := configString(cfg, "ttl")
	if ok1 && ok2 {
		before, err1 := token.ParseDuration(replaceBefore)
		ttl, err2 := token.ParseDuration(ttlText)
		if err1 == nil && err2 == nil && before >= ttl {
			resp.Diagnostics.AddAttributeError(path.Root("replace_before"), "Replace Window Not Shorter Than TTL",
				"replace_before ("+replaceBefore+") must be shorter than ttl ("+ttlText+
					"), otherwise every plan would replace the token. Shorten replace_before.")
		}
	}
}

// configAttribute is the attribute name of the object v; a null value when v is not a known
// object with that attribute.
func configAttribute(v tftypes.Value, name string) tftypes.Value {
	if !v.IsKnown() || v.IsNull() {
		return tftypes.NewValue(tftypes.String, nil)
	}
	x, err := v.ApplyTerraform5AttributePathStep(tftypes.AttributeName(name))
	if err != nil {
		return tftypes.NewValue(tftypes.String, nil)
	}
	at, ok := x.(tftypes.Value)
	if !ok {
		return tftypes.NewValue(tftypes.String, nil)
	}
	return at
}

// configString is the string attribute name of the object v; ok is false when it is null,
// unknown or not a string.
func configString(v tftypes.Value, name string) (s string, ok bool) {
	at := configAttribute(v, name)
	if !at.IsKnown() || at.IsNull() || !at.Type().Is(tftypes.String) {
		return "", false
	}
	return s, at.As(&s) == nil
}

// ModifyPlan decides whether the planned change is a replacement (expired, revoked, inside
// replace_before, or ttl lowered or unknown), a renewal (ttl raised) and/or a rotation (interval
// elapsed, rotation_triggers changed, or the secret in state stale); then the policy gate
// checks the planned token against the CPRA bundle. It reads no clock: time is the instant of
// the last refresh, recorded by Read in private state (see planBasis), so Terraform's second
// plan at apply, from the same prior state, always reaches the same decisions.
func (r *apiTokenResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return // destroy: nothing to decide or check
	}
	if req.State.Raw.IsNull() {
		// Terraform plans the new object of a replacement a second time, as a create, with
		// the private state of the first plan: a replacement the configuration did not ask
		// for stays judged as such (see atPlanUndeclared).
		stage := atPlan
		if flag, d := req.Private.GetKey(ctx, undeclaredReplacementKey); !d.HasError() && len(flag) > 0 {
			stage = atPlanUndeclared
		}
		var plan apiTokenModel
		resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
		if resp.Diagnostics.HasError() {
			return
		}
		planSecretShape(&plan)
		resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
		if resp.Diagnostics.HasError() {
			return
		}
		r.checkPolicy(ctx, plannedToken{actions: []string{"create"}, before: req.State.Raw, after: resp.Plan.Raw}, stage, &resp.Diagnostics)
		return
	}
	var basisDiags diag.Diagnostics
	basis, timed := loadPlanBasis(ctx, req.Private, &basisDiags)
	if !r.fullPlanOnly && len(basisDiags) == 0 && r.unchangedPlan(ctx, req.Plan.Raw, req.State.Raw, basis, timed) {
		// Nothing to decide: the plan stays as Terraform proposed it, which the full path
		// below would decode and write back unchanged, a no-op the gate judges as such.
		r.checkPolicy(ctx, plannedToken{actions: []string{"no-op"}, before: req.State.Raw, after: req.Plan.Raw}, atPlanUndeclared, &resp.Diagnostics)
		return
	}
	var plan, state apiTokenModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(basisDiags...)
	name := "tokenguard_api_token " + strconv.Quote(state.Name.ValueString()) + " (" + state.ID.ValueString() + ")"
	if subjectsDroppedAtImport(ctx, req.Private, state, plan, name, &resp.Diagnostics) {
		return
	}

	if reason := replacementReason(state, plan, basis, timed); reason != "" {
		// status is planned unknown and listed as requiring replacement, so Terraform shows
		// the change as a replacement and re-plans the new token from scratch.
		plan.Status = types.StringUnknown()
		resp.RequiresReplace = append(resp.RequiresReplace, path.Root("status"))
		resp.Diagnostics.AddWarning("Token Will Be Replaced",
			name+" "+reason+". Apply the plan to issue a new token and revoke the old one.")
		resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
		stage := planStage(state, plan)
		if stage == atPlanUndeclared {
			resp.Diagnostics.Append(resp.Private.SetKey(ctx, undeclaredReplacementKey, []byte("true"))...)
		}
		if !resp.Diagnostics.HasError() {
			r.checkPolicy(ctx, plannedToken{actions: replaceActions, before: req.State.Raw, after: resp.Plan.Raw}, stage, &resp.Diagnostics)
		}
		return
	}
	if plan.TTL.IsUnknown() {
		resp.Diagnostics.AddAttributeWarning(path.Root("ttl"), "Token Will Be Replaced",
			name+": ttl is not known until apply. A lower ttl needs a new token, so the token is replaced now rather "+
				"than have the apply change an update into a replacement. Make ttl known at plan time to update in place.")
	}
	if rot, ok := rotationOf(ctx, plan.Rotation, &resp.Diagnostics); plan.Rotation.IsUnknown() || (ok && rot.Interval.IsUnknown()) {
		resp.Diagnostics.AddAttributeError(path.Root("rotation").AtName("interval"), "Rotation Interval Unknown At Plan",
			name+": rotation.interval is not known until apply, but it decides whether this plan rotates the secret, and "+
				"the apply must do what the plan showed. Use a value known at plan time, or apply what it depends on first "+
				"(terraform apply -target=...).")
		return
	}

	if renewing, ok := ttlRaised(state.TTL, plan.TTL); ok && renewing && !basis.TTLDerived {
		var configured types.Object
		resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("renewal"), &configured)...)
		if configured.IsNull() {
			resp.Diagnostics.AddAttributeError(path.Root("ttl"), "Renewal Review Required",
				"Raising ttl from "+state.TTL.ValueString()+" to "+plan.TTL.ValueString()+" moves the token's expiry later, "+
					"which is a renewal. Add a renewal block with a reason and a reviewed_by other than the owner, for example:\n\n"+
					"  renewal = {\n    reason      = \"Quarter-end close needs two more weeks\"\n    reviewed_by = \"security@example.com\"\n  }")
			return
		}
		if ren, ok := renewalOf(ctx, configured, &resp.Diagnostics); ok && knownString(ren.Reason) && knownString(ren.ReviewedBy) {
			used, recorded := loadUsedReviews(ctx, req.Private, &resp.Diagnostics)
			stateRen, _ := renewalOf(ctx, state.Renewal, &resp.Diagnostics)
			if ttl, ok := reviewUsed(ren, used, recorded, state.Renewal, stateRen, state.TTL.ValueString()); ok {
				resp.Diagnostics.AddAttributeError(path.Root("renewal"), "Renewal Review Already Used",
					name+": raising ttl from "+state.TTL.ValueString()+" to "+plan.TTL.ValueString()+" is a new renewal, but the "+
						"renewal block holds the review that already approved ttl "+ttl+". A review approves one renewal: get a new "+
						"review and set renewal.reason (and renewal.reviewed_by) to it. The token service refuses a reused review "+
						"too (409 renewal_review_used), so the apply would fail.")
				return
			}
		}
		plan.ExpiresAt = types.StringUnknown()
	}

	if why := rotationReason(ctx, state, plan, basis, timed, &resp.Diagnostics); why != "" {
		plan.Secret = types.StringUnknown()
		plan.SealedSecret = types.StringUnknown()
		planSecretShape(&plan)
		plan.Fingerprint = types.StringUnknown()
		plan.RotatedAt = types.StringUnknown()
		plan.SecretVersion = types.Int64Unknown()
		resp.Diagnostics.AddWarning("Secret Will Rotate", name+": "+why+" Apply rotates the secret in place: id stays, "+
			"secret, fingerprint, rotated_at and secret_version change"+overlapNote(ctx, plan.Rotation, &resp.Diagnostics)+".")
	}
	if declaresNothingNew(state, plan) {
		// The configuration differs from state only in what plans nothing: a removed renewal
		// block (see renewalKept) or a respelled duration (see spellingKept). last_used_at,
		// which the framework plans unknown on any difference from state, stays as it is, so
		// the plan is empty.
		plan.LastUsedAt = state.LastUsedAt
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	actions := []string{"update"}
	switch {
	case replacedByAttribute(state, plan):
		actions = replaceActions
	case resp.Plan.Raw.Equal(req.State.Raw):
		actions = []string{"no-op"}
	}
	stage := planStage(state, plan)
	if stage == atPlanUndeclared && len(actions) == 2 {
		resp.Diagnostics.Append(resp.Private.SetKey(ctx, undeclaredReplacementKey, []byte("true"))...)
	}
	r.checkPolicy(ctx, plannedToken{actions: actions, before: req.State.Raw, after: resp.Plan.Raw}, stage, &resp.Diagnostics)
}

// planSecretShape plans which of secret and sealed_secret a new secret fills: with a known
// recipient only sealed_secret (secret stays null), without one only secret; while the
// recipient is unknown both stay unknown. A secret that is not being issued is left alone.
func planSecretShape(plan *apiTokenModel) {
	switch {
	case plan.Recipient.IsUnknown():
	case plan.Recipient.IsNull():
		if plan.SealedSecret.IsUnknown() {
			plan.SealedSecret = types.StringNull()
		}
	default:
		if plan.Secret.IsUnknown() {
			plan.Secret = types.StringNull()
		}
	}
}

// importedSubjectsKey marks, in private state, a token just imported that the token service
// binds to data subjects. ImportState sets it; the import's own Read keeps it only when the
// token has subjects, and every later Read, Create and Update clears it.
const importedSubjectsKey = "imported_subjects"

// subjectsDroppedAtImport refuses the plan of a token just imported with data subjects when the
// configuration sets data_subjects to null: the plan would replace the token with one bound to
// no subject, and deletion requests of those subjects would no longer find it. Terraform's
// -generate-config-out writes a sensitive attribute as null, so a generated configuration
// always says so. The error never names the subjects. Outside an import a null data_subjects
// keeps its meaning (a replacement without subjects).
func subjectsDroppedAtImport(ctx context.Context, private privateState, state, plan apiTokenModel, name string, diags *diag.Diagnostics) bool {
	mark, d := private.GetKey(ctx, importedSubjectsKey)
	diags.Append(d...)
	if len(mark) == 0 || !plan.DataSubjects.IsNull() || state.DataSubjects.IsNull() || state.DataSubjects.IsUnknown() ||
		len(state.DataSubjects.Elements()) == 0 {
		return false
	}
	diags.AddAttributeError(path.Root("data_subjects"), "Imported Token's Data Subjects Missing From Configuration",
		name+" is bound to "+strconv.Itoa(len(state.DataSubjects.Elements()))+" data subject(s) at the token service, but "+
			"the configuration sets data_subjects to null: the plan would replace the token with one bound to no subject, "+
			"and deletion requests of those subjects would no longer find it. terraform plan -generate-config-out writes "+
			"data_subjects (a sensitive attribute) as null, so a generated configuration always says so.\n\n"+
			"Set data_subjects to the token's subjects: copy the resource block from the file that "+
			"\"tokenguard inventory --generate-imports FILE --generate-config-out FILE\" wrote, or list them with "+
			"\"tokenguard token show "+state.ID.ValueString()+"\". To replace the token with one bound to no subject, "+
			"set data_subjects = [].")
	return true
}

// undeclaredReplacementKey marks, in the private state of a plan, a replacement that the
// configuration did not ask for (expired, revoked outside Terraform, inside replace_before).
const undeclaredReplacementKey = "undeclared_replacement"

// replaceActions are the plan JSON actions of a replacement. Terraform plans the new object a
// second time, as a create, and keeps only the errors of that second plan: the gate reports
// findings on the first, so each is shown once.
var replaceActions = []string{"delete", "create"}

// checkPolicy runs the provider's policy gate on a planned change; it returns the waivers
// that waived a finding, which the apply sends to the service.
func (r *apiTokenResource) checkPolicy(ctx context.Context, c plannedToken, stage gateStage, diags *diag.Diagnostics) []wire.Waiver {
	if r.data == nil || r.data.gate == nil {
		return nil // not configured yet: the values are checked at apply
	}
	return r.data.gate.check(ctx, r.resourceSchema(ctx), c, stage, diags)
}

// resourceSchema is the resource's schema, built once.
func (r *apiTokenResource) resourceSchema(ctx context.Context) schema.Schema {
	r.schemaOnce.Do(func() {
		var sr resource.SchemaResponse
		r.Schema(ctx, resource.SchemaRequest{}, &sr)
		r.schema = sr.Schema
	})
	return r.schema
}

func (r *apiTokenResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	if !r.ready(&resp.Diagnostics) {
		return
	}
	var plan apiTokenModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	limit, d := plan.Timeouts.Create(ctx, defaultOperationTimeout)
	resp.Diagnostics.Append(d...)
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	defer timeoutNote(ctx, &resp.Diagnostics, "create", limit)
	// Values unknown at plan time are known now: check them before anything is issued.
	waivers := r.checkPolicy(ctx, plannedToken{actions: []string{"create"}, before: tftypes.NewValue(req.Plan.Raw.Type(), nil), after: req.Plan.Raw}, atApply, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	createReq := plan.createRequest(ctx, &resp.Diagnostics)
	if !knownString(plan.Name) {
		suffix, err := randomSuffix()
		if err != nil {
			resp.Diagnostics.AddError("Unable To Create Token", "Generating a name suffix failed: "+err.Error()+". Apply again.")
			return
		}
		createReq.Name = plan.NamePrefix.ValueString() + suffix
	}
	createReq.TTL = plan.TTL.ValueString()
	createReq.Recipient = plan.Recipient.ValueString()
	createReq.Waivers = waivers
	createReq.Rotation = rotationRequest(ctx, plan.Rotation, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	// An empty idempotency key makes the client generate one and keep it across its retries,
	// so a create whose response is lost leaves exactly one token.
	tok, err := r.data.client.CreateToken(ctx, createReq, "")
	if isNameTaken(err) {
		var done bool
		if tok, done, err = r.createOverExpiredHolder(ctx, createReq, &resp.Diagnostics); !done {
			return
		}
	}
	if err != nil {
		addClientError(&resp.Diagnostics, "Unable To Create Token", "creating token "+strconv.Quote(createReq.Name), err)
		return
	}
	setSecret(&plan, tok, &resp.Diagnostics)
	applyToken(ctx, &plan, tok, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	planBasis{RefreshedAt: r.now()}.save(ctx, resp.Private, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, undeclaredReplacementKey, nil)...)
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, importedSubjectsKey, nil)...)
	// A new token starts with no used review but the one configured: a renewal block present
	// at create (or carried into a replacement) approves no later ttl increase of this token.
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, usedReviewsKey, nil)...)
	if ren, ok := renewalOf(ctx, plan.Renewal, &resp.Diagnostics); ok {
		recordReview(ctx, resp.Private, ren, plan.TTL.ValueString(), &resp.Diagnostics)
	}
	setIdentity(ctx, resp.Identity, tok.ID, &resp.Diagnostics)
}

func (r *apiTokenResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	if !r.ready(&resp.Diagnostics) {
		return
	}
	state, decoded := r.decodeModel(ctx, req.State.Raw)
	if r.fullPlanOnly || !decoded {
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	limit, d := state.Timeouts.Read(ctx, defaultOperationTimeout)
	resp.Diagnostics.Append(d...)
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	defer timeoutNote(ctx, &resp.Diagnostics, "read", limit)
	tok, err := r.data.client.GetToken(ctx, state.ID.ValueString())
	if errors.Is(err, client.ErrNotFound) {
		resp.Diagnostics.AddWarning("Token Not Found",
			"tokenguard_api_token "+state.ID.ValueString()+" no longer exists in the token service, so it was removed "+
				"from Terraform state. The next plan creates a new token; remove the resource from the configuration if it is no longer needed.")
		resp.State.RemoveResource(ctx)
		// The framework requires an identity after every error-free read, also when the
		// resource is gone and the client (Terraform < 1.12) sent no stored identity.
		setIdentity(ctx, resp.Identity, state.ID.ValueString(), &resp.Diagnostics)
		return
	}
	if err != nil {
		addClientError(&resp.Diagnostics, "Unable To Read Token", "reading token "+state.ID.ValueString(), err)
		return
	}
	basis, _ := loadPlanBasis(ctx, req.Private, &resp.Diagnostics)
	basis.RefreshedAt = r.now()
	prior := state
	priorVersion, hadSecret := state.SecretVersion, knownString(state.Secret) || knownString(state.SealedSecret)
	applyToken(ctx, &state, tok, &resp.Diagnostics)
	if hadSecret && basis.StaleVersion == 0 && !priorVersion.IsNull() && priorVersion.ValueInt64() != int64(tok.SecretVersion) {
		// The service rotated the secret without Terraform: the secret in state is stale. The
		// next plan rotates it in place (rotationReason), whatever else it does.
		basis.StaleVersion = priorVersion.ValueInt64()
		if priorVersion.ValueInt64()+1 == int64(tok.SecretVersion) && tok.PreviousValidTil != nil {
			until := tok.PreviousValidTil.UTC()
			basis.StaleUntil = &until
		}
	}
	if basis.StaleUntil != nil && !basis.RefreshedAt.Before(*basis.StaleUntil) {
		basis.StaleUntil = nil // it has stopped working since
	}
	importing := state.TTL.IsNull() // the read that follows ImportState: only id is set
	if importing {
		// Import: ttl is required but not stored by the service; derive it from the lifetime.
		// The configured ttl replaces it at the next apply, without renewal or replacement
		// when the token could have it (see ttlLowered).
		state.TTL = durationOf(derivedTTL(tok.CreatedAt, tok.ExpiresAt))
		basis.TTLDerived = true
	}
	if mark, _ := resp.Private.GetKey(ctx, importedSubjectsKey); len(mark) > 0 && (!importing || len(tok.DataSubjects) == 0) {
		resp.Diagnostics.Append(resp.Private.SetKey(ctx, importedSubjectsKey, nil)...)
	}
	// The framework starts resp.State as the prior state: when the token is what state
	// already holds, field for field, writing it back through the framework's reflection
	// would give the same value.
	if r.fullPlanOnly || !reflect.DeepEqual(prior, state) {
		resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
	}
	basis.save(ctx, resp.Private, &resp.Diagnostics)
	setIdentity(ctx, resp.Identity, tok.ID, &resp.Diagnostics)
}

func (r *apiTokenResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	if !r.ready(&resp.Diagnostics) {
		return
	}
	var plan, state apiTokenModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	limit, d := plan.Timeouts.Update(ctx, defaultOperationTimeout)
	resp.Diagnostics.Append(d...)
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	defer timeoutNote(ctx, &resp.Diagnostics, "update", limit)
	waivers := r.checkPolicy(ctx, plannedToken{actions: []string{"update"}, before: req.State.Raw, after: req.Plan.Raw}, atApply, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	id := state.ID.ValueString()
	var tok wire.Token
	called := false

	if upd, changed := r.updateRequest(ctx, plan, state, &resp.Diagnostics); changed && !resp.Diagnostics.HasError() {
		upd.Waivers = waivers
		t, err := r.data.client.UpdateToken(ctx, id, upd)
		if err != nil {
			addClientError(&resp.Diagnostics, "Unable To Update Token", "updating token "+id, err)
			return
		}
		tok, called = t, true
	}
	if resp.Diagnostics.HasError() {
		return
	}

	basis, _ := loadPlanBasis(ctx, req.Private, &resp.Diagnostics)
	if renewing, ok := ttlRaised(state.TTL, plan.TTL); ok && renewing && !basis.TTLDerived {
		renewal, ok := renewalOf(ctx, plan.Renewal, &resp.Diagnostics)
		if !ok {
			// Only reachable when ttl was unknown at plan time.
			resp.Diagnostics.AddAttributeError(path.Root("ttl"), "Renewal Review Required",
				"The new ttl "+plan.TTL.ValueString()+" is longer than "+state.TTL.ValueString()+", which is a renewal. "+
					"Add a renewal block with a reason and a reviewed_by other than the owner, then apply again.")
			return
		}
		t, err := r.data.client.RenewToken(ctx, id, wire.RenewRequest{
			TTL:        plan.TTL.ValueString(),
			Reason:     renewal.Reason.ValueString(),
			ReviewedBy: renewal.ReviewedBy.ValueString(),
			Waivers:    waivers,
		}, "")
		if err != nil {
			addClientError(&resp.Diagnostics, "Unable To Renew Token", "renewing token "+id, err)
			return
		}
		recordReview(ctx, resp.Private, renewal, plan.TTL.ValueString(), &resp.Diagnostics)
		tok, called = t, true
	}

	if plan.Secret.IsUnknown() || plan.SealedSecret.IsUnknown() {
		// Every rotation (scheduled, triggered, a stale secret's catch-up, a new recipient)
		// seals the new secret to the configured recipient.
		rotate := wire.RotateRequest{Recipient: plan.Recipient.ValueString(), Waivers: waivers}
		if rot, ok := rotationOf(ctx, plan.Rotation, &resp.Diagnostics); ok && knownString(rot.Overlap) {
			rotate.Overlap = rot.Overlap.ValueString()
		}
		t, err := r.data.client.RotateToken(ctx, id, rotate, "")
		if err != nil {
			addClientError(&resp.Diagnostics, "Unable To Rotate Token", "rotating token "+id, err)
			return
		}
		tok, called = t, true
		setSecret(&plan, t, &resp.Diagnostics)
	}

	if !called {
		// Only provider-side attributes changed; refresh the computed ones.
		t, err := r.data.client.GetToken(ctx, id)
		if err != nil {
			addClientError(&resp.Diagnostics, "Unable To Read Token", "reading token "+id, err)
			return
		}
		tok = t
	}
	applyToken(ctx, &plan, tok, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	planBasis{RefreshedAt: r.now()}.save(ctx, resp.Private, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, importedSubjectsKey, nil)...)
	setIdentity(ctx, resp.Identity, id, &resp.Diagnostics)
}

func (r *apiTokenResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	if !r.ready(&resp.Diagnostics) {
		return
	}
	var state apiTokenModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	limit, d := state.Timeouts.Delete(ctx, defaultOperationTimeout)
	resp.Diagnostics.Append(d...)
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	defer timeoutNote(ctx, &resp.Diagnostics, "delete", limit)
	id := state.ID.ValueString()
	_, err := r.data.client.RevokeToken(ctx, id)
	if err == nil || errors.Is(err, client.ErrNotFound) {
		return
	}
	// A token that already stopped working (expired) needs no revocation.
	if tok, getErr := r.data.client.GetToken(ctx, id); getErr == nil && tok.Status != "active" {
		return
	}
	addClientError(&resp.Diagnostics, "Unable To Revoke Token", "revoking token "+id, err)
}

func (r *apiTokenResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resource.ImportStatePassthroughWithIdentity(ctx, path.Root("id"), path.Root("id"), req, resp)
	// The import's Read keeps the mark when the token has data subjects (see importedSubjectsKey).
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, importedSubjectsKey, []byte("true"))...)
}

// ready reports whether the provider was configured, adding an error when it was not.
func (r *apiTokenResource) ready(diags *diag.Diagnostics) bool {
	return providerReady(r.data, diags)
}

func (r *apiTokenResource) now() time.Time {
	if r.data != nil && r.data.now != nil {
		return r.data.now()
	}
	return time.Now()
}

// updateRequest builds the PATCH body from the metadata that differs between plan and state.
func (r *apiTokenResource) updateRequest(ctx context.Context, plan, state apiTokenModel, diags *diag.Diagnostics) (wire.UpdateTokenRequest, bool) {
	var upd wire.UpdateTokenRequest
	changed := false
	if !plan.Purpose.Equal(state.Purpose) {
		v := plan.Purpose.ValueString()
		upd.Purpose, changed = &v, true
	}
	if !plan.Scopes.Equal(state.Scopes) {
		v := setStrings(ctx, plan.Scopes, diags)
		upd.Scopes, changed = &v, true
	}
	if !plan.DataCategories.Equal(state.DataCategories) {
		v := nonNil(setStrings(ctx, plan.DataCategories, diags))
		upd.DataCategories, changed = &v, true
	}
	if !plan.Audiences.Equal(state.Audiences) {
		v := nonNil(setStrings(ctx, plan.Audiences, diags))
		upd.Audiences, changed = &v, true
	}
	if !plan.Labels.Equal(state.Labels) {
		v := mapStrings(ctx, plan.Labels, diags)
		if v == nil {
			v = map[string]string{}
		}
		upd.Labels, changed = &v, true
	}
	if !sameRotation(ctx, plan.Rotation, state.Rotation, diags) {
		rot := rotationRequest(ctx, plan.Rotation, diags)
		if rot == nil {
			rot = &wire.Rotation{} // clears the policy
		}
		upd.Rotation, changed = rot, true
	}
	return upd, changed
}

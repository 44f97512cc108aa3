package provider

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/identityschema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/token"
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

// apiTokenSchemaVersion is the version of the resource's state. Raise it with every change of
// the state's shape, and add an upgrader from the previous version to UpgradeState.
const apiTokenSchemaVersion = 1

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
}

// apiTokenModel is the state and plan shape of tokenguard_api_token.
// The attributes it shares with the data sources are in the embedded tokenMetadata.
type apiTokenModel struct {
	tokenMetadata
	NamePrefix       types.String   `tfsdk:"name_prefix"`
	TTL              durationValue  `tfsdk:"ttl"`
	ReplaceBefore    durationValue  `tfsdk:"replace_before"`
	Rotation         types.Object   `tfsdk:"rotation"`
	RotationTriggers types.Map      `tfsdk:"rotation_triggers"`
	Renewal          types.Object   `tfsdk:"renewal"`
	Secret           types.String   `tfsdk:"secret"`
	Timeouts         timeouts.Value `tfsdk:"timeouts"`
}

// rotationModel is the rotation block.
type rotationModel struct {
	Interval durationValue `tfsdk:"interval"`
	Overlap  durationValue `tfsdk:"overlap"`
}

var rotationAttrTypes = map[string]attr.Type{
	"interval": durationType{},
	"overlap":  durationType{},
}

// renewalModel is the renewal block.
type renewalModel struct {
	Reason     types.String `tfsdk:"reason"`
	ReviewedBy types.String `tfsdk:"reviewed_by"`
}

var renewalAttrTypes = map[string]attr.Type{
	"reason":      types.StringType,
	"reviewed_by": types.StringType,
}

// apiTokenIdentityModel is the resource identity: the token id, stable across rotations.
type apiTokenIdentityModel struct {
	ID types.String `tfsdk:"id"`
}

func (r *apiTokenResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_api_token"
}

func (r *apiTokenResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	resp.Schema = schema.Schema{
		Version: apiTokenSchemaVersion,
		Description: "An API token of the tokenguard service with a declared purpose, owner, data reach, expiry and " +
			"rotation schedule. The secret is returned once, at create and at each rotation, and is stored in state " +
			"as a sensitive value. Rotation is an in-place update: `id` never changes, `secret`, `fingerprint`, " +
			"`rotated_at` and `secret_version` do. An expired token, a token revoked outside Terraform and a token " +
			"within `replace_before` of its expiry are planned for replacement: the old token is revoked first, so the new one can " +
			"take the same name. Under `lifecycle { create_before_destroy = true }` an expired token is revoked when its " +
			"replacement is created, to free the name; an active token cannot hand its name over that way (names are unique " +
			"per owner among tokens that are not revoked): use `name_prefix` for a zero-downtime replacement, where the new " +
			"token is issued under a name of its own before the old one is revoked. Destroying the resource revokes the " +
			"token. After `terraform import` (or an `import` block) `secret` is null: the service keeps only a keyed " +
			"hash of it and cannot return it again. The first `rotation_triggers` after an import are recorded without rotating; " +
			"change them afterwards to rotate a new secret into state.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Description:   "Token id (`tok_…`): a stable, non-secret handle that stays the same across rotations and renewals.",
				Computed:      true,
				PlanModifiers: keep,
			},
			"name": schema.StringAttribute{
				Description: "Human name of the token, unique per owner. Changing it replaces the token. Set exactly one of " +
					"`name` and `name_prefix`; with `name_prefix`, `name` is computed.",
				Optional: true,
				Computed: true,
				Validators: []validator.String{
					stringvalidator.LengthBetween(1, 128), textValidator{},
					stringvalidator.ExactlyOneOf(path.MatchRoot("name"), path.MatchRoot("name_prefix")),
				},
				PlanModifiers: []planmodifier.String{nameFromState{}, stringplanmodifier.RequiresReplace()},
			},
			"name_prefix": schema.StringAttribute{
				Description: "Issue the token under a unique name that starts with this prefix (the prefix, then 8 random " +
					"lower-case letters and digits), instead of a fixed `name`. Use it with `lifecycle { create_before_destroy = true }` " +
					"and `replace_before` for a zero-downtime replacement: the new token takes a name of its own, so it is issued " +
					"while the old one is still active, and Terraform updates what uses the secret before it revokes the old token. " +
					"Changing it replaces the token, unless the current name already starts with the new prefix (after an import).",
				Optional:   true,
				Validators: []validator.String{stringvalidator.LengthBetween(1, 119), textValidator{}},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplaceIf(prefixChanged,
					"Changing name_prefix replaces the token.", "Changing `name_prefix` replaces the token.")},
			},
			"owner": schema.StringAttribute{
				Description:   "Accountable team or person, for example `team-finance@example.com`. Changing it replaces the token.",
				Required:      true,
				Validators:    []validator.String{stringvalidator.LengthAtLeast(1), textValidator{}},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"purpose": schema.StringAttribute{
				Description: "Specific statement of what the token is for: which data, which system, to what end " +
					"(CPRA 1798.100(a)(1)). Generic words such as `test`, `misc` or `tbd` and sentences shorter than " +
					strconv.Itoa(token.MinPurposeLength) + " characters are rejected at plan time. Updated in place.",
				Required:   true,
				Validators: []validator.String{purposeValidator{}, textValidator{}},
			},
			"scopes": schema.SetAttribute{
				Description: "Permissions the token grants, for example `invoices:read`. At least one. Updated in place.",
				Required:    true,
				ElementType: types.StringType,
				Validators: []validator.Set{
					setvalidator.SizeAtLeast(1),
					setvalidator.ValueStringsAre(stringvalidator.LengthAtLeast(1), textValidator{noSpace: true}),
				},
			},
			"data_categories": schema.SetAttribute{
				Description: "CPRA categories of personal information the token reaches: " + categoryList() +
					". `[]` declares that the token reaches no personal information. Updated in place.",
				Required:    true,
				ElementType: types.StringType,
				Validators:  []validator.Set{setvalidator.ValueStringsAre(categoryValidator{})},
			},
			"data_subjects": schema.SetAttribute{
				Description: "Consumers or tenants the token acts for, for example `customer:4411`; used to find the " +
					"token when a subject asks for deletion. Encrypted at rest by the service. Changing it replaces the token.",
				Optional:      true,
				ElementType:   types.StringType,
				Validators:    []validator.Set{setvalidator.ValueStringsAre(stringvalidator.LengthAtLeast(1), textValidator{})},
				PlanModifiers: []planmodifier.Set{setplanmodifier.RequiresReplace()},
			},
			"audiences": schema.SetAttribute{
				Description: "Systems the token is valid for, for example `warehouse`. Updated in place.",
				Optional:    true,
				ElementType: types.StringType,
				Validators:  []validator.Set{setvalidator.ValueStringsAre(stringvalidator.LengthAtLeast(1), textValidator{})},
			},
			"ttl": schema.StringAttribute{
				Description: "Lifetime of the token: a Go duration (`12h`) or whole days (`30d`), at most `90d` (the " +
					"service's default maximum; a service configured with a lower maximum rejects longer values at apply). " +
					"Raising `ttl` is a renewal: it needs a `renewal` block, and apply moves expiry to now + `ttl`. " +
					"Lowering `ttl` replaces the token, and so does a `ttl` not known until apply (it could turn out lower). " +
					"Spellings of the same span are equal (`20d`, `480h`, `480h0m0s`): changing the spelling updates it in state " +
					"only, renewing nothing. After import, `ttl` is derived from `expires_at - created_at` until the next apply " +
					"records the configured `ttl` in its place, without renewal or replacement.",
				Required:   true,
				CustomType: durationType{},
				Validators: []validator.String{durationValidator{max: defaultMaxTTL}},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplaceIf(ttlLowered,
					"Lowering ttl replaces the token.", "Lowering `ttl` replaces the token.")},
			},
			"replace_before": schema.StringAttribute{
				Description: "Plan a replacement of the token once it is within this duration of `expires_at` (Go duration " +
					"or whole days), so a new token is issued before the old one expires. Provider-side only. Judged at the instant " +
					"of the plan's refresh, so a saved plan applies as planned; a `replace_before` not known until apply replaces the token.",
				Optional:   true,
				CustomType: durationType{},
				Validators: []validator.String{durationValidator{}},
			},
			"rotation": schema.SingleNestedAttribute{
				Description: "Rotation schedule. When `interval` has elapsed since the last rotation (or since creation) at the " +
					"plan's refresh, the plan rotates the secret in place and says so in a `Secret Will Rotate` warning. The " +
					"decision is taken at refresh and kept in private state, so a plan saved before the interval elapsed applies as " +
					"planned and the due rotation shows in the next plan. `interval` must be known at plan time. A rotation made " +
					"outside Terraform (the secret in state is older than the service's) is planned as an in-place rotation too, " +
					"with a warning naming when the stale secret stops working.",
				Optional: true,
				Attributes: map[string]schema.Attribute{
					"interval": schema.StringAttribute{
						Description: "Rotate the secret when this much time has passed since the last rotation (Go duration or whole days).",
						Required:    true,
						CustomType:  durationType{},
						Validators:  []validator.String{durationValidator{}},
					},
					"overlap": schema.StringAttribute{
						Description: "How long the previous secret keeps working after a rotation, for a zero-downtime " +
							"hand-over (Go duration or whole days). Omit for no overlap.",
						Optional:   true,
						CustomType: durationType{},
						Validators: []validator.String{durationValidator{}},
					},
				},
			},
			"timeouts": timeouts.Attributes(ctx, timeouts.Opts{Create: true, Read: true, Update: true, Delete: true}),
			"rotation_triggers": schema.MapAttribute{
				Description: "Arbitrary map of values; any change rotates the secret in place (like `keepers`), for example " +
					"on each release. Provider-side only. The first value recorded after an import does not rotate.",
				Optional:    true,
				ElementType: types.StringType,
			},
			"renewal": schema.SingleNestedAttribute{
				Description: "Review that justifies moving expiry later. Required in the same change that raises `ttl`; " +
					"sent to the service's renew endpoint and recorded in its audit log. A review approves one renewal: a later " +
					"`ttl` increase needs a new review (another `reason` or `reviewed_by`), refused at plan and by the service " +
					"(409) otherwise. Removing the block after the apply plans nothing: state keeps the last applied review. " +
					"A new token (a create or a replacement) starts with the configured block, never the old token's.",
				Optional:      true,
				Computed:      true,
				PlanModifiers: []planmodifier.Object{renewalKept{}},
				Attributes: map[string]schema.Attribute{
					"reason": schema.StringAttribute{
						Description: "Why the token needs to live longer.",
						Required:    true,
						Validators:  []validator.String{stringvalidator.LengthAtLeast(1)},
					},
					"reviewed_by": schema.StringAttribute{
						Description: "Who reviewed the renewal; must be someone other than `owner`.",
						Required:    true,
						Validators:  []validator.String{stringvalidator.LengthAtLeast(1)},
					},
				},
			},
			"labels": schema.MapAttribute{
				Description: "Free-form labels, for example `{ env = \"prod\" }`. Updated in place.",
				Optional:    true,
				ElementType: types.StringType,
				Validators: []validator.Map{
					mapvalidator.KeysAre(textValidator{keepSpace: true}),
					mapvalidator.ValueStringsAre(textValidator{keepSpace: true}),
				},
			},
			"secret": schema.StringAttribute{
				Description: "The token secret (`tg_…`). Sensitive. Set at create and at each rotation; null after import, " +
					"because the service stores only a keyed hash and cannot return it again.",
				Computed:      true,
				Sensitive:     true,
				PlanModifiers: keep,
			},
			"fingerprint": schema.StringAttribute{
				Description:   "Keyed, non-reversible reference to the current secret; safe to log and to compare with audit records.",
				Computed:      true,
				PlanModifiers: keep,
			},
			"status": schema.StringAttribute{
				Description:   "`active`, `expired` or `revoked`. A token that is no longer active is planned for replacement.",
				Computed:      true,
				PlanModifiers: keep,
			},
			"created_at": schema.StringAttribute{
				Description:   "When the token was created (RFC 3339).",
				Computed:      true,
				PlanModifiers: keep,
			},
			"expires_at": schema.StringAttribute{
				Description:   "When the token expires (RFC 3339). Moves later only through a renewal.",
				Computed:      true,
				PlanModifiers: keep,
			},
			"rotated_at": schema.StringAttribute{
				Description:   "When the secret was last rotated (RFC 3339); null until the first rotation.",
				Computed:      true,
				PlanModifiers: keep,
			},
			"last_used_at": schema.StringAttribute{
				Description: "When the token was last verified by the service (RFC 3339); null if never used. Refreshed " +
					"from the service at every plan, so the policy gate warns about an active token unused for more than " +
					"30 days (CPRA-MIN-003; the threshold is data.tokenguard.thresholds.unused_max_days).",
				Computed: true,
			},
			"secret_version": schema.Int64Attribute{
				Description:   "Number of the current secret: 1 at create, increased by each rotation.",
				Computed:      true,
				PlanModifiers: []planmodifier.Int64{int64planmodifier.UseStateForUnknown()},
			},
		},
	}
}

// UpgradeState upgrades states of earlier schema versions. Version 0 (before versions were
// kept) has the shape of version 1: its values carry over as they are; the next refresh
// records the plan basis that version 1 keeps in private state.
func (r *apiTokenResource) UpgradeState(ctx context.Context) map[int64]resource.StateUpgrader {
	var current resource.SchemaResponse
	r.Schema(ctx, resource.SchemaRequest{}, &current)
	v0 := current.Schema
	v0.Version = 0
	return map[int64]resource.StateUpgrader{
		0: {
			PriorSchema: &v0,
			StateUpgrader: func(_ context.Context, req resource.UpgradeStateRequest, resp *resource.UpgradeStateResponse) {
				resp.State.Raw = req.State.Raw.Copy()
			},
		},
	}
}

func (r *apiTokenResource) IdentitySchema(_ context.Context, _ resource.IdentitySchemaRequest, resp *resource.IdentitySchemaResponse) {
	resp.IdentitySchema = identityschema.Schema{
		Attributes: map[string]identityschema.Attribute{
			"id": identityschema.StringAttribute{
				Description:       "Token id (`tok_…`), stable across rotations.",
				RequiredForImport: true,
			},
		},
	}
}

func (r *apiTokenResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = configuredData(req.ProviderData, &resp.Diagnostics)
}

// ValidateConfig checks the rules that span attributes.
func (r *apiTokenResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var cfg apiTokenModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if renewal, ok := renewalOf(ctx, cfg.Renewal, &resp.Diagnostics); ok && knownString(cfg.Owner) && knownString(renewal.ReviewedBy) &&
		strings.EqualFold(strings.TrimSpace(renewal.ReviewedBy.ValueString()), strings.TrimSpace(cfg.Owner.ValueString())) {
		resp.Diagnostics.AddAttributeError(path.Root("renewal").AtName("reviewed_by"), "Renewal Reviewer Is The Owner",
			"renewal.reviewed_by is "+strconv.Quote(cfg.Owner.ValueString())+", the token's owner. A renewal must be "+
				"reviewed by someone other than the owner (CPRA-RET-003): name the reviewer, for example your security team.")
	}
	if knownString(cfg.ReplaceBefore) && knownString(cfg.TTL) {
		before, err1 := token.ParseDuration(cfg.ReplaceBefore.ValueString())
		ttl, err2 := token.ParseDuration(cfg.TTL.ValueString())
		if err1 == nil && err2 == nil && before >= ttl {
			resp.Diagnostics.AddAttributeError(path.Root("replace_before"), "Replace Window Not Shorter Than TTL",
				"replace_before ("+cfg.ReplaceBefore.ValueString()+") must be shorter than ttl ("+cfg.TTL.ValueString()+
					"), otherwise every plan would replace the token. Shorten replace_before.")
		}
	}
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
		r.checkPolicy(ctx, plannedToken{actions: []string{"create"}, before: req.State.Raw, after: req.Plan.Raw}, stage, &resp.Diagnostics)
		return
	}
	var plan, state apiTokenModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	basis, timed := loadPlanBasis(ctx, req.Private, &resp.Diagnostics)
	name := "tokenguard_api_token " + strconv.Quote(state.Name.ValueString()) + " (" + state.ID.ValueString() + ")"

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
		plan.Fingerprint = types.StringUnknown()
		plan.RotatedAt = types.StringUnknown()
		plan.SecretVersion = types.Int64Unknown()
		resp.Diagnostics.AddWarning("Secret Will Rotate", name+": "+why+" Apply rotates the secret in place: id stays, "+
			"secret, fingerprint, rotated_at and secret_version change"+overlapNote(ctx, plan.Rotation, &resp.Diagnostics)+".")
	}
	if renewalBlockRemovedOnly(ctx, req.Config, state, plan, &resp.Diagnostics) {
		// Removing the renewal block changes nothing (see renewalKept); last_used_at, which
		// the framework plans unknown on any difference from configuration, stays as it is.
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

// undeclaredReplacementKey marks, in the private state of a plan, a replacement that the
// configuration did not ask for (expired, revoked outside Terraform, inside replace_before).
const undeclaredReplacementKey = "undeclared_replacement"

// replaceActions are the plan JSON actions of a replacement. Terraform plans the new object a
// second time, as a create, and keeps only the errors of that second plan: the gate reports
// findings on the first, so each is shown once.
var replaceActions = []string{"delete", "create"}

// checkPolicy runs the provider's policy gate on a planned change.
func (r *apiTokenResource) checkPolicy(ctx context.Context, c plannedToken, stage gateStage, diags *diag.Diagnostics) {
	if r.data == nil || r.data.gate == nil {
		return // not configured yet: the values are checked at apply
	}
	r.schemaOnce.Do(func() {
		var sr resource.SchemaResponse
		r.Schema(ctx, resource.SchemaRequest{}, &sr)
		r.schema = sr.Schema
	})
	r.data.gate.check(ctx, r.schema, c, stage, diags)
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
	r.checkPolicy(ctx, plannedToken{actions: []string{"create"}, before: tftypes.NewValue(req.Plan.Raw.Type(), nil), after: req.Plan.Raw}, atApply, &resp.Diagnostics)
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
	plan.Secret = types.StringValue(tok.Secret)
	applyToken(ctx, &plan, tok, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	planBasis{RefreshedAt: r.now()}.save(ctx, resp.Private, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, undeclaredReplacementKey, nil)...)
	// A new token starts with no used review but the one configured: a renewal block present
	// at create (or carried into a replacement) approves no later ttl increase of this token.
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, usedReviewsKey, nil)...)
	if ren, ok := renewalOf(ctx, plan.Renewal, &resp.Diagnostics); ok {
		recordReview(ctx, resp.Private, ren, plan.TTL.ValueString(), &resp.Diagnostics)
	}
	setIdentity(ctx, resp.Identity, tok.ID, &resp.Diagnostics)
}

// createOverExpiredHolder handles a create refused because a token of the owner that is not
// revoked holds the name. When that token has expired it can no longer be verified: it is
// revoked, which frees the name, and the create is sent again (this is how an expired token is
// replaced under lifecycle create_before_destroy, where the new token is created before the
// old one is destroyed). An active holder is reported with what to do, and nothing changes.
// done is false when a diagnostic was added; otherwise tok and err are the retried create's.
func (r *apiTokenResource) createOverExpiredHolder(ctx context.Context, req client.CreateTokenRequest, diags *diag.Diagnostics) (tok client.Token, done bool, err error) {
	holder, found, err := liveTokenNamed(ctx, r.data.client, req.Owner, req.Name)
	if err != nil {
		addClientError(diags, "Unable To Create Token", "looking up the token that holds the name "+strconv.Quote(req.Name), err)
		return client.Token{}, false, nil
	}
	if found && holder.Status == "active" {
		if full, getErr := r.data.client.GetToken(ctx, holder.ID); getErr == nil {
			if age, ok := orphanOf(full, req, r.now()); ok {
				return r.adoptOrphan(ctx, full, age, diags)
			}
		}
		diags.AddAttributeError(path.Root("name"), "Token Name In Use",
			fmt.Sprintf("Owner %q already has an active token named %q (%s), and a name is unique per owner among tokens that "+
				"are not revoked. If this is a replacement under lifecycle create_before_destroy, the new token is created while "+
				"the old one is still active: remove create_before_destroy (Terraform then revokes the old token first), or "+
				"make name differ between the old and the new token. If another Terraform state manages %s (another workspace "+
				"or root module with this configuration), do not import it here: one token must be managed by one state only, "+
				"or each apply would rotate, renew or revoke the other state's secret. Give this configuration's token a name of "+
				"its own, for example with terraform.workspace in it. Import %s only if no state manages it.",
				req.Owner, req.Name, holder.ID, holder.ID, holder.ID))
		return client.Token{}, false, nil
	}
	if found {
		if _, err := r.data.client.RevokeToken(ctx, holder.ID); err != nil && !errors.Is(err, client.ErrNotFound) {
			addClientError(diags, "Unable To Create Token", "revoking the expired token "+holder.ID+" that holds the name "+strconv.Quote(req.Name), err)
			return client.Token{}, false, nil
		}
	}
	// A new idempotency key: the refused create issued nothing.
	tok, err = r.data.client.CreateToken(ctx, req, "")
	return tok, true, err
}

// adoptOrphan takes over the orphan t of an interrupted create and rotates it: the secret it
// was issued with went to the apply that was interrupted and is lost, so state gets a new one.
func (r *apiTokenResource) adoptOrphan(ctx context.Context, t client.Token, age time.Duration, diags *diag.Diagnostics) (client.Token, bool, error) {
	// The service allows no zero overlap override: the lost secret ends with the token's own.
	rotated, err := r.data.client.RotateToken(ctx, t.ID, client.RotateRequest{}, "")
	if err != nil {
		addClientError(diags, "Unable To Create Token", "rotating the token "+t.ID+" left by an interrupted apply", err)
		return client.Token{}, false, nil
	}
	diags.AddAttributeWarning(path.Root("name"), "Token Adopted From An Interrupted Apply",
		fmt.Sprintf("Token %s named %q was issued %s ago by a create whose answer never reached Terraform (an interrupted or "+
			"timed-out apply): it matches this configuration exactly, holds its first secret and has never been used. It is "+
			"taken over instead of failing on its name, and its secret was rotated so that state holds one; the first secret, "+
			"which nobody received, stops working %s.", t.ID, t.Name, age.Round(time.Second), lostSecretEnd(rotated)))
	return rotated, true, nil
}

// liveTokenNamed finds the owner's token called name that is not revoked.
func liveTokenNamed(ctx context.Context, c *client.Client, owner, name string) (client.Token, bool, error) {
	var found client.Token
	ok := false
	err := eachToken(ctx, c, client.ListTokensOptions{Owner: owner}, func(t client.Token) bool {
		if t.Name == name && t.Status != "revoked" {
			found, ok = t, true
			return false
		}
		return true
	})
	return found, ok, err
}

func (r *apiTokenResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	if !r.ready(&resp.Diagnostics) {
		return
	}
	var state apiTokenModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
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
	priorVersion, hadSecret := state.SecretVersion, knownString(state.Secret)
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
	if state.TTL.IsNull() {
		// Import: ttl is required but not stored by the service; derive it from the lifetime.
		// The configured ttl replaces it at the next apply, without renewal or replacement.
		state.TTL = durationOf(derivedTTL(tok.CreatedAt, tok.ExpiresAt))
		basis.TTLDerived = true
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
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
	r.checkPolicy(ctx, plannedToken{actions: []string{"update"}, before: req.State.Raw, after: req.Plan.Raw}, atApply, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	id := state.ID.ValueString()
	var tok client.Token
	called := false

	if upd, changed := r.updateRequest(ctx, plan, state, &resp.Diagnostics); changed && !resp.Diagnostics.HasError() {
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
		t, err := r.data.client.RenewToken(ctx, id, client.RenewRequest{
			TTL:        plan.TTL.ValueString(),
			Reason:     renewal.Reason.ValueString(),
			ReviewedBy: renewal.ReviewedBy.ValueString(),
		}, "")
		if err != nil {
			addClientError(&resp.Diagnostics, "Unable To Renew Token", "renewing token "+id, err)
			return
		}
		recordReview(ctx, resp.Private, renewal, plan.TTL.ValueString(), &resp.Diagnostics)
		tok, called = t, true
	}

	if plan.Secret.IsUnknown() {
		rotate := client.RotateRequest{}
		if rot, ok := rotationOf(ctx, plan.Rotation, &resp.Diagnostics); ok && knownString(rot.Overlap) {
			rotate.Overlap = rot.Overlap.ValueString()
		}
		t, err := r.data.client.RotateToken(ctx, id, rotate, "")
		if err != nil {
			addClientError(&resp.Diagnostics, "Unable To Rotate Token", "rotating token "+id, err)
			return
		}
		tok, called = t, true
		plan.Secret = types.StringValue(t.Secret)
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
func (r *apiTokenResource) updateRequest(ctx context.Context, plan, state apiTokenModel, diags *diag.Diagnostics) (client.UpdateTokenRequest, bool) {
	var upd client.UpdateTokenRequest
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
			rot = &client.Rotation{} // clears the policy
		}
		upd.Rotation, changed = rot, true
	}
	return upd, changed
}

// applyToken copies what the service returned into m, keeping the practitioner's spelling of
// durations and the null/empty distinction of optional collections.
func applyToken(ctx context.Context, m *apiTokenModel, t client.Token, diags *diag.Diagnostics) {
	m.apply(ctx, t, diags)
	m.Rotation = rotationValue(ctx, t.Rotation, m.Rotation, diags)
	if m.Secret.IsUnknown() {
		m.Secret = types.StringNull()
	}
	if m.RotationTriggers.IsUnknown() {
		m.RotationTriggers = types.MapNull(types.StringType)
	}
}

func setIdentity(ctx context.Context, identity *tfsdk.ResourceIdentity, id string, diags *diag.Diagnostics) {
	if identity == nil {
		return
	}
	diags.Append(identity.Set(ctx, apiTokenIdentityModel{ID: types.StringValue(id)})...)
}

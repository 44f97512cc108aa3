// The schema of tokenguard_api_token and its state upgraders.

package provider

import (
	"context"
	"strconv"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/identityschema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/token"
)

// apiTokenSchemaVersion is the version of the resource's state. Raise it with every change of
// the state's shape, and add an upgrader from the previous version to UpgradeState.
const apiTokenSchemaVersion = 2

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
					"token when a subject asks for deletion. Encrypted at rest by the service. Changing it replaces the token. " +
					"Sensitive: plans and `terraform show` print `(sensitive value)` instead of the subjects (they are personal " +
					"information); the policy checks still judge them (CPRA-DEL-001). Terraform's `plan -generate-config-out` " +
					"writes a sensitive attribute as `null`, so the plan of an import block for a token bound to subjects is refused " +
					"while the configuration sets no `data_subjects` (it would replace the token with one bound to none): write the " +
					"resource blocks with `tokenguard inventory --generate-imports imports.tf --generate-config-out tokens.tf`, or copy " +
					"the subjects from `tokenguard token show ID`.",
				Optional:      true,
				Sensitive:     true,
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
					"Spellings of the same span are equal (`20d`, `480h`, `480h0m0s`): changing only the spelling plans nothing, " +
					"and state keeps the spelling it has (so do `replace_before` and `rotation`). After import, `ttl` is derived from `expires_at - created_at` until the next apply " +
					"records the configured `ttl` in its place, without renewal or replacement, when the token could have that ttl (at least " +
					"its remaining life); a shorter `ttl` replaces the token, so it never outlives the configured one.",
				Required:   true,
				CustomType: durationType{},
				Validators: []validator.String{durationValidator{max: defaultMaxTTL}},
				PlanModifiers: []planmodifier.String{spellingKept{}, stringplanmodifier.RequiresReplaceIf(ttlLowered,
					"Lowering ttl replaces the token.", "Lowering `ttl` replaces the token.")},
			},
			"replace_before": schema.StringAttribute{
				Description: "Plan a replacement of the token once it is within this duration of `expires_at` (Go duration " +
					"or whole days), so a new token is issued before the old one expires. Provider-side only. Judged at the instant " +
					"of the plan's refresh, so a saved plan applies as planned; a `replace_before` not known until apply replaces the token.",
				Optional:      true,
				CustomType:    durationType{},
				Validators:    []validator.String{durationValidator{}},
				PlanModifiers: []planmodifier.String{spellingKept{}},
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
						Description:   "Rotate the secret when this much time has passed since the last rotation (Go duration or whole days).",
						Required:      true,
						CustomType:    durationType{},
						Validators:    []validator.String{durationValidator{}},
						PlanModifiers: []planmodifier.String{spellingKept{}},
					},
					"overlap": schema.StringAttribute{
						Description: "How long the previous secret keeps working after a rotation, for a zero-downtime " +
							"hand-over (Go duration or whole days). Omit for no overlap.",
						Optional:      true,
						CustomType:    durationType{},
						Validators:    []validator.String{durationValidator{}},
						PlanModifiers: []planmodifier.String{spellingKept{}},
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
			"recipient": schema.StringAttribute{
				Description: "An age X25519 public key (`age1…`, from `age-keygen`). When set, the token service encrypts " +
					"each new secret to it and returns only `sealed_secret`: `secret` stays null, so state never holds the " +
					"secret in clear. Decrypt with `terraform output -raw <output of sealed_secret> | age -d -i key.txt`. " +
					"Changing, adding or removing it rotates the secret in place (the service cannot re-seal a secret it " +
					"does not keep). Recommended for every token reaching sensitive categories (CPRA-SEC-003).",
				Optional:   true,
				Validators: []validator.String{recipientValidator{}},
			},
			"sealed_secret": schema.StringAttribute{
				Description: "The token secret encrypted to `recipient`, as an ASCII-armored age file; set at create and at " +
					"each rotation when `recipient` is set, null otherwise. Not sensitive: only the holder of the identity of " +
					"`recipient` can read it.",
				Computed:      true,
				PlanModifiers: keep,
			},
			"secret": schema.StringAttribute{
				Description: "The token secret (`tg_…`). Sensitive. Set at create and at each rotation; null after import, " +
					"because the service stores only a keyed hash and cannot return it again, and null when `recipient` is " +
					"set (see `sealed_secret`).",
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
// records the plan basis that version 1 keeps in private state. Version 2 adds recipient and
// sealed_secret: a version 0 or 1 state has neither, and they are null after the upgrade.
func (r *apiTokenResource) UpgradeState(ctx context.Context) map[int64]resource.StateUpgrader {
	var current resource.SchemaResponse
	r.Schema(ctx, resource.SchemaRequest{}, &current)
	v0 := current.Schema
	v0.Version = 0
	// The current schema reads an older state: the attributes it lacks decode as null.
	carry := func(_ context.Context, req resource.UpgradeStateRequest, resp *resource.UpgradeStateResponse) {
		resp.State.Raw = req.State.Raw.Copy()
	}
	v1 := current.Schema
	v1.Version = 1
	return map[int64]resource.StateUpgrader{
		0: {PriorSchema: &v0, StateUpgrader: carry},
		1: {PriorSchema: &v1, StateUpgrader: carry},
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

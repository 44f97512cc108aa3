package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/list"
	"github.com/hashicorp/terraform-plugin-framework/list/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

var (
	_ list.ListResource              = (*apiTokenListResource)(nil)
	_ list.ListResourceWithConfigure = (*apiTokenListResource)(nil)
)

// NewAPITokenListResource returns the tokenguard_api_token list resource, used by
// `terraform query` (Terraform 1.14 and later) to find tokens and generate import blocks.
func NewAPITokenListResource() list.ListResource {
	return &apiTokenListResource{}
}

// apiTokenListResource lists existing tokens as tokenguard_api_token instances.
type apiTokenListResource struct {
	data *providerData
}

func (l *apiTokenListResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_api_token"
}

func (l *apiTokenListResource) ListResourceConfigSchema(_ context.Context, _ list.ListResourceSchemaRequest, resp *list.ListResourceSchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "Lists tokenguard API tokens for `terraform query`, each with its identity (`id`) so Terraform can " +
			"generate `import` blocks. Every filter that is set must match. Secrets are never listed.",
		Attributes: map[string]schema.Attribute{
			"owner": schema.StringAttribute{
				Description: "Only tokens of this owner.",
				Optional:    true,
			},
			"status": schema.StringAttribute{
				Description: "Only tokens with this status: `active`, `expired` or `revoked`.",
				Optional:    true,
				Validators:  []validator.String{stringvalidator.OneOf(tokenStatuses...)},
			},
			"data_category": schema.StringAttribute{
				Description: "Only tokens that reach this CPRA data category.",
				Optional:    true,
				Validators:  []validator.String{categoryValidator{}},
			},
		},
	}
}

func (l *apiTokenListResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	l.data = configuredData(req.ProviderData, &resp.Diagnostics)
}

func (l *apiTokenListResource) List(ctx context.Context, req list.ListRequest, stream *list.ListResultsStream) {
	var cfg tokenFilterModel
	diags := req.Config.Get(ctx, &cfg)
	if diags.HasError() {
		stream.Results = list.ListResultsStreamDiagnostics(diags)
		return
	}
	if !providerReady(l.data, &diags) {
		stream.Results = list.ListResultsStreamDiagnostics(diags)
		return
	}
	opts := cfg.options()
	stream.Results = func(push func(list.ListResult) bool) {
		var emitted int64
		err := eachToken(ctx, l.data.client, opts, func(t wire.Token) bool {
			if req.Limit > 0 && emitted >= req.Limit {
				return false
			}
			emitted++
			return push(l.result(ctx, req, t))
		})
		if err != nil {
			var d diag.Diagnostics
			addClientError(&d, "Unable To List Tokens", "listing tokens", err)
			push(list.ListResult{Diagnostics: d})
		}
	}
}

// result builds one list result: identity always, the full resource when Terraform asks.
func (l *apiTokenListResource) result(ctx context.Context, req list.ListRequest, t wire.Token) list.ListResult {
	res := req.NewListResult(ctx)
	res.DisplayName = t.Name + " (" + t.ID + ")"
	res.Diagnostics.Append(res.Identity.Set(ctx, apiTokenIdentityModel{ID: types.StringValue(t.ID)})...)
	if req.IncludeResource {
		m := nullTokenModel()
		applyToken(ctx, &m, t, &res.Diagnostics)
		m.TTL = durationOf(derivedTTL(t.CreatedAt, t.ExpiresAt))
		res.Diagnostics.Append(res.Resource.Set(ctx, &m)...)
	}
	return res
}

// nullTokenModel is an apiTokenModel with every attribute null and typed, the starting point
// of a token that Terraform does not manage yet (list results).
func nullTokenModel() apiTokenModel {
	return apiTokenModel{
		tokenMetadata:    nullMetadata(),
		NamePrefix:       types.StringNull(),
		Timeouts:         timeouts.Value{Object: types.ObjectNull(timeoutsAttrTypes)},
		TTL:              durationNull(),
		ReplaceBefore:    durationNull(),
		Rotation:         types.ObjectNull(rotationAttrTypes),
		RotationTriggers: types.MapNull(types.StringType),
		Renewal:          types.ObjectNull(renewalAttrTypes),
		Secret:           types.StringNull(),
	}
}

// timeoutsAttrTypes are the attribute types of the resource's timeouts attribute.
var timeoutsAttrTypes = map[string]attr.Type{
	"create": types.StringType, "read": types.StringType, "update": types.StringType, "delete": types.StringType,
}

package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

var (
	_ datasource.DataSource              = (*apiTokensDataSource)(nil)
	_ datasource.DataSourceWithConfigure = (*apiTokensDataSource)(nil)
)

// tokenStatuses are the status values the service reports and filters by.
var tokenStatuses = []string{"active", "expired", "revoked"}

// NewAPITokensDataSource returns the tokenguard_api_tokens data source.
func NewAPITokensDataSource() datasource.DataSource {
	return &apiTokensDataSource{}
}

// apiTokensDataSource lists tokens for inventory, filtered by owner, status, data category,
// data subject and inactivity.
type apiTokensDataSource struct {
	data *providerData
}

// apiTokensModel is the configuration and state of tokenguard_api_tokens.
type apiTokensModel struct {
	tokenFilterModel
	Subject   types.String `tfsdk:"subject"`
	UnusedFor types.String `tfsdk:"unused_for"`
	IDs       types.List   `tfsdk:"ids"`
	Tokens    types.List   `tfsdk:"tokens"`
}

func (d *apiTokensDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_api_tokens"
}

func (d *apiTokensDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "Lists tokenguard API tokens for inventory (supports the inventory of 11 CCR 7123(c)(4)(A) and answering Cal. Civ. Code 1798.110 and 1798.115 requests): every filter that is set must " +
			"match. Secrets are never listed. Data subjects are not part of the listing; filter by `subject` to find the " +
			"tokens bound to one consumer, for example when answering a deletion request.",
		Attributes: map[string]schema.Attribute{
			"owner": schema.StringAttribute{
				Description: "Only tokens of this owner (compared case-insensitively).",
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
			"subject": schema.StringAttribute{
				Description: "Only tokens bound to this data subject, for example `customer:4411`.",
				Optional:    true,
				Validators:  []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"unused_for": schema.StringAttribute{
				Description: "Only active tokens not used for at least this long (Go duration or whole days), never-used tokens " +
					"included: candidates for revocation under data minimisation (CPRA-MIN-003). Revoked and expired tokens are " +
					"listed only when `status` asks for them.",
				Optional:   true,
				Validators: []validator.String{durationValidator{}},
			},
			"ids": schema.ListAttribute{
				Description: "Ids of the matching tokens, in the service's order (by id).",
				Computed:    true,
				ElementType: types.StringType,
			},
			"tokens": schema.ListNestedAttribute{
				Description: "The matching tokens, in the same order as `ids`.",
				Computed:    true,
				NestedObject: schema.NestedAttributeObject{
					Attributes: tokenInfoAttributes("data_subjects"),
				},
			},
		},
	}
}

func (d *apiTokensDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.data = configuredData(req.ProviderData, &resp.Diagnostics)
}

func (d *apiTokensDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	if !providerReady(d.data, &resp.Diagnostics) {
		return
	}
	var m apiTokensModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	opts := m.options()
	opts.Subject = m.Subject.ValueString()
	opts.UnusedFor = m.UnusedFor.ValueString()
	ids := []string{}
	items := []types.Object{}
	err := eachToken(ctx, d.data.client, opts, func(t wire.Token) bool {
		ids = append(ids, t.ID)
		items = append(items, tokenInfoObject(ctx, tokenInfo(ctx, t, &resp.Diagnostics), &resp.Diagnostics, "data_subjects"))
		return true
	})
	if err != nil {
		addClientError(&resp.Diagnostics, "Unable To List Tokens", "listing tokens", err)
		return
	}
	idList, diags := types.ListValueFrom(ctx, types.StringType, ids)
	resp.Diagnostics.Append(diags...)
	tokenList, diags := types.ListValueFrom(ctx, types.ObjectType{AttrTypes: tokenInfoAttrTypesWithout("data_subjects")}, items)
	resp.Diagnostics.Append(diags...)
	m.IDs, m.Tokens = idList, tokenList
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

package provider

import (
	"context"
	"errors"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

var (
	_ datasource.DataSource                   = (*apiTokenDataSource)(nil)
	_ datasource.DataSourceWithConfigure      = (*apiTokenDataSource)(nil)
	_ datasource.DataSourceWithValidateConfig = (*apiTokenDataSource)(nil)
)

// NewAPITokenDataSource returns the tokenguard_api_token data source.
func NewAPITokenDataSource() datasource.DataSource {
	return &apiTokenDataSource{}
}

// apiTokenDataSource reads one token's metadata, by id or by owner and name.
type apiTokenDataSource struct {
	data *providerData
}

// tokenInfoAttributes is the computed schema of tokenInfoModel, minus the attributes the
// caller declares itself (lookup keys).
func tokenInfoAttributes(except ...string) map[string]schema.Attribute {
	str := func(d string) schema.StringAttribute { return schema.StringAttribute{Description: d, Computed: true} }
	set := func(d string) schema.SetAttribute {
		return schema.SetAttribute{Description: d, Computed: true, ElementType: types.StringType}
	}
	attrs := map[string]schema.Attribute{
		"id":              str("Token id (`tok_…`), stable across rotations."),
		"name":            str("Human name of the token, unique per owner."),
		"owner":           str("Accountable team or person."),
		"purpose":         str("Declared purpose of the token."),
		"scopes":          set("Permissions the token grants."),
		"data_categories": set("CPRA data categories the token reaches; empty means no personal information."),
		"data_subjects": schema.SetAttribute{
			Description: "Consumers or tenants the token acts for. Sensitive: never printed by Terraform (personal information).",
			Computed:    true, Sensitive: true, ElementType: types.StringType,
		},
		"audiences":         set("Systems the token is valid for."),
		"labels":            schema.MapAttribute{Description: "Free-form labels.", Computed: true, ElementType: types.StringType},
		"rotation_interval": str("Rotation interval of the token's rotation policy; null when it has none."),
		"rotation_overlap":  str("How long the previous secret keeps working after a rotation; null when there is no overlap."),
		"fingerprint":       str("Keyed, non-reversible reference to the current secret; safe to log."),
		"status":            str("`active`, `expired` or `revoked`."),
		"created_at":        str("When the token was created (RFC 3339)."),
		"expires_at":        str("When the token expires (RFC 3339)."),
		"rotated_at":        str("When the secret was last rotated (RFC 3339); null until the first rotation."),
		"last_used_at":      str("When the token was last verified (RFC 3339); null if never used."),
		"secret_version":    schema.Int64Attribute{Description: "Number of the current secret: 1 at create, increased by each rotation.", Computed: true},
	}
	for _, name := range except {
		delete(attrs, name)
	}
	return attrs
}

func (d *apiTokenDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_api_token"
}

func (d *apiTokenDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	attrs := tokenInfoAttributes("id", "name", "owner")
	attrs["id"] = schema.StringAttribute{
		Description: "Token id (`tok_…`) to look up. Set either `id`, or `owner` and `name`.",
		Optional:    true,
		Computed:    true,
	}
	attrs["owner"] = schema.StringAttribute{
		Description: "Owner of the token to look up, together with `name` (compared case-insensitively).",
		Optional:    true,
		Computed:    true,
	}
	attrs["name"] = schema.StringAttribute{
		Description: "Name of the token to look up, together with `owner`: the token of that name that is not revoked, else the most recently created revoked one.",
		Optional:    true,
		Computed:    true,
	}
	resp.Schema = schema.Schema{
		Description: "Reads the metadata of one tokenguard API token, by `id` or by `owner` and `name`. By owner and " +
			"name it returns the token that is not revoked (active or expired; there is at most one), else the most " +
			"recently created revoked one, so check `status`. The secret is never readable: the service keeps only a " +
			"keyed hash of it.",
		Attributes: attrs,
	}
}

func (d *apiTokenDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.data = configuredData(req.ProviderData, &resp.Diagnostics)
}

// ValidateConfig requires either id, or owner and name together.
func (d *apiTokenDataSource) ValidateConfig(ctx context.Context, req datasource.ValidateConfigRequest, resp *datasource.ValidateConfigResponse) {
	var cfg tokenInfoModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() || cfg.ID.IsUnknown() || cfg.Owner.IsUnknown() || cfg.Name.IsUnknown() {
		return
	}
	switch {
	case !cfg.ID.IsNull() && (!cfg.Name.IsNull() || !cfg.Owner.IsNull()):
		resp.Diagnostics.AddAttributeError(path.Root("id"), "Conflicting Token Lookup",
			"Set either id, or owner and name, not both. Remove owner and name to look the token up by id.")
	case cfg.ID.IsNull() && (cfg.Owner.IsNull() || cfg.Name.IsNull()):
		resp.Diagnostics.AddAttributeError(path.Root("id"), "Missing Token Lookup",
			"Set id, or both owner and name, to say which token to read.")
	}
}

func (d *apiTokenDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	if !providerReady(d.data, &resp.Diagnostics) {
		return
	}
	var cfg tokenInfoModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var tok wire.Token
	if !cfg.ID.IsNull() {
		t, err := d.data.client.GetToken(ctx, cfg.ID.ValueString())
		if errors.Is(err, client.ErrNotFound) {
			resp.Diagnostics.AddAttributeError(path.Root("id"), "Token Not Found",
				"No token with id "+cfg.ID.ValueString()+" exists in the token service. Check the id.")
			return
		}
		if err != nil {
			addClientError(&resp.Diagnostics, "Unable To Read Token", "reading token "+cfg.ID.ValueString(), err)
			return
		}
		tok = t
	} else {
		t, found, err := findByOwnerAndName(ctx, d.data.client, cfg.Owner.ValueString(), cfg.Name.ValueString())
		if err != nil {
			addClientError(&resp.Diagnostics, "Unable To List Tokens", "listing the tokens of "+cfg.Owner.ValueString(), err)
			return
		}
		if !found {
			resp.Diagnostics.AddAttributeError(path.Root("name"), "Token Not Found",
				"Owner "+cfg.Owner.ValueString()+" has no token named "+cfg.Name.ValueString()+". Check owner and name.")
			return
		}
		tok = t
	}
	m := tokenInfo(ctx, tok, &resp.Diagnostics)
	if !cfg.Owner.IsNull() {
		m.Owner = cfg.Owner // keep the spelling of the lookup key; owners compare case-insensitively
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// findByOwnerAndName pages through the owner's tokens called name and returns the one that is
// not revoked (active or expired; the service keeps at most one per owner and name), else the
// most recently created revoked one (a name is reused by the token that replaces a revoked
// one), as the service's own lookup by name does.
func findByOwnerAndName(ctx context.Context, c *client.Client, owner, name string) (wire.Token, bool, error) {
	var found wire.Token
	ok := false
	err := eachToken(ctx, c, wire.ListTokensOptions{Owner: owner}, func(t wire.Token) bool {
		if t.Name != name || !strings.EqualFold(strings.TrimSpace(t.Owner), strings.TrimSpace(owner)) {
			return true
		}
		if t.Status != "revoked" {
			found, ok = t, true
			return false
		}
		if !ok || t.CreatedAt.After(found.CreatedAt) || (t.CreatedAt.Equal(found.CreatedAt) && t.ID > found.ID) {
			found, ok = t, true
		}
		return true
	})
	return found, ok, err
}

// eachToken calls fn for every token matching opts, following pages, until fn returns false.
func eachToken(ctx context.Context, c *client.Client, opts wire.ListTokensOptions, fn func(wire.Token) bool) error {
	for {
		page, err := c.ListTokens(ctx, opts)
		if err != nil {
			return err
		}
		for _, t := range page.Tokens {
			if !fn(t) {
				return nil
			}
		}
		if page.NextPageToken == "" || page.NextPageToken == opts.PageToken {
			return nil
		}
		opts.PageToken = page.NextPageToken
	}
}

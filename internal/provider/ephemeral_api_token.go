package provider

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"math/big"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
)

var (
	_ ephemeral.EphemeralResource              = (*apiTokenEphemeralResource)(nil)
	_ ephemeral.EphemeralResourceWithConfigure = (*apiTokenEphemeralResource)(nil)
	_ ephemeral.EphemeralResourceWithClose     = (*apiTokenEphemeralResource)(nil)
)

// Lifetime bounds of an ephemeral token: it lives for one Terraform run.
const (
	ephemeralDefaultTTL = 15 * time.Minute
	ephemeralMaxTTL     = time.Hour
	// privateTokenKey is the private-data key under which Open hands the token id to Close.
	privateTokenKey = "token"
)

// NewAPITokenEphemeralResource returns the tokenguard_api_token ephemeral resource.
func NewAPITokenEphemeralResource() ephemeral.EphemeralResource {
	return &apiTokenEphemeralResource{}
}

// apiTokenEphemeralResource issues a short-lived token for one Terraform run and revokes it
// when Terraform closes the resource, so the secret never reaches state or plan files.
type apiTokenEphemeralResource struct {
	data *providerData
}

// apiTokenEphemeralModel is the configuration and result of the ephemeral resource.
type apiTokenEphemeralModel struct {
	tokenSpec
	TTL         types.String `tfsdk:"ttl"`
	ID          types.String `tfsdk:"id"`
	IssuedName  types.String `tfsdk:"issued_name"`
	Secret      types.String `tfsdk:"secret"`
	Fingerprint types.String `tfsdk:"fingerprint"`
	ExpiresAt   types.String `tfsdk:"expires_at"`
}

// ephemeralPrivate is what Open keeps for Close.
type ephemeralPrivate struct {
	ID string `json:"id"`
}

func (e *apiTokenEphemeralResource) Metadata(_ context.Context, req ephemeral.MetadataRequest, resp *ephemeral.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_api_token"
}

func (e *apiTokenEphemeralResource) Schema(_ context.Context, _ ephemeral.SchemaRequest, resp *ephemeral.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "Issues a short-lived tokenguard API token for one Terraform run (for example to configure another " +
			"provider) and revokes it when Terraform is done with it. The secret never reaches the plan or state. " +
			"Terraform 1.10 or later.",
		Attributes: map[string]schema.Attribute{
			"name": schema.StringAttribute{
				Description: "Name prefix. Names are unique per owner, so each run issues a token named `<name>-<random suffix>` (see `issued_name`).",
				Required:    true,
				Validators:  []validator.String{stringvalidator.LengthBetween(1, 100), textValidator{}},
			},
			"owner": schema.StringAttribute{
				Description: "Accountable team or person.",
				Required:    true,
				Validators:  []validator.String{stringvalidator.LengthAtLeast(1), textValidator{}},
			},
			"purpose": schema.StringAttribute{
				Description: "Specific statement of what the token is for in this run; generic words are rejected.",
				Required:    true,
				Validators:  []validator.String{purposeValidator{}, textValidator{}},
			},
			"scopes": schema.SetAttribute{
				Description: "Permissions the token grants. At least one.",
				Required:    true,
				ElementType: types.StringType,
				Validators:  []validator.Set{setvalidator.SizeAtLeast(1), setvalidator.ValueStringsAre(stringvalidator.LengthAtLeast(1), textValidator{noSpace: true})},
			},
			"data_categories": schema.SetAttribute{
				Description: "CPRA data categories the token reaches; `[]` declares no personal information.",
				Required:    true,
				ElementType: types.StringType,
				Validators:  []validator.Set{setvalidator.ValueStringsAre(categoryValidator{})},
			},
			"data_subjects": schema.SetAttribute{
				Description: "Consumers or tenants the token acts for. Sensitive: never printed by Terraform (personal information).",
				Optional:    true,
				Sensitive:   true,
				ElementType: types.StringType,
				Validators:  []validator.Set{setvalidator.ValueStringsAre(stringvalidator.LengthAtLeast(1), textValidator{})},
			},
			"audiences": schema.SetAttribute{
				Description: "Systems the token is valid for.",
				Optional:    true,
				ElementType: types.StringType,
				Validators:  []validator.Set{setvalidator.ValueStringsAre(stringvalidator.LengthAtLeast(1), textValidator{})},
			},
			"labels": schema.MapAttribute{
				Description: "Free-form labels.",
				Optional:    true,
				ElementType: types.StringType,
				Validators: []validator.Map{
					mapvalidator.KeysAre(textValidator{keepSpace: true}),
					mapvalidator.ValueStringsAre(textValidator{keepSpace: true}),
				},
			},
			"ttl": schema.StringAttribute{
				Description: "Lifetime of the token: a Go duration or whole days, default `15m`, at most `1h`. The token " +
					"is revoked when Terraform closes the resource, even before it expires.",
				Optional:   true,
				Validators: []validator.String{durationValidator{max: ephemeralMaxTTL}},
			},
			"id": schema.StringAttribute{
				Description: "Token id (`tok_…`).",
				Computed:    true,
			},
			"issued_name": schema.StringAttribute{
				Description: "Name the token was issued under: `name` with a random suffix.",
				Computed:    true,
			},
			"secret": schema.StringAttribute{
				Description: "The token secret. Sensitive; exists only during the run.",
				Computed:    true,
				Sensitive:   true,
			},
			"fingerprint": schema.StringAttribute{
				Description: "Keyed, non-reversible reference to the secret; safe to log.",
				Computed:    true,
			},
			"expires_at": schema.StringAttribute{
				Description: "When the token expires (RFC 3339).",
				Computed:    true,
			},
		},
	}
}

func (e *apiTokenEphemeralResource) Configure(_ context.Context, req ephemeral.ConfigureRequest, resp *ephemeral.ConfigureResponse) {
	e.data = configuredData(req.ProviderData, &resp.Diagnostics)
}

func (e *apiTokenEphemeralResource) Open(ctx context.Context, req ephemeral.OpenRequest, resp *ephemeral.OpenResponse) {
	if !providerReady(e.data, &resp.Diagnostics) {
		return
	}
	var m apiTokenEphemeralModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ttl := m.TTL.ValueString()
	if m.TTL.IsNull() {
		ttl = ephemeralDefaultTTL.String()
	}
	suffix, err := randomSuffix()
	if err != nil {
		resp.Diagnostics.AddError("Unable To Issue Ephemeral Token", "Generating a name suffix failed: "+err.Error()+". Run Terraform again.")
		return
	}
	createReq := m.createRequest(ctx, &resp.Diagnostics)
	createReq.Name += "-" + suffix
	createReq.TTL = ttl
	if resp.Diagnostics.HasError() {
		return
	}
	tok, err := e.data.client.CreateToken(ctx, createReq, "")
	if err != nil {
		addClientError(&resp.Diagnostics, "Unable To Issue Ephemeral Token", "issuing token "+createReq.Name, err)
		return
	}
	private, _ := json.Marshal(ephemeralPrivate{ID: tok.ID})
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateTokenKey, private)...)
	m.ID = types.StringValue(tok.ID)
	m.IssuedName = types.StringValue(tok.Name)
	m.Secret = types.StringValue(tok.Secret)
	m.Fingerprint = types.StringValue(tok.Fingerprint)
	m.ExpiresAt = timeValue(&tok.ExpiresAt)
	resp.Diagnostics.Append(resp.Result.Set(ctx, &m)...)
}

// Close revokes the token issued by Open.
func (e *apiTokenEphemeralResource) Close(ctx context.Context, req ephemeral.CloseRequest, resp *ephemeral.CloseResponse) {
	raw, diags := req.Private.GetKey(ctx, privateTokenKey)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() || raw == nil {
		return
	}
	var p ephemeralPrivate
	if err := json.Unmarshal(raw, &p); err != nil || p.ID == "" {
		resp.Diagnostics.AddError("Unable To Revoke Ephemeral Token",
			"The id of the token issued for this run could not be recovered; it expires by itself at its ttl. "+
				"Revoke it now with `tokenguard token revoke` if needed. This is a bug in the provider: please report it.")
		return
	}
	if e.data == nil {
		resp.Diagnostics.AddError("Unable To Revoke Ephemeral Token",
			"The provider is not configured, so token "+p.ID+" could not be revoked; it expires at its ttl. Revoke it with `tokenguard token revoke "+p.ID+"`.")
		return
	}
	if _, err := e.data.client.RevokeToken(ctx, p.ID); err != nil && !errors.Is(err, client.ErrNotFound) {
		addClientError(&resp.Diagnostics, "Unable To Revoke Ephemeral Token", "revoking token "+p.ID, err)
	}
}

// randomSuffix returns 8 random lowercase base-36 characters.
func randomSuffix() (string, error) {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
	out := make([]byte, 8)
	for i := range out {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			return "", err
		}
		out[i] = alphabet[n.Int64()]
	}
	return string(out), nil
}

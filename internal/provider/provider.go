// Package provider implements the tokenguard Terraform provider on terraform-plugin-framework:
// the tokenguard_api_token resource, its data sources, ephemeral resource and list resource.
package provider

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral"
	"github.com/hashicorp/terraform-plugin-framework/list"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/policy"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/token"
)

var (
	_ provider.Provider                       = (*tokenguardProvider)(nil)
	_ provider.ProviderWithEphemeralResources = (*tokenguardProvider)(nil)
	_ provider.ProviderWithListResources      = (*tokenguardProvider)(nil)
)

// Environment variables read when the matching provider attribute is not set.
const (
	envEndpoint = "TOKENGUARD_ENDPOINT"
	envToken    = "TOKENGUARD_TOKEN"
)

// New returns a constructor of the tokenguard provider for providerserver.Serve. version is
// the provider release, set at build time.
func New(version string) func() provider.Provider {
	return newWithClock(version, time.Now)
}

// newWithClock is New with an injected clock: the clock decides rotation and expiry at plan
// time, so tests drive it instead of waiting.
func newWithClock(version string, now func() time.Time) func() provider.Provider {
	return func() provider.Provider {
		return &tokenguardProvider{version: version, now: now}
	}
}

// tokenguardProvider is the provider implementation.
type tokenguardProvider struct {
	version string
	now     func() time.Time
	// engines holds the compiled policy bundle: compiled once per provider process and
	// policy configuration, shared by every resource.
	engines engineCache
}

// tokenguardProviderModel is the provider configuration.
type tokenguardProviderModel struct {
	Endpoint     types.String `tfsdk:"endpoint"`
	Token        types.String `tfsdk:"token"`
	CACertPEM    types.String `tfsdk:"ca_cert_pem"`
	InsecureHTTP types.Bool   `tfsdk:"insecure_http"`
	Policy       types.Object `tfsdk:"policy"`
	// RequestTimeout and Retries bound how long a call of the token service may take:
	// at most (Retries+1) × RequestTimeout plus the back-off between attempts.
	RequestTimeout types.String `tfsdk:"request_timeout"`
	Retries        types.Int64  `tfsdk:"retries"`
}

// providerData is what Configure hands every resource, data source, ephemeral and list resource.
type providerData struct {
	client *client.Client
	now    func() time.Time
	// gate is the plan-time CPRA policy gate; nil when the policy block is not known yet.
	gate *policyGate
}

func (p *tokenguardProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "tokenguard"
	resp.Version = p.version
}

func (p *tokenguardProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "The tokenguard provider manages API tokens of a tokenguard token service: " +
			"each token has a declared purpose, owner, data reach (CPRA data categories), expiry and rotation schedule.",
		Attributes: map[string]schema.Attribute{
			"endpoint": schema.StringAttribute{
				Description: "Base URL of the tokenguard token service, for example `https://tokens.example.com`. " +
					"Read from `" + envEndpoint + "` when not set. Plain `http://` is accepted only for a loopback " +
					"host (127.0.0.1, ::1, localhost) unless `insecure_http` is true.",
				Optional: true,
			},
			"token": schema.StringAttribute{
				Description: "Credential of the token service's management API: an `issuer` credential (made with " +
					"`tokenguard credential create --role issuer`, optionally `--owner` to manage one owner's tokens only) " +
					"or an admin credential. Read from `" + envToken + "` when not set; prefer the environment variable so " +
					"the credential stays out of configuration files.",
				Optional:  true,
				Sensitive: true,
			},
			"ca_cert_pem": schema.StringAttribute{
				Description: "PEM-encoded CA certificate(s) trusted for the service's TLS certificate, in addition " +
					"to the system roots. Use it for a service with a private CA.",
				Optional: true,
			},
			"insecure_http": schema.BoolAttribute{
				Description: "Allow a plain `http://` endpoint on a non-loopback host. Off by default: the admin " +
					"credential and every new secret would cross the network unencrypted.",
				Optional: true,
			},
			"request_timeout": schema.StringAttribute{
				Description: "How long one attempt of a call to the token service may take, from connecting to reading the whole " +
					"answer: a Go duration such as `10s` (default `" + client.DefaultTimeout.String() + "`). An endpoint that accepts " +
					"connections and never answers fails after `(retries + 1) × request_timeout` plus the back-off between attempts.",
				Optional:   true,
				Validators: []validator.String{durationValidator{max: 10 * time.Minute}},
			},
			"retries": schema.Int64Attribute{
				Description: "How many times a call is sent again after a transient failure (no answer, connection refused, " +
					"HTTP 429 or 5xx), with exponential back-off; `0` sends each call once. Default " +
					strconv.Itoa(client.DefaultRetryMax) + ". Calls that issue a secret carry an idempotency key, so a retry never issues a second one.",
				Optional:   true,
				Validators: []validator.Int64{int64validator.Between(0, 10)},
			},
			"policy": schema.SingleNestedAttribute{
				Description: "Plan-time CPRA policy gate. Each planned `tokenguard_api_token` is checked against the policy " +
					"bundle embedded in the provider (the one `tokenguard check` runs) and every finding is reported on the " +
					"offending attribute with its rule id, citation and fix. Values unknown at plan time are checked at apply. " +
					"Rules that need the whole plan (secrets in outputs, the provider endpoint) run only in `tokenguard check`. " +
					"Unless enforcement is `off`, the provider asks the token service once per run for the data subjects with a " +
					"pending or completed deletion request, so CPRA-DEL-001 blocks a token acting for an erased subject; with " +
					"mandatory enforcement a service that cannot answer fails the plan. " +
					"Omit the block for mandatory enforcement with the embedded bundle.",
				Optional: true,
				Attributes: map[string]schema.Attribute{
					"enforcement": schema.StringAttribute{
						Description: "`mandatory` (default): an error-severity finding fails plan and apply. `advisory`: findings " +
							"are warnings and the plan goes on; the token service's own gate still judges the apply, and under its " +
							"mandatory default refuses a change that breaks a rule it shares (each warning says which happens). " +
							"`off`: the policies are not evaluated.",
						Optional: true,
						Validators: []validator.String{
							stringvalidator.OneOf(enforcementMandatory, enforcementAdvisory, enforcementOff),
						},
					},
					"existing": schema.StringAttribute{
						Description: "How mandatory enforcement treats findings on what a plan leaves as it was. `block` " +
							"(default): every blocking finding blocks. `warn` (the ratchet): a blocking finding on an attribute " +
							"this plan does not change, of a token that already exists, is a warning; new tokens and changed " +
							"attributes are blocked. Use it when tightening a policy (for example lowering `ttl_max_days`) so " +
							"plans that change something else are not failed by tokens nobody touches. The same switch as " +
							"`tokenguard check --existing warn`.",
						Optional: true,
						Validators: []validator.String{
							stringvalidator.OneOf(policy.ExistingBlock, policy.ExistingWarn),
						},
					},
					"paths": schema.ListAttribute{
						Description: "Directories of extra Rego policies with METADATA rule ids, evaluated with the embedded " +
							"bundle (as `tokenguard check --policy`). Relative paths are relative to the Terraform working directory.",
						Optional:    true,
						ElementType: types.StringType,
					},
					"data_file": schema.StringAttribute{
						Description: "JSON or YAML file merged over the bundle's data, for example thresholds or erased data " +
							"subjects (as `tokenguard check --data`). Erased subjects listed here are checked together with " +
							"those the token service reports.",
						Optional: true,
					},
					"waivers_file": schema.StringAttribute{
						Description: "Waivers file in the format of `tokenguard check --waivers`. A current waiver turns its findings " +
							"into warnings; an expired waiver is itself a blocking finding. Terraform does not tell providers the " +
							"resource address, so the gate knows a token as `tokenguard_api_token.<name>` (non-identifier " +
							"characters and `-` replaced by `_`; the name with `-` kept is tried too): waiver address patterns " +
							"that name modules match only in `tokenguard check`.",
						Optional: true,
					},
				},
			},
		},
	}
}

func (p *tokenguardProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var cfg tokenguardProviderModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if cfg.Endpoint.IsUnknown() || cfg.Token.IsUnknown() || cfg.CACertPEM.IsUnknown() || cfg.InsecureHTTP.IsUnknown() ||
		cfg.RequestTimeout.IsUnknown() || cfg.Retries.IsUnknown() {
		// Values known only after apply (e.g. the endpoint of a service created in the same run):
		// leave the provider unconfigured; resources report it when they need the client. The
		// policy block is still checked, so its mistakes show in this plan.
		configurePolicy(ctx, cfg.Policy, &p.engines, p.now, nil, &resp.Diagnostics)
		return
	}

	endpoint := cfg.Endpoint.ValueString()
	if endpoint == "" {
		endpoint = os.Getenv(envEndpoint)
	}
	secret := cfg.Token.ValueString()
	if secret == "" {
		secret = os.Getenv(envToken)
	}
	if endpoint == "" {
		resp.Diagnostics.AddAttributeError(path.Root("endpoint"), "Missing Token Service Endpoint",
			"Set the provider's endpoint attribute or the "+envEndpoint+" environment variable to the URL of the tokenguard service.")
	}
	if secret == "" {
		resp.Diagnostics.AddAttributeError(path.Root("token"), "Missing Token Service Credential",
			"Set the "+envToken+" environment variable (or the provider's token attribute) to an issuer or admin credential of the tokenguard service.")
	}
	if resp.Diagnostics.HasError() {
		return
	}
	insecure := cfg.InsecureHTTP.ValueBool()
	if problem := endpointProblem(endpoint, insecure); problem != "" {
		resp.Diagnostics.AddAttributeError(path.Root("endpoint"), "Invalid Token Service Endpoint", problem)
		return
	}

	clientCfg := client.Config{
		Endpoint:     endpoint,
		Token:        secret,
		CACertPEM:    cfg.CACertPEM.ValueString(),
		InsecureHTTP: insecure,
	}
	if knownString(cfg.RequestTimeout) {
		clientCfg.Timeout, _ = token.ParseDuration(cfg.RequestTimeout.ValueString()) // validated
	}
	if !cfg.Retries.IsNull() {
		clientCfg.RetryMax = int(cfg.Retries.ValueInt64())
		if clientCfg.RetryMax == 0 {
			clientCfg.RetryMax = -1 // the client's "no retries"
		}
	}
	c, err := client.New(clientCfg)
	if err != nil {
		resp.Diagnostics.AddError("Unable To Create Token Service Client",
			"The tokenguard client could not be set up: "+err.Error()+". Check endpoint and ca_cert_pem.")
		return
	}
	// The gate is built once the client exists: it asks the service for the erased data
	// subjects (CPRA-DEL-001) once per Configure.
	gate := configurePolicy(ctx, cfg.Policy, &p.engines, p.now, clientSubjects(c), &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	data := &providerData{client: c, now: p.now, gate: gate}
	resp.DataSourceData = data
	resp.ResourceData = data
	resp.EphemeralResourceData = data
	resp.ListResourceData = data
}

func (p *tokenguardProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{NewAPITokenResource}
}

func (p *tokenguardProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{NewAPITokenDataSource, NewAPITokensDataSource}
}

func (p *tokenguardProvider) EphemeralResources(context.Context) []func() ephemeral.EphemeralResource {
	return []func() ephemeral.EphemeralResource{NewAPITokenEphemeralResource}
}

func (p *tokenguardProvider) ListResources(context.Context) []func() list.ListResource {
	return []func() list.ListResource{NewAPITokenListResource}
}

// endpointProblem says why endpoint may not be used, or "" when it may. Plain HTTP is refused
// for non-loopback hosts unless insecure is set.
func endpointProblem(endpoint string, insecure bool) string {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return fmt.Sprintf("The endpoint %q is not an absolute URL. Use the form https://tokens.example.com.", endpoint)
	}
	switch u.Scheme {
	case "https":
		return ""
	case "http":
		if insecure || isLoopback(u.Hostname()) {
			return ""
		}
		return fmt.Sprintf("The endpoint %q uses plain HTTP on a non-loopback host, so the admin credential and new secrets "+
			"would cross the network unencrypted. Use an https:// endpoint, or set insecure_http = true if the network is trusted.", endpoint)
	default:
		return fmt.Sprintf("The endpoint %q has scheme %q. Use https:// (or http:// on a loopback host).", endpoint, u.Scheme)
	}
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// configuredData extracts the provider data handed to Configure of a resource, data source,
// ephemeral or list resource. It returns nil without a diagnostic while the provider is not
// configured yet (early validation calls).
func configuredData(providerDataValue any, diags interface {
	AddError(summary, detail string)
}) *providerData {
	if providerDataValue == nil {
		return nil
	}
	data, ok := providerDataValue.(*providerData)
	if !ok {
		diags.AddError("Unexpected Provider Data Type",
			fmt.Sprintf("Expected *providerData, got %T. This is a bug in the tokenguard provider: please report it.", providerDataValue))
		return nil
	}
	return data
}

// providerReady reports whether data is the configured provider's, adding an error naming the
// settings to fix when it is not; every resource, data source, ephemeral and list resource
// checks it before calling the service.
func providerReady(data *providerData, diags *diag.Diagnostics) bool {
	if data == nil {
		diags.AddError("Provider Not Configured",
			"The tokenguard provider has no endpoint and credential yet. Set endpoint and token (or TOKENGUARD_ENDPOINT and TOKENGUARD_TOKEN) to known values.")
		return false
	}
	return true
}

package provider

// Resource identity and the list resource need Terraform >= 1.12 (identity) and >= 1.14
// (`terraform query`), while the Terraform on the build machines is 1.11. These tests
// therefore drive the provider at the protocol level: they call the tfprotov6 provider server
// directly, as Terraform would, against the real token service started in-process.

import (
	"context"
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// protocolProvider is the provider server, configured for ts, with the schemas Terraform
// would have fetched.
type protocolProvider struct {
	server          tfprotov6.ProviderServer
	schemas         *tfprotov6.GetProviderSchemaResponse
	identitySchemas *tfprotov6.GetResourceIdentitySchemasResponse
}

func newProtocolProvider(t *testing.T, ts *testService) *protocolProvider {
	t.Helper()
	ctx := context.Background()
	srv, err := providerserver.NewProtocol6WithError(newWithClock("test", ts.Clock.Now)())()
	if err != nil {
		t.Fatalf("creating provider server: %v", err)
	}
	p := &protocolProvider{server: srv}
	if p.schemas, err = srv.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{}); err != nil {
		t.Fatal(err)
	}
	requireNoDiagnostics(t, "GetProviderSchema", p.schemas.Diagnostics)
	if p.identitySchemas, err = srv.GetResourceIdentitySchemas(ctx, &tfprotov6.GetResourceIdentitySchemasRequest{}); err != nil {
		t.Fatal(err)
	}
	requireNoDiagnostics(t, "GetResourceIdentitySchemas", p.identitySchemas.Diagnostics)

	cfgType := p.schemas.Provider.ValueType()
	cfg := dynamicValue(t, cfgType, map[string]tftypes.Value{
		"endpoint":        tftypes.NewValue(tftypes.String, ts.URL),
		"token":           tftypes.NewValue(tftypes.String, ts.Admin),
		"ca_cert_pem":     tftypes.NewValue(tftypes.String, nil),
		"insecure_http":   tftypes.NewValue(tftypes.Bool, nil),
		"request_timeout": tftypes.NewValue(tftypes.String, nil),
		"retries":         tftypes.NewValue(tftypes.Number, nil),
		"policy":          tftypes.NewValue(cfgType.(tftypes.Object).AttributeTypes["policy"], nil),
	})
	resp, err := srv.ConfigureProvider(ctx, &tfprotov6.ConfigureProviderRequest{TerraformVersion: "1.14.0", Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	requireNoDiagnostics(t, "ConfigureProvider", resp.Diagnostics)
	return p
}

func (p *protocolProvider) resourceType() tftypes.Type {
	return p.schemas.ResourceSchemas["tokenguard_api_token"].ValueType()
}

func (p *protocolProvider) identityType() tftypes.Type {
	return p.identitySchemas.IdentitySchemas["tokenguard_api_token"].ValueType()
}

func dynamicValue(t *testing.T, typ tftypes.Type, attrs map[string]tftypes.Value) *tfprotov6.DynamicValue {
	t.Helper()
	dv, err := tfprotov6.NewDynamicValue(typ, tftypes.NewValue(typ, attrs))
	if err != nil {
		t.Fatalf("encoding value: %v", err)
	}
	return &dv
}

// attributes decodes an object DynamicValue of type typ into its attributes.
func attributes(t *testing.T, dv *tfprotov6.DynamicValue, typ tftypes.Type) map[string]tftypes.Value {
	t.Helper()
	if dv == nil {
		t.Fatal("missing value")
	}
	v, err := dv.Unmarshal(typ)
	if err != nil {
		t.Fatalf("decoding value: %v", err)
	}
	out := map[string]tftypes.Value{}
	if err := v.As(&out); err != nil {
		t.Fatalf("decoding object: %v", err)
	}
	return out
}

// str returns the string in v, or "<null>" when it is null.
func str(t *testing.T, v tftypes.Value) string {
	t.Helper()
	if v.IsNull() {
		return "<null>"
	}
	var s string
	if err := v.As(&s); err != nil {
		t.Fatalf("decoding string: %v", err)
	}
	return s
}

func requireNoDiagnostics(t *testing.T, call string, diags []*tfprotov6.Diagnostic) {
	t.Helper()
	for _, d := range diags {
		if d.Severity == tfprotov6.DiagnosticSeverityError {
			t.Fatalf("%s: %s: %s", call, d.Summary, d.Detail)
		}
	}
}

func TestAPITokenIdentity_schemaAndImportByIdentity(t *testing.T) {
	ts := newTestService(t)
	p := newProtocolProvider(t, ts)
	ctx := context.Background()

	idSchema := p.identitySchemas.IdentitySchemas["tokenguard_api_token"]
	if idSchema == nil || len(idSchema.IdentityAttributes) != 1 {
		t.Fatalf("identity schema of tokenguard_api_token = %+v, want exactly one attribute", idSchema)
	}
	if a := idSchema.IdentityAttributes[0]; a.Name != "id" || !a.RequiredForImport || !a.Type.Is(tftypes.String) {
		t.Fatalf("identity attribute = %+v, want id, string, required for import", a)
	}

	inv := seedInventory(t, ts)
	identity := &tfprotov6.ResourceIdentityData{IdentityData: dynamicValue(t, p.identityType(), map[string]tftypes.Value{
		"id": tftypes.NewValue(tftypes.String, inv.a.ID),
	})}
	imp, err := p.server.ImportResourceState(ctx, &tfprotov6.ImportResourceStateRequest{
		TypeName: "tokenguard_api_token", Identity: identity,
	})
	if err != nil {
		t.Fatal(err)
	}
	requireNoDiagnostics(t, "ImportResourceState", imp.Diagnostics)
	if len(imp.ImportedResources) != 1 {
		t.Fatalf("imported %d resources, want 1", len(imp.ImportedResources))
	}
	imported := imp.ImportedResources[0]
	if got := str(t, attributes(t, imported.State, p.resourceType())["id"]); got != inv.a.ID {
		t.Fatalf("imported state id = %s, want %s", got, inv.a.ID)
	}

	read, err := p.server.ReadResource(ctx, &tfprotov6.ReadResourceRequest{
		TypeName: "tokenguard_api_token", CurrentState: imported.State, CurrentIdentity: imported.Identity,
	})
	if err != nil {
		t.Fatal(err)
	}
	requireNoDiagnostics(t, "ReadResource", read.Diagnostics)
	state := attributes(t, read.NewState, p.resourceType())
	for name, want := range map[string]string{
		"id": inv.a.ID, "name": "export", "owner": "team-finance@example.com", "ttl": "30d",
		"status": "active", "secret": "<null>", "fingerprint": inv.a.Fingerprint,
	} {
		if got := str(t, state[name]); got != want {
			t.Errorf("state %s after import by identity = %q, want %q", name, got, want)
		}
	}
	if read.NewIdentity == nil {
		t.Fatal("ReadResource returned no identity")
	}
	if got := str(t, attributes(t, read.NewIdentity.IdentityData, p.identityType())["id"]); got != inv.a.ID {
		t.Fatalf("identity after read = %s, want %s", got, inv.a.ID)
	}
}

func TestAPITokenListResource_listsTokensWithIdentity(t *testing.T) {
	ts := newTestService(t)
	p := newProtocolProvider(t, ts)
	inv := seedInventory(t, ts)
	ctx := context.Background()

	listSchema := p.schemas.ListResourceSchemas["tokenguard_api_token"]
	if listSchema == nil {
		t.Fatal("provider schema has no list resource tokenguard_api_token")
	}
	list := func(status string, limit int64) []tfprotov6.ListResourceResult {
		t.Helper()
		cfg := dynamicValue(t, listSchema.ValueType(), map[string]tftypes.Value{
			"owner":         tftypes.NewValue(tftypes.String, nil),
			"status":        tftypes.NewValue(tftypes.String, status),
			"data_category": tftypes.NewValue(tftypes.String, nil),
		})
		lister, ok := p.server.(tfprotov6.ListResourceServer)
		if !ok {
			t.Fatalf("the provider server (%T) does not serve list resources", p.server)
		}
		stream, err := lister.ListResource(ctx, &tfprotov6.ListResourceRequest{
			TypeName: "tokenguard_api_token", Config: cfg, IncludeResource: true, Limit: limit,
		})
		if err != nil {
			t.Fatal(err)
		}
		var out []tfprotov6.ListResourceResult
		for r := range stream.Results {
			requireNoDiagnostics(t, "ListResource", r.Diagnostics)
			out = append(out, r)
		}
		return out
	}

	got := list("active", 100)
	want := []string{inv.a.ID, inv.b.ID}
	if inv.b.ID < inv.a.ID {
		want = []string{inv.b.ID, inv.a.ID}
	}
	if len(got) != len(want) {
		t.Fatalf("listed %d active tokens, want %d", len(got), len(want))
	}
	for i, r := range got {
		if r.Identity == nil {
			t.Fatalf("result %d has no identity", i)
		}
		id := str(t, attributes(t, r.Identity.IdentityData, p.identityType())["id"])
		if id != want[i] {
			t.Fatalf("result %d identity id = %s, want %s", i, id, want[i])
		}
		res := attributes(t, r.Resource, p.resourceType())
		wantName := map[string]string{inv.a.ID: "export", inv.b.ID: "metrics"}[id]
		if got := fmt.Sprintf("%s|%s|%s|%s", str(t, res["name"]), str(t, res["ttl"]), str(t, res["status"]), str(t, res["secret"])); got != wantName+"|30d|active|<null>" {
			t.Errorf("result %d resource name|ttl|status|secret = %s, want %s|30d|active|<null>", i, got, wantName)
		}
		if r.DisplayName != wantName+" ("+id+")" {
			t.Errorf("result %d display name = %q, want %q", i, r.DisplayName, wantName+" ("+id+")")
		}
	}

	if got := list("revoked", 100); len(got) != 1 || str(t, attributes(t, got[0].Identity.IdentityData, p.identityType())["id"]) != inv.c.ID {
		t.Fatalf("revoked listing = %d results, want exactly %s", len(got), inv.c.ID)
	}
	if got := list("active", 1); len(got) != 1 {
		t.Fatalf("listing with limit 1 returned %d results", len(got))
	}
}

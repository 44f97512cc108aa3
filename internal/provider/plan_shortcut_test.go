package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	providerschema "github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// shortcutTestProvider serves tokenguard_api_token alone, configured with data (the
// provider's default policy gate, no token service: ModifyPlan calls none); full turns the
// resource's shortcuts off.
type shortcutTestProvider struct {
	data *providerData
	full bool
}

func (p *shortcutTestProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "tokenguard"
}

func (p *shortcutTestProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = providerschema.Schema{}
}

func (p *shortcutTestProvider) Configure(_ context.Context, _ provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	resp.ResourceData = p.data
}

func (p *shortcutTestProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{func() resource.Resource { return &apiTokenResource{fullPlanOnly: p.full} }}
}

func (p *shortcutTestProvider) DataSources(context.Context) []func() datasource.DataSource {
	return nil
}

// shortcutServer is a configured protocol server of p.
func shortcutServer(t *testing.T, p *shortcutTestProvider) tfprotov6.ProviderServer {
	t.Helper()
	ctx := context.Background()
	srv := providerserver.NewProtocol6(p)()
	empty := tftypes.Object{AttributeTypes: map[string]tftypes.Type{}}
	cfg, err := tfprotov6.NewDynamicValue(empty, tftypes.NewValue(empty, map[string]tftypes.Value{}))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.ConfigureProvider(ctx, &tfprotov6.ConfigureProviderRequest{TerraformVersion: "1.11.0", Config: &cfg})
	if err != nil || len(resp.Diagnostics) > 0 {
		t.Fatalf("ConfigureProvider: %v %v", err, resp.Diagnostics)
	}
	return srv
}

// shortcutCase is one planned token: prior state, configuration, Terraform's proposed new
// state and the prior private state.
type shortcutCase struct {
	prior, config, proposed tftypes.Value
	private                 []byte
	describe                string
}

// randomShortcutCase is a token in state with its private state and configuration, varied
// over every input of ModifyPlan's decisions: status, expiry against the recorded refresh and
// replace_before, rotation due or not, a stale secret with or without overlap, an import mark,
// a derived ttl, a recipient, renewal and triggers; two in three configurations declare what
// state holds, the rest change one attribute.
func randomShortcutCase(t *testing.T, rng *rand.Rand, sch map[string]computedOnly, now time.Time) shortcutCase {
	t.Helper()
	typ := tokenType(t)
	pick := func(options ...tftypes.Value) tftypes.Value { return options[rng.IntN(len(options))] }
	null := func(name string) tftypes.Value { return tftypes.NewValue(typ.AttributeTypes[name], nil) }
	ts := func(at time.Time) tftypes.Value { return tfString(at.UTC().Format(time.RFC3339)) }
	rotation := func(interval, overlap any) tftypes.Value {
		return tftypes.NewValue(typ.AttributeTypes["rotation"], map[string]tftypes.Value{
			"interval": tftypes.NewValue(tftypes.String, interval), "overlap": tftypes.NewValue(tftypes.String, overlap)})
	}
	strMap := func(kv ...string) tftypes.Value {
		m := map[string]tftypes.Value{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = tfString(kv[i+1])
		}
		return tftypes.NewValue(tftypes.Map{ElementType: tftypes.String}, m)
	}
	renewal := func(reason, by string) tftypes.Value {
		return tftypes.NewValue(typ.AttributeTypes["renewal"], map[string]tftypes.Value{"reason": tfString(reason), "reviewed_by": tfString(by)})
	}
	ttlDays := []int{1, 7, 30, 90}[rng.IntN(4)]
	ttl := pick(tfString(fmt.Sprintf("%dd", ttlDays)), tfString(fmt.Sprintf("%dh", ttlDays*24)))
	created := now.Add(-time.Duration(rng.IntN(ttlDays*24+48)) * time.Hour)
	expires := created.Add(time.Duration(ttlDays) * 24 * time.Hour)
	rotated := pick(null("rotated_at"), ts(created.Add(time.Duration(rng.IntN(48)+1)*time.Hour)))
	recipient := pick(null("recipient"), null("recipient"), tfString("age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"))
	secret, sealed := pick(tfString("tg_secret_value"), null("secret")), null("sealed_secret")
	if !recipient.IsNull() {
		secret, sealed = null("secret"), pick(tfString("-----BEGIN AGE ENCRYPTED FILE-----"), null("sealed_secret"))
	}
	state := map[string]tftypes.Value{
		"id": tfString(fmt.Sprintf("tok_%08d", rng.IntN(1e8))), "name": tfString(fmt.Sprintf("svc-%d", rng.IntN(1000))),
		"name_prefix": null("name_prefix"),
		"owner":       pick(tfString("team-billing@example.com"), tfString("ops")),
		"purpose":     pick(tfString("Reads invoice totals for the monthly revenue report"), tfString("x")),
		"scopes":      pick(strSet("invoices:read"), strSet("invoices:read", "invoices:write"), strSet("admin")),
		"data_categories": pick(strSet("commercial"), strSet(), strSet("health", "commercial"),
			strSet("precise_geolocation")),
		"data_subjects":     pick(null("data_subjects"), strSet(), strSet("subject-1", "subject-2")),
		"audiences":         pick(null("audiences"), strSet("billing-api")),
		"labels":            pick(null("labels"), strMap("team", "billing")),
		"ttl":               ttl,
		"replace_before":    pick(null("replace_before"), tfString("1d"), tfString("7d"), tfString("168h")),
		"rotation":          pick(null("rotation"), rotation("7d", "1h"), rotation("14d", nil), rotation("336h", "0s"), rotation("1d", nil)),
		"rotation_triggers": pick(null("rotation_triggers"), strMap(), strMap("version", "1")),
		"renewal":           pick(null("renewal"), null("renewal"), renewal("Quarter-end close", "security@example.com")),
		"secret":            secret, "recipient": recipient, "sealed_secret": sealed,
		"fingerprint":    tfString("fp_abc"),
		"status":         pick(tfString("active"), tfString("active"), tfString("active"), tfString("revoked"), tfString("expired")),
		"created_at":     ts(created),
		"expires_at":     pick(ts(expires), ts(expires), ts(now.Add(-time.Hour)), ts(now.Add(2*time.Hour))),
		"rotated_at":     rotated,
		"last_used_at":   pick(null("last_used_at"), ts(now.Add(-time.Minute))),
		"secret_version": tftypes.NewValue(tftypes.Number, int64(1+rng.IntN(3))),
		"timeouts":       null("timeouts"),
	}
	if rng.IntN(8) == 0 {
		state["name"], state["name_prefix"] = tfString("batch-x1y2z3w4"), tfString("batch-")
	}
	prior := tokenValue(t, state)

	// The configuration declares what state holds; computed-only attributes are null, and so
	// is an optional and computed one that the configuration leaves out (name with a prefix).
	config := map[string]tftypes.Value{}
	for name, v := range state {
		config[name] = v
		if sch[name].computedOnly || (name == "name" && !state["name_prefix"].IsNull()) {
			config[name] = null(name)
		}
	}
	proposed := map[string]tftypes.Value{}
	for name, v := range state {
		proposed[name] = v
	}
	describe := "config as state"
	if rng.IntN(3) == 0 {
		changes := []struct {
			name string
			v    tftypes.Value
		}{
			{"purpose", tfString("A new purpose")}, {"ttl", tfString("60d")}, {"ttl", tfString("2d")},
			{"ttl", tfString(fmt.Sprintf("%dh", ttlDays*24))}, {"rotation_triggers", strMap("version", "2")},
			{"renewal", null("renewal")}, {"renewal", renewal("Another review", "security@example.com")},
			{"recipient", null("recipient")}, {"replace_before", tfString("29d")}, {"labels", strMap("team", "ops")},
			{"rotation", rotation("2d", nil)}, {"data_subjects", null("data_subjects")}, {"owner", tfString("someone-else")},
			{"ttl", tftypes.NewValue(tftypes.String, tftypes.UnknownValue)},
		}
		c := changes[rng.IntN(len(changes))]
		config[c.name], proposed[c.name] = c.v, c.v
		describe = "config changes " + c.name
	}

	private := map[string][]byte{}
	basis := planBasis{RefreshedAt: now}
	switch rng.IntN(8) {
	case 0: // no recorded refresh
		basis = planBasis{}
	case 1:
		basis.StaleVersion = 1
	case 2:
		until := now.Add(time.Hour)
		basis.StaleVersion, basis.StaleUntil = 1, &until
	case 3:
		basis.TTLDerived = true
	case 4:
		basis.RefreshedAt = now.Add(time.Duration(rng.IntN(20*24)) * time.Hour)
	}
	if !basis.RefreshedAt.IsZero() {
		raw, err := json.Marshal(basis)
		if err != nil {
			t.Fatal(err)
		}
		private[planBasisKey] = raw
	}
	if rng.IntN(6) == 0 {
		private[importedSubjectsKey] = []byte("true")
	}
	if rng.IntN(10) == 0 {
		private[planBasisKey] = []byte(`{"refreshed_at":"not a time"}`)
	}
	var privateBytes []byte
	if len(private) > 0 {
		var err error
		if privateBytes, err = json.Marshal(private); err != nil {
			t.Fatal(err)
		}
	}
	return shortcutCase{prior: prior, config: tokenValue(t, config), proposed: tokenValue(t, proposed), private: privateBytes,
		describe: describe + fmt.Sprintf(", private %s", private)}
}

type computedOnly struct{ computedOnly bool }

// planOf plans c on srv.
func planOf(t *testing.T, srv tfprotov6.ProviderServer, c shortcutCase) *tfprotov6.PlanResourceChangeResponse {
	t.Helper()
	typ := tokenType(t)
	dv := func(v tftypes.Value) *tfprotov6.DynamicValue {
		d, err := tfprotov6.NewDynamicValue(typ, v)
		if err != nil {
			t.Fatal(err)
		}
		return &d
	}
	resp, err := srv.PlanResourceChange(context.Background(), &tfprotov6.PlanResourceChangeRequest{
		TypeName: "tokenguard_api_token", PriorState: dv(c.prior), ProposedNewState: dv(c.proposed),
		Config: dv(c.config), PriorPrivate: c.private,
	})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestModifyPlan_shortcutSameAsFullPath: over 600 varied tokens in state (with their private
// state and a configuration that declares what state holds or changes one attribute), the
// plan with ModifyPlan's shortcut (unchangedPlan) equals the plan of the full path in every
// part Terraform receives: planned state, replacement paths, diagnostics (the policy gate's
// included: the provider's default gate judges every plan) and private state. It fails when
// the shortcut takes a plan the full path changes or warns about: removing from
// unchangedPlan the replacement check (expired, revoked, inside replace_before), the
// rotation check (rotation due, a stale secret with or without overlap, triggers) or the
// comparison of plan with state, each was tried and fails it. It also checks that both
// paths were taken.
func TestModifyPlan_shortcutSameAsFullPath(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	var mu sync.Mutex
	var erased []string
	gate := func() *providerData {
		var cache engineCache
		return &providerData{now: clock.Now, gate: memoGate(t, &cache, clock.Now, &mu, &erased)}
	}
	fast := shortcutServer(t, &shortcutTestProvider{data: gate()})
	full := shortcutServer(t, &shortcutTestProvider{data: gate(), full: true})

	var sr resource.SchemaResponse
	(&apiTokenResource{}).Schema(ctx, resource.SchemaRequest{}, &sr)
	sch := map[string]computedOnly{}
	for name, a := range sr.Schema.Attributes {
		sch[name] = computedOnly{a.IsComputed() && !a.IsOptional() && !a.IsRequired()}
	}
	typ := tokenType(t)
	decode := func(d *tfprotov6.DynamicValue) tftypes.Value {
		if d == nil {
			return tftypes.Value{}
		}
		v, err := d.Unmarshal(typ)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	probe := &apiTokenResource{}
	rng := rand.New(rand.NewPCG(17, 500)) //nolint:gosec // reproducible test cases, not secrets
	const cases = 600
	shortcuts, warned := 0, 0
	for i := range cases {
		c := randomShortcutCase(t, rng, sch, clock.Now())
		got, want := planOf(t, fast, c), planOf(t, full, c)
		if !decode(got.PlannedState).Equal(decode(want.PlannedState)) {
			t.Errorf("case %d (%s): planned state differs:\nshortcut %v\nfull     %v", i, c.describe, decode(got.PlannedState), decode(want.PlannedState))
		}
		if !reflect.DeepEqual(got.RequiresReplace, want.RequiresReplace) {
			t.Errorf("case %d (%s): requires replace %v, full path %v", i, c.describe, got.RequiresReplace, want.RequiresReplace)
		}
		if !reflect.DeepEqual(got.Diagnostics, want.Diagnostics) {
			t.Errorf("case %d (%s): diagnostics differ:\nshortcut %v\nfull     %v", i, c.describe, got.Diagnostics, want.Diagnostics)
		}
		if string(got.PlannedPrivate) != string(want.PlannedPrivate) {
			t.Errorf("case %d (%s): private state %s, full path %s", i, c.describe, got.PlannedPrivate, want.PlannedPrivate)
		}
		if len(want.Diagnostics) > 0 {
			warned++
		}
		basis, timed := loadPlanBasisBytes(t, c.private)
		if probe.unchangedPlan(ctx, c.proposed, c.prior, basis, timed) {
			shortcuts++
		}
	}
	t.Logf("%d cases: %d took the shortcut, %d had diagnostics on the full path", cases, shortcuts, warned)
	if shortcuts < cases/20 || shortcuts > cases*9/10 {
		t.Errorf("%d of %d cases took the shortcut: the cases do not exercise both paths", shortcuts, cases)
	}
}

// loadPlanBasisBytes is loadPlanBasis of the private state bytes of a request.
func loadPlanBasisBytes(t *testing.T, private []byte) (planBasis, bool) {
	t.Helper()
	var m map[string][]byte
	if len(private) > 0 {
		if err := json.Unmarshal(private, &m); err != nil {
			t.Fatal(err)
		}
	}
	var b planBasis
	if len(m[planBasisKey]) == 0 || json.Unmarshal(m[planBasisKey], &b) != nil || b.RefreshedAt.IsZero() {
		return planBasis{}, false
	}
	return b, true
}

// TestModelRoundTrip_sameRawValue: Read leaves the state as the framework passed it when the
// token equals, field for field, what it decoded from state; that is the same as writing it
// back only if decoding and encoding the model give the value decoded. Checked over the
// varied states of TestModifyPlan_shortcutSameAsFullPath.
func TestModelRoundTrip_sameRawValue(t *testing.T) {
	ctx := context.Background()
	var sr resource.SchemaResponse
	(&apiTokenResource{}).Schema(ctx, resource.SchemaRequest{}, &sr)
	sch := map[string]computedOnly{}
	for name, a := range sr.Schema.Attributes {
		sch[name] = computedOnly{a.IsComputed() && !a.IsOptional() && !a.IsRequired()}
	}
	rng := rand.New(rand.NewPCG(3, 9)) //nolint:gosec // reproducible test cases, not secrets
	for i := range 300 {
		c := randomShortcutCase(t, rng, sch, newFakeClock().Now())
		in := tfsdk.State{Schema: sr.Schema, Raw: c.prior}
		var m apiTokenModel
		if d := in.Get(ctx, &m); d.HasError() {
			t.Fatalf("case %d: Get: %v", i, d)
		}
		out := tfsdk.State{Schema: sr.Schema, Raw: c.prior.Copy()}
		if d := out.Set(ctx, &m); d.HasError() {
			t.Fatalf("case %d: Set: %v", i, d)
		}
		if !out.Raw.Equal(c.prior) {
			t.Fatalf("case %d: the round trip changed the state:\nin  %v\nout %v", i, c.prior, out.Raw)
		}
	}
}

// TestDecodeModel_sameAsFrameworkGet: Read decodes state with decodeModel rather than the
// framework's Get. Over 300 varied tokens, as state (all known), as configuration (computed
// attributes null) and as proposed plan (some unknown), decodeModel gives what Get gives,
// value for value, and declines (ok false) nothing Get decodes without diagnostics.
func TestDecodeModel_sameAsFrameworkGet(t *testing.T) {
	ctx := context.Background()
	var sr resource.SchemaResponse
	(&apiTokenResource{}).Schema(ctx, resource.SchemaRequest{}, &sr)
	sch := map[string]computedOnly{}
	for name, a := range sr.Schema.Attributes {
		sch[name] = computedOnly{a.IsComputed() && !a.IsOptional() && !a.IsRequired()}
	}
	r := &apiTokenResource{}
	rng := rand.New(rand.NewPCG(5, 11)) //nolint:gosec // reproducible test cases, not secrets
	decoded := 0
	for i := range 300 {
		c := randomShortcutCase(t, rng, sch, newFakeClock().Now())
		for _, raw := range []tftypes.Value{c.prior, c.config, c.proposed} {
			var want apiTokenModel
			d := tfsdk.State{Schema: sr.Schema, Raw: raw}.Get(ctx, &want)
			got, ok := r.decodeModel(ctx, raw)
			switch {
			case ok && !reflect.DeepEqual(got, want):
				t.Fatalf("case %d: decodeModel differs from Get:\ngot  %+v\nwant %+v", i, got, want)
			case ok && len(d) > 0:
				t.Fatalf("case %d: Get said %v, decodeModel nothing", i, d)
			case !ok && len(d) == 0:
				t.Fatalf("case %d: decodeModel declined what Get decodes: %v", i, raw)
			}
			if ok {
				decoded++
			}
		}
	}
	if decoded != 900 {
		t.Errorf("decoded %d of 900", decoded)
	}
	// A value of another type, or missing an attribute, is declined (Get reports it).
	if _, ok := r.decodeModel(ctx, tftypes.NewValue(tftypes.Object{AttributeTypes: map[string]tftypes.Type{"id": tftypes.String}},
		map[string]tftypes.Value{"id": tfString("tok_1")})); ok {
		t.Error("decodeModel decoded an object without the resource's attributes")
	}
	if _, ok := r.decodeModel(ctx, tftypes.NewValue(tokenType(t), nil)); ok {
		t.Error("decodeModel decoded a null value")
	}
}

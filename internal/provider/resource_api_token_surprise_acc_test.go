package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/token"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// These acceptance tests replay the scenarios of issue 14 ("the provider never surprises")
// with the Terraform CLI the way teams run it: plans saved in one step and applied later,
// changes made outside Terraform, unknown values. Each drives the real service in-process.

// surpriseToken is a tokenguard_api_token "t" block; extra lines go inside it.
func surpriseToken(ttl, extra string) string {
	return fmt.Sprintf(`resource "tokenguard_api_token" "t" {
  name            = "billing-export"
  owner           = %q
  purpose         = "Nightly export of invoice totals to the finance data warehouse"
  scopes          = ["invoices:read"]
  data_categories = ["commercial"]
  ttl             = %q
%s
}
`, testOwner, ttl, extra)
}

// skipUnlessAcc is the framework's standard gate for tests that run the CLI themselves.
func skipUnlessAcc(t *testing.T) {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("Acceptance tests skipped unless env 'TF_ACC' set")
	}
}

// mustRun runs terraform and fails the test when it fails.
func (w gateWorkdir) mustRun(args ...string) string {
	w.t.Helper()
	out, err := w.exec(args...)
	if err != nil {
		w.t.Fatalf("terraform %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// stateAttrs returns the attributes of the single instance of addr in the working
// directory's state file.
func (w gateWorkdir) stateAttrs(addr string) map[string]any {
	w.t.Helper()
	b, err := os.ReadFile(filepath.Join(w.dir, "terraform.tfstate")) //nolint:gosec // G304: the state file in the test's working directory
	if err != nil {
		w.t.Fatal(err)
	}
	var st struct {
		Resources []struct {
			Type, Name string
			Instances  []struct {
				Attributes map[string]any
			}
		}
	}
	if err := json.Unmarshal(b, &st); err != nil {
		w.t.Fatal(err)
	}
	for _, r := range st.Resources {
		if r.Type+"."+r.Name == addr && len(r.Instances) == 1 {
			return r.Instances[0].Attributes
		}
	}
	w.t.Fatalf("%s is not in state", addr)
	return nil
}

// flat is out with every run of white space made one space, so wrapped diagnostics match.
func flat(out string) string { return strings.Join(strings.Fields(out), " ") }

// planActions returns the actions planned for addr in the saved plan file.
func (w gateWorkdir) planActions(planFile, addr string) string {
	w.t.Helper()
	out, _, err := w.execSplit("show", "-json", planFile)
	if err != nil {
		w.t.Fatalf("terraform show -json %s: %v", planFile, err)
	}
	var plan struct {
		ResourceChanges []struct {
			Address string
			Change  struct{ Actions []string }
		} `json:"resource_changes"`
	}
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &plan); err != nil {
		w.t.Fatalf("decoding plan JSON: %v", err)
	}
	for _, rc := range plan.ResourceChanges {
		if rc.Address == addr {
			return strings.Join(rc.Change.Actions, ",")
		}
	}
	return ""
}

// TestAccAPIToken_savedPlanAppliesAfterRotationFallsDue: a plan saved before the rotation
// interval elapses applies as planned after it has elapsed (the rotation is not added at
// apply), and the next plan shows the due rotation in words.
func TestAccAPIToken_savedPlanAppliesAfterRotationFallsDue(t *testing.T) {
	skipUnlessAcc(t)
	ts := newTestService(t)
	rotation := `  rotation = { interval = "2h" }`
	w := newGateWorkdir(t, ts, ts.serveForCLI(t), "", surpriseToken("30d", rotation))
	w.mustRun("apply", "-input=false", "-no-color", "-auto-approve")
	secret := w.stateAttrs("tokenguard_api_token.t")["secret"]

	ts.Clock.Advance(time.Hour) // the interval has not elapsed yet
	w.write(ts, "", surpriseToken("30d", rotation+"\n  labels = { env = \"prod\" }"))
	w.mustRun("plan", "-input=false", "-no-color", "-out=label.tfplan")
	if got := w.planActions("label.tfplan", "tokenguard_api_token.t"); got != "update" {
		t.Fatalf("label change planned %q, want update", got)
	}
	ts.Clock.Advance(2 * time.Hour) // the rotation falls due between plan and apply
	out := w.mustRun("apply", "-input=false", "-no-color", "label.tfplan")
	if strings.Contains(out, "inconsistent") {
		t.Fatalf("the saved plan applied with an inconsistency:\n%s", out)
	}
	attrs := w.stateAttrs("tokenguard_api_token.t")
	if attrs["secret"] != secret || attrs["secret_version"] != float64(1) {
		t.Fatalf("the saved label plan rotated the secret (version %v); it must apply as planned", attrs["secret_version"])
	}
	if labels, _ := attrs["labels"].(map[string]any); labels["env"] != "prod" {
		t.Fatalf("labels after apply = %v, want env=prod", attrs["labels"])
	}

	planned := w.mustRun("plan", "-input=false", "-no-color", "-out=rotate.tfplan")
	if got := w.planActions("rotate.tfplan", "tokenguard_api_token.t"); got != "update" {
		t.Fatalf("the due rotation planned %q, want update", got)
	}
	for _, want := range []string{"Secret Will Rotate", "scheduled rotation: rotation.interval (2h) elapsed since creation"} {
		if !strings.Contains(flat(planned), want) {
			t.Errorf("the plan does not say %q:\n%s", want, planned)
		}
	}
	ts.Clock.Advance(time.Hour)
	w.mustRun("apply", "-input=false", "-no-color", "rotate.tfplan")
	if v := w.stateAttrs("tokenguard_api_token.t")["secret_version"]; v != float64(2) {
		t.Fatalf("secret_version after the rotation plan = %v, want 2", v)
	}
	w.mustRun("destroy", "-input=false", "-no-color", "-auto-approve")
}

// TestAccAPIToken_outOfBandRotationPlanned: a rotation made outside Terraform (the CLI's
// `token rotate`) leaves a stale secret in state; the next plan rotates in place and says
// when the stale secret stops working. The plan stays on that answer until applied.
func TestAccAPIToken_outOfBandRotationPlanned(t *testing.T) {
	skipUnlessAcc(t)
	ts := newTestService(t)
	cfg := surpriseToken("30d", `  rotation = { interval = "7d", overlap = "1h" }`)
	w := newGateWorkdir(t, ts, ts.serveForCLI(t), "", cfg)
	w.mustRun("apply", "-input=false", "-no-color", "-auto-approve")
	attrs := w.stateAttrs("tokenguard_api_token.t")
	id, stale := attrs["id"].(string), attrs["secret"].(string)

	rotated, err := ts.Client.RotateToken(context.Background(), id, wire.RotateRequest{Overlap: "1h"}, "")
	if err != nil {
		t.Fatal(err)
	}
	until := rfc3339(ts.Clock.Now().Add(time.Hour))
	// Inside the overlap the service refuses a new rotation (issue 13: a rotation keeps its
	// word), so the plan rotates nothing yet and says when the stale secret stops working.
	out, err := w.exec("plan", "-input=false", "-no-color", "-detailed-exitcode")
	if err != nil {
		t.Fatalf("plan inside the out-of-band rotation's overlap is not empty: %v\n%s", err, out)
	}
	for _, want := range []string{"Secret In State Is Stale", "secret in state is version 1, but the token service holds version 2",
		"stops working at " + until, "the first plan after " + until + " rotates"} {
		if !strings.Contains(flat(out), want) {
			t.Errorf("plan inside the overlap does not say %q:\n%s", want, out)
		}
	}
	ts.Clock.Advance(time.Hour + time.Second)
	for i := range 2 { // a plan that is not applied leaves the answer the same
		out, err := w.exec("plan", "-input=false", "-no-color", "-detailed-exitcode")
		if err == nil {
			t.Fatalf("plan %d after the overlap found nothing to do:\n%s", i, out)
		}
		for _, want := range []string{"Secret Will Rotate", "secret in state is version 1, but the token service holds version 2",
			"has already stopped working", "update in-place"} {
			if !strings.Contains(flat(out), want) {
				t.Errorf("plan %d does not say %q:\n%s", i, want, out)
			}
		}
	}
	w.mustRun("apply", "-input=false", "-no-color", "-auto-approve")
	attrs = w.stateAttrs("tokenguard_api_token.t")
	if attrs["secret_version"] != float64(3) || attrs["secret"] == stale || attrs["secret"] == rotated.Secret {
		t.Fatalf("after the apply state holds version %v; want version 3 with a secret of its own", attrs["secret_version"])
	}
	if err := ts.expectActive(attrs["secret"].(string), true); err != nil {
		t.Fatal(err)
	}
	if out, err := w.exec("plan", "-input=false", "-no-color", "-detailed-exitcode"); err != nil {
		t.Fatalf("plan after the catch-up rotation is not empty: %v\n%s", err, out)
	}
	w.mustRun("destroy", "-input=false", "-no-color", "-auto-approve")
}

// TestAccAPIToken_serviceNormalisedTextRefusedAtPlan: text the service would trim or refuse
// ("billing " and its kin) is refused at plan with an attribute error, in the resource and in
// the ephemeral resource, and nothing is issued.
func TestAccAPIToken_serviceNormalisedTextRefusedAtPlan(t *testing.T) {
	ts := newTestService(t)
	resourceWith := func(attr, value string) string {
		fields := map[string]string{
			"name": `"billing-export"`, "owner": fmt.Sprintf("%q", testOwner),
			"purpose": `"Nightly export of invoice totals to the finance data warehouse"`,
			"scopes":  `["invoices:read"]`, "audiences": `["warehouse"]`, "data_subjects": `["customer:4411"]`,
			"labels": `{ env = "prod" }`,
		}
		fields[attr] = value
		return fmt.Sprintf(`resource "tokenguard_api_token" "test" {
  name            = %s
  owner           = %s
  purpose         = %s
  scopes          = %s
  audiences       = %s
  data_subjects   = %s
  labels          = %s
  data_categories = ["commercial"]
  ttl             = "30d"
}
`, fields["name"], fields["owner"], fields["purpose"], fields["scopes"], fields["audiences"], fields["data_subjects"], fields["labels"])
	}
	ephemeralWith := func(attr, value string) string {
		fields := map[string]string{"name": `"ci-deploy"`, "purpose": `"Short-lived deploy credential for one Terraform run"`, "scopes": `["deploy:write"]`}
		fields[attr] = value
		return fmt.Sprintf(`ephemeral "tokenguard_api_token" "run" {
  name            = %s
  owner           = %q
  purpose         = %s
  scopes          = %s
  data_categories = []
  ttl             = "10m"
}
`, fields["name"], ephemeralOwner, fields["purpose"], fields["scopes"])
	}
	surrounding := regexp.MustCompile(`Invalid Text[\s\S]*white\s+space\s+at\s+its\s+start\s+or\s+end`)
	cases := []struct {
		config string
		want   *regexp.Regexp
	}{
		{resourceWith("name", `"billing "`), surrounding},
		{resourceWith("name", `" billing"`), surrounding},
		{resourceWith("name", `"billing\u00a0"`), surrounding}, // no-break space: the service trims it too
		{resourceWith("name", `"billing\u3000"`), surrounding}, // ideographic space
		{resourceWith("owner", `"team-finance@example.com "`), surrounding},
		{resourceWith("purpose", `"Nightly export of invoice totals to the finance data warehouse\n"`), regexp.MustCompile(`control\s+characters`)},
		{resourceWith("purpose", `" Nightly export of invoice totals to the finance data warehouse"`), surrounding},
		{resourceWith("scopes", `["invoices:read "]`), regexp.MustCompile(`contains\s+white\s+space`)},
		{resourceWith("scopes", `["invoices: read"]`), regexp.MustCompile(`contains\s+white\s+space`)},
		{resourceWith("audiences", `[" warehouse"]`), surrounding},
		{resourceWith("data_subjects", `["customer:4411 "]`), surrounding},
		{resourceWith("name", `"billing\u202eexport"`), regexp.MustCompile(`bidirectional\s+control`)},
		{resourceWith("name", `"billing\ufffd"`), regexp.MustCompile(`U\+FFFD`)},
		{resourceWith("labels", `{ env = "prod\u0007" }`), regexp.MustCompile(`control\s+characters`)},
		{ephemeralWith("name", `"ci-deploy "`), surrounding},
		{ephemeralWith("purpose", `"Short-lived deploy credential for one Terraform run "`), surrounding},
		{ephemeralWith("scopes", `["deploy:write\t"]`), regexp.MustCompile(`control\s+characters`)},
	}
	steps := make([]resource.TestStep, 0, len(cases))
	for _, c := range cases {
		steps = append(steps, resource.TestStep{Config: ts.config(c.config), PlanOnly: true, ExpectError: c.want})
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: ts.factories(),
		Steps:                    steps,
		CheckDestroy: func(*terraform.State) error {
			if n := len(ts.tokensOf(t, testOwner)) + len(ts.tokensOf(t, ephemeralOwner)); n != 0 {
				return fmt.Errorf("refused configurations issued %d tokens, want 0", n)
			}
			return nil
		},
	})
}

// TestAccAPIToken_unknownLifetimeSettingsNeverChangeTheActionAtApply: a ttl known only at
// apply is planned as a replacement (a lower ttl needs a new token), so the apply does what
// the plan showed; an unknown rotation.interval is refused at plan with an attribute error.
func TestAccAPIToken_unknownLifetimeSettingsNeverChangeTheActionAtApply(t *testing.T) {
	skipUnlessAcc(t)
	ts := newTestService(t)
	cfg := `variable "ttl" { type = string }
variable "interval" {
  type    = string
  default = "7d"
}
resource "terraform_data" "ttl" { input = var.ttl }
resource "terraform_data" "interval" { input = var.interval }
` + surpriseToken("TTL", `  rotation = { interval = terraform_data.interval.output }`)
	cfg = strings.Replace(cfg, `"TTL"`, "terraform_data.ttl.output", 1)
	w := newGateWorkdir(t, ts, ts.serveForCLI(t), "", cfg)
	w.mustRun("apply", "-input=false", "-no-color", "-auto-approve", "-var", "ttl=30d")
	first := w.stateAttrs("tokenguard_api_token.t")["id"].(string)

	out := w.mustRun("plan", "-input=false", "-no-color", "-var", "ttl=10d", "-out=lower.tfplan")
	if got := w.planActions("lower.tfplan", "tokenguard_api_token.t"); got != "delete,create" {
		t.Fatalf("an unknown ttl planned %q, want delete,create\n%s", got, out)
	}
	if !strings.Contains(flat(out), "ttl is not known until apply") {
		t.Errorf("the plan does not say why the token is replaced:\n%s", out)
	}
	out = w.mustRun("apply", "-input=false", "-no-color", "lower.tfplan")
	if strings.Contains(out, "changed the planned action") {
		t.Fatalf("the apply changed the planned action:\n%s", out)
	}
	attrs := w.stateAttrs("tokenguard_api_token.t")
	if attrs["id"] == first || attrs["ttl"] != "10d" || attrs["expires_at"] != rfc3339(ts.Clock.Now().Add(10*day)) {
		t.Fatalf("after the apply state holds %v with ttl %v expiring %v; want a new token with ttl 10d", attrs["id"], attrs["ttl"], attrs["expires_at"])
	}
	old, err := ts.Client.GetToken(context.Background(), first)
	if err != nil || old.Status != "revoked" {
		t.Fatalf("the replaced token is %q (%v), want revoked", old.Status, err)
	}

	out, err = w.exec("plan", "-input=false", "-no-color", "-var", "ttl=10d", "-var", "interval=3d")
	if err == nil || !strings.Contains(flat(out), "Rotation Interval Unknown At Plan") {
		t.Fatalf("an unknown rotation.interval was not refused at plan (err %v):\n%s", err, out)
	}
	w.mustRun("destroy", "-input=false", "-no-color", "-auto-approve", "-var", "ttl=10d")
}

// TestAccAPIToken_durationsCompareByTimeSpan: "20d", "480h" and "480h0m0s" are one ttl, and
// "14d" and "336h" one interval. A respelling plans nothing (issue 14: "20d vs 480h empty
// plan"): the plan keeps the spelling in state, which Terraform accepts when configuration and
// prior state are both set. With a real change in the same plan (a label, a longer interval),
// the apply succeeds and state keeps the prior spelling of what was only respelled. Nothing is
// renewed, rotated or replaced.
func TestAccAPIToken_durationsCompareByTimeSpan(t *testing.T) {
	ts := newTestService(t)
	t0 := ts.Clock.Now()
	hcl := func(ttl, before, interval, overlap, extra string) string {
		return ts.config(tokenHCL(ttl, `  replace_before = "`+before+`"
  rotation = { interval = "`+interval+`", overlap = "`+overlap+`" }
`+extra))
	}
	kept := func(ttl, before, interval, overlap string) []statecheck.StateCheck {
		return []statecheck.StateCheck{
			statecheck.ExpectKnownValue(testAddr, at("ttl"), knownvalue.StringExact(ttl)),
			statecheck.ExpectKnownValue(testAddr, at("replace_before"), knownvalue.StringExact(before)),
			statecheck.ExpectKnownValue(testAddr, at("rotation"), knownvalue.ObjectExact(map[string]knownvalue.Check{
				"interval": knownvalue.StringExact(interval), "overlap": knownvalue.StringExact(overlap),
			})),
			statecheck.ExpectKnownValue(testAddr, at("expires_at"), knownvalue.StringExact(rfc3339(t0.Add(20*day)))),
			statecheck.ExpectKnownValue(testAddr, at("secret_version"), knownvalue.Int64Exact(1)),
		}
	}
	respelled := func(ttl, before, interval, overlap string) resource.TestStep {
		return resource.TestStep{
			Config:            hcl(ttl, before, interval, overlap, ""),
			ConfigPlanChecks:  resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			ConfigStateChecks: kept("20d", "3d", "14d", "1h"),
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: ts.factories(),
		CheckDestroy:             ts.checkAllRevoked(t, testOwner, 1),
		Steps: []resource.TestStep{
			{Config: hcl("20d", "3d", "14d", "1h", ""), ConfigStateChecks: kept("20d", "3d", "14d", "1h")},
			respelled("480h", "72h", "336h", "60m"),
			respelled("480h0m0s", "4320m", "14d", "3600s"),
			respelled("1728000s", "259200s", "20160m", "1h0m0s"),
			{
				// A respelling beside a real change: the label is updated, every duration keeps
				// its spelling in state, and the apply's result matches the plan.
				Config: hcl("480h", "72h", "336h", "60m", `  labels = { env = "prod" }`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(testAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(testAddr, at("ttl"), knownvalue.StringExact("20d")),
					plancheck.ExpectKnownValue(testAddr, at("replace_before"), knownvalue.StringExact("3d")),
					plancheck.ExpectKnownValue(testAddr, at("expires_at"), knownvalue.StringExact(rfc3339(t0.Add(20*day)))),
					plancheck.ExpectKnownValue(testAddr, at("secret_version"), knownvalue.Int64Exact(1)),
				}},
				ConfigStateChecks: append(kept("20d", "3d", "14d", "1h"),
					statecheck.ExpectKnownValue(testAddr, at("labels"), knownvalue.MapExact(map[string]knownvalue.Check{"env": knownvalue.StringExact("prod")}))),
			},
			{
				// Inside one nested attribute: the interval changes for real, the overlap is only
				// respelled and keeps its spelling.
				Config: hcl("480h", "72h", "15d", "60m", `  labels = { env = "prod" }`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(testAddr, plancheck.ResourceActionUpdate),
				}},
				ConfigStateChecks: kept("20d", "3d", "15d", "1h"),
			},
			{
				Config:           hcl("480h", "72h", "15d", "60m", `  labels = { env = "prod" }`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
	// No renewal and no rotation reached the service: the token is at its first secret and
	// expires when it was created to, and its rotation policy took the one real change.
	tok := ts.tokensOf(t, testOwner)
	if len(tok) != 1 || tok[0].SecretVersion != 1 || !tok[0].ExpiresAt.Equal(t0.Add(20*day)) ||
		tok[0].Rotation == nil || tok[0].Rotation.Interval == "" {
		t.Fatalf("after respelling durations the service holds %+v, want one token at version 1 expiring at creation + 20d", tok)
	}
	if d, err := token.ParseDuration(tok[0].Rotation.Interval); err != nil || d != 15*day {
		t.Fatalf("the service's rotation interval is %q, want 15d", tok[0].Rotation.Interval)
	}
}

// TestAccAPIToken_importOfRenewedTokenTakesConfiguredTTL: a token renewed before its import
// has a lifetime longer than any ttl (expires_at - created_at); the import plan takes the
// configured ttl without a replacement or renewal, and the next plan is empty.
func TestAccAPIToken_importOfRenewedTokenTakesConfiguredTTL(t *testing.T) {
	skipUnlessAcc(t)
	ts := newTestService(t)
	ctx := context.Background()
	existing, err := ts.Client.CreateToken(ctx, wire.CreateTokenRequest{
		Name: "billing-export", Owner: testOwner, Purpose: "Nightly export of invoice totals to the finance data warehouse",
		Scopes: []string{"invoices:read"}, DataCategories: []string{"commercial"}, TTL: "20d",
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	ts.Clock.Advance(2*time.Hour + 2*time.Second)
	if _, err := ts.Client.RenewToken(ctx, existing.ID, wire.RenewRequest{TTL: "20d", Reason: "Quarter-end close", ReviewedBy: "security@example.com"}, ""); err != nil {
		t.Fatal(err)
	}
	cfg := "import {\n  to = tokenguard_api_token.t\n  id = \"" + existing.ID + "\"\n}\n" + surpriseToken("20d", "")
	w := newGateWorkdir(t, ts, ts.serveForCLI(t), "", cfg)
	out := w.mustRun("plan", "-input=false", "-no-color", "-out=import.tfplan")
	if got := w.planActions("import.tfplan", "tokenguard_api_token.t"); got != "update" {
		t.Fatalf("the import of a renewed token planned %q, want update (ttl recorded as configured)\n%s", got, out)
	}
	if !strings.Contains(out, `~ ttl             = "1735202s" -> "20d"`) { // the ttl derived at import (482h0m2s), in the largest exact unit
		t.Errorf("the import plan does not show the derived ttl replaced by the configured one:\n%s", out)
	}
	w.mustRun("apply", "-input=false", "-no-color", "import.tfplan")
	attrs := w.stateAttrs("tokenguard_api_token.t")
	if attrs["id"] != existing.ID || attrs["ttl"] != "20d" || attrs["secret_version"] != float64(1) {
		t.Fatalf("after the import state holds %v ttl %v version %v; want %s ttl 20d version 1", attrs["id"], attrs["ttl"], attrs["secret_version"], existing.ID)
	}
	if out, err := w.exec("plan", "-input=false", "-no-color", "-detailed-exitcode"); err != nil {
		t.Fatalf("plan after the import is not empty: %v\n%s", err, out)
	}
	w.mustRun("destroy", "-input=false", "-no-color", "-auto-approve")
}

// TestAccAPIToken_stateVersioned: the state records schema version 1, and a state of version
// 0 (written before versions were kept) upgrades to an empty plan.
func TestAccAPIToken_stateVersioned(t *testing.T) {
	skipUnlessAcc(t)
	ts := newTestService(t)
	w := newGateWorkdir(t, ts, ts.serveForCLI(t), "", surpriseToken("30d", `  data_subjects = ["customer:4411"]`))
	w.mustRun("apply", "-input=false", "-no-color", "-auto-approve")

	file := filepath.Join(w.dir, "terraform.tfstate")
	raw, err := os.ReadFile(file) //nolint:gosec // G304: the state file in the test's working directory
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	inst := st["resources"].([]any)[0].(map[string]any)["instances"].([]any)[0].(map[string]any)
	if inst["schema_version"] != float64(apiTokenSchemaVersion) {
		t.Fatalf("state schema_version = %v, want %d", inst["schema_version"], apiTokenSchemaVersion)
	}
	inst["schema_version"] = 0
	delete(inst, "private")                                    // a version-0 state has no plan basis
	delete(inst["attributes"].(map[string]any), "name_prefix") // nor name_prefix
	st["serial"] = st["serial"].(float64) + 1
	raw, err = json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := w.exec("plan", "-input=false", "-no-color", "-detailed-exitcode"); err != nil {
		t.Fatalf("plan of a version-0 state is not empty: %v\n%s", err, out)
	}
	w.mustRun("destroy", "-input=false", "-no-color", "-auto-approve")
}

// TestAccAPIToken_zeroDowntimeReplacement: with name_prefix, create_before_destroy and
// replace_before, the replacement is issued while the old token is still active (no "Token
// Name In Use"), what uses the secret is updated to the new one before the old token is
// revoked, and at the moment of that revocation both secrets verify.
func TestAccAPIToken_zeroDowntimeReplacement(t *testing.T) {
	skipUnlessAcc(t)
	ts := newTestService(t)
	cfg := strings.Replace(surpriseToken("10d", `  replace_before = "3d"
  lifecycle { create_before_destroy = true }`), `  name            = "billing-export"`, `  name_prefix     = "billing-export-"`, 1) + `
# A consumer of the secret, as a secret store or a deployment would be.
resource "terraform_data" "consumer" {
  input = sensitive(tokenguard_api_token.t.secret)
}
`
	w := newGateWorkdir(t, ts, ts.serveForCLI(t), "", cfg)
	w.mustRun("apply", "-input=false", "-no-color", "-auto-approve")
	first := w.stateAttrs("tokenguard_api_token.t")
	oldID, oldSecret := first["id"].(string), first["secret"].(string)
	if !regexp.MustCompile(`^billing-export-[0-9a-z]{8}$`).MatchString(first["name"].(string)) {
		t.Fatalf("name with name_prefix is %q, want billing-export-<8 random characters>", first["name"])
	}
	if out, err := w.exec("plan", "-input=false", "-no-color", "-detailed-exitcode"); err != nil {
		t.Fatalf("plan right after create is not empty: %v\n%s", err, out)
	}

	var atRevoke []string
	activeAtRevoke := map[string]bool{}
	ts.mu.Lock()
	ts.beforeRevoke = func(id string) {
		if id != oldID {
			atRevoke = append(atRevoke, "revoke of an unexpected token "+id)
			return
		}
		for _, tok := range ts.tokensOf(t, testOwner) {
			activeAtRevoke[tok.ID] = tok.Status == "active"
		}
		if err := ts.expectActive(oldSecret, true); err != nil {
			atRevoke = append(atRevoke, "the old secret: "+err.Error())
		}
	}
	ts.mu.Unlock()

	ts.Clock.Advance(7*day + time.Minute) // inside replace_before
	out := w.mustRun("apply", "-input=false", "-no-color", "-auto-approve")
	if !strings.Contains(flat(out), "within replace_before (3d)") || !strings.Contains(out, "create replacement and then destroy") {
		t.Errorf("the apply did not show a create-before-destroy replacement inside replace_before:\n%s", out)
	}
	if len(atRevoke) != 0 {
		t.Fatalf("at the revocation of the old token: %v", atRevoke)
	}
	second := w.stateAttrs("tokenguard_api_token.t")
	if !activeAtRevoke[second["id"].(string)] || !activeAtRevoke[oldID] {
		t.Fatalf("when the old token was revoked, active tokens were %v; want both %s (old) and %v (new)", activeAtRevoke, oldID, second["id"])
	}
	// Terraform updates what uses the secret before it destroys the old token.
	updated := strings.Index(out, "terraform_data.consumer: Modifications complete")
	destroying := strings.Index(out, "tokenguard_api_token.t (deposed object")
	if updated < 0 || destroying < 0 || updated > destroying {
		t.Errorf("the consumer was not updated before the old token was destroyed (at %d and %d):\n%s", updated, destroying, out)
	}
	if second["id"] == oldID || !strings.HasPrefix(second["name"].(string), "billing-export-") || second["name"] == first["name"] {
		t.Fatalf("after the replacement state holds %v named %v; want a new token with a new prefixed name", second["id"], second["name"])
	}
	if err := ts.expectActive(oldSecret, false); err != nil {
		t.Fatalf("the old secret after the replacement: %v", err)
	}
	if err := ts.expectActive(second["secret"].(string), true); err != nil {
		t.Fatalf("the new secret after the replacement: %v", err)
	}
	w.mustRun("destroy", "-input=false", "-no-color", "-auto-approve")
}

// TestAccAPIToken_interruptedApplyOfThirtyLeavesNoOrphan: an apply of 30 tokens is
// interrupted (SIGINT, as Ctrl-C) while 10 creates are in flight behind a proxy that completes
// them after the provider has given up on them, as a load balancer or a slow service does.
// The service then holds 20 active tokens and state 10. The next apply takes the 10 orphans
// over (each rotated, so state holds a working secret) and creates the 10 never started:
// no error, 30 tokens in state, and no active token at the service that state lacks.
func TestAccAPIToken_interruptedApplyOfThirtyLeavesNoOrphan(t *testing.T) {
	skipUnlessAcc(t)
	ts := newTestService(t)
	const owner = "team-orphans@example.com"
	cfg := fmt.Sprintf(`resource "tokenguard_api_token" "t" {
  count           = 30
  name            = "orphan-probe-${count.index}"
  owner           = %q
  purpose         = "Nightly export of invoice totals to the finance data warehouse"
  scopes          = ["invoices:read"]
  data_categories = ["commercial"]
  ttl             = "30d"
  rotation        = { interval = "7d", overlap = "1h" }
}
`, owner)
	w := newGateWorkdir(t, ts, ts.serveForCLI(t), "", cfg)

	held := make(chan struct{}, 64)
	var mu sync.Mutex
	passed := 0
	var completing sync.WaitGroup
	ts.mu.Lock()
	ts.createHook = func(_ http.ResponseWriter, r *http.Request, api http.Handler) bool {
		mu.Lock()
		passed++
		pass := passed <= 10
		mu.Unlock()
		if pass {
			return false
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return true
		}
		completing.Add(1)
		defer completing.Done()
		held <- struct{}{}
		<-r.Context().Done() // the provider gave up on this request
		detached := r.Clone(context.WithoutCancel(r.Context()))
		detached.Body = io.NopCloser(bytes.NewReader(body))
		api.ServeHTTP(httptest.NewRecorder(), detached) // the service completes it all the same
		return true
	}
	ts.mu.Unlock()

	cmd := exec.Command(w.bin, "apply", "-input=false", "-no-color", "-auto-approve") //nolint:gosec // the test's terraform
	cmd.Dir = w.dir
	cmd.Env = append(os.Environ(), w.env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	guard := time.After(2 * time.Minute) // a guard against a hung run, not a timing assertion
	for range 10 {
		select {
		case <-held:
		case <-guard:
			_ = cmd.Process.Kill()
			t.Fatalf("10 creates were not in flight after the first 10:\n%s", out.String())
		}
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Fatalf("the interrupted apply succeeded:\n%s", out.String())
	}
	completing.Wait()
	ts.mu.Lock()
	ts.createHook = nil
	ts.mu.Unlock()

	inState := func() int {
		o, _, err := w.execSplit("state", "list")
		if err != nil {
			t.Fatalf("terraform state list: %v", err)
		}
		return len(strings.Fields(o))
	}
	if n, recorded := len(activeTokens(ts.tokensOf(t, owner))), inState(); n != 20 || recorded != 10 {
		t.Fatalf("after the interrupted apply the service holds %d active tokens and state %d, want 20 and 10:\n%s", n, recorded, out.String())
	}

	diags, ok := w.diagnostics("apply", "-auto-approve")
	if !ok {
		t.Fatalf("the apply after the interruption failed: %v", diags)
	}
	adopted := 0
	for _, d := range diags {
		switch {
		case d.Severity == "error":
			t.Errorf("the apply after the interruption reported %s", d)
		case d.Summary == "Token Adopted From An Interrupted Apply":
			adopted++
		}
	}
	if adopted != 10 {
		t.Errorf("the apply adopted %d tokens, want 10: %v", adopted, diags)
	}
	if recorded := inState(); recorded != 30 {
		t.Fatalf("state holds %d tokens after the second apply, want 30", recorded)
	}
	active := activeTokens(ts.tokensOf(t, owner))
	if len(active) != 30 {
		t.Fatalf("the service holds %d active tokens after the second apply, want 30 (no orphan)", len(active))
	}
	show, _, err := w.execSplit("show", "-json")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Values struct {
			RootModule struct {
				Resources []struct{ Values map[string]any } `json:"resources"`
			} `json:"root_module"`
		} `json:"values"`
	}
	if err := json.Unmarshal([]byte(show), &st); err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, r := range st.Values.RootModule.Resources {
		ids[r.Values["id"].(string)] = true
		if err := ts.expectActive(r.Values["secret"].(string), true); err != nil {
			t.Errorf("%s: the secret in state: %v", r.Values["name"], err)
		}
	}
	for _, tok := range active {
		if !ids[tok.ID] {
			t.Errorf("active token %s (%s) is not in state: an orphan", tok.ID, tok.Name)
		}
	}
	w.mustRun("destroy", "-input=false", "-no-color", "-auto-approve")
}

// TestAccAPIToken_createTimeoutThenTakeover: a create that outlives timeouts.create fails
// saying so; the service completes it all the same, and the next apply takes the token over.
func TestAccAPIToken_createTimeoutThenTakeover(t *testing.T) {
	skipUnlessAcc(t)
	ts := newTestService(t)
	var mu sync.Mutex
	holdNext := true
	ts.mu.Lock()
	ts.createHook = func(_ http.ResponseWriter, r *http.Request, api http.Handler) bool {
		mu.Lock()
		hold := holdNext
		holdNext = false
		mu.Unlock()
		if !hold {
			return false
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return true
		}
		<-r.Context().Done() // the provider gave up: timeouts.create ran out
		detached := r.Clone(context.WithoutCancel(r.Context()))
		detached.Body = io.NopCloser(bytes.NewReader(body))
		api.ServeHTTP(httptest.NewRecorder(), detached)
		return true
	}
	ts.mu.Unlock()
	w := newGateWorkdir(t, ts, ts.serveForCLI(t), "", surpriseToken("30d", `  timeouts = { create = "2s" }`))
	start := time.Now()
	out, err := w.exec("apply", "-input=false", "-no-color", "-auto-approve")
	if err == nil || !strings.Contains(flat(out), "Token Create Timed Out") || !strings.Contains(flat(out), "within timeouts.create (2s)") {
		t.Fatalf("a create past timeouts.create did not fail with a timeout (err %v):\n%s", err, out)
	}
	took := time.Since(start)
	if took > time.Minute { // the client alone would wait 5 × 30s
		t.Errorf("the timed-out apply took %s", took)
	}
	t.Logf("an apply whose create outlived timeouts.create (2s) failed after %s", took.Round(time.Millisecond))
	diags, ok := w.diagnostics("apply", "-auto-approve")
	if !ok {
		t.Fatalf("the apply after the timeout failed: %v", diags)
	}
	if !slices.ContainsFunc(diags, func(d tfDiagnostic) bool { return d.Summary == "Token Adopted From An Interrupted Apply" }) {
		t.Errorf("the apply after the timeout did not take the token over: %v", diags)
	}
	if n := len(activeTokens(ts.tokensOf(t, testOwner))); n != 1 {
		t.Fatalf("the service holds %d active tokens, want 1", n)
	}
	w.mustRun("destroy", "-input=false", "-no-color", "-auto-approve")
}

// TestAccAPIToken_importKeepsDataSubjects: data_subjects is sensitive (issue 14 point 10), and
// Terraform writes a sensitive attribute as null in the configuration -generate-config-out
// produces. The import of a token bound to subjects under a configuration without
// data_subjects is refused at plan, with the fix and without the subjects, rather than planned
// as a replacement that drops them. With the subjects configured the import plans no change
// and shows them only as a sensitive value; data_subjects = [] plans the replacement the error
// offers. After the import, removing data_subjects keeps its meaning: a replacement by a token
// bound to no subject.
func TestAccAPIToken_importKeepsDataSubjects(t *testing.T) {
	skipUnlessAcc(t)
	ts := newTestService(t)
	existing, err := ts.Client.CreateToken(context.Background(), wire.CreateTokenRequest{
		Name: "billing-export", Owner: testOwner, Purpose: "Nightly export of invoice totals to the finance data warehouse",
		Scopes: []string{"invoices:read"}, DataCategories: []string{"commercial"}, DataSubjects: []string{"customer:4411"}, TTL: "20d",
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	importBlock := "import {\n  to = tokenguard_api_token.t\n  id = \"" + existing.ID + "\"\n}\n"
	w := newGateWorkdir(t, ts, ts.serveForCLI(t), "", importBlock+surpriseToken("20d", ""))
	out, err := w.exec("plan", "-input=false", "-no-color")
	flat := strings.Join(strings.Fields(out), " ")
	if err == nil || !strings.Contains(flat, "Imported Token's Data Subjects Missing From Configuration") ||
		!strings.Contains(flat, "tokenguard token show "+existing.ID) || strings.Contains(out, "4411") {
		t.Fatalf("the import without data_subjects (%v) was not refused with the fix, or printed the subject:\n%s", err, out)
	}

	// data_subjects = [], which the error offers, says "bound to no subject": a replacement.
	w.write(ts, "", importBlock+surpriseToken("20d", `  data_subjects = []`))
	out = w.mustRun("plan", "-input=false", "-no-color", "-out=none.tfplan")
	if got := w.planActions("none.tfplan", "tokenguard_api_token.t"); got != "delete,create" || strings.Contains(out, "4411") {
		t.Fatalf("the import with data_subjects = [] planned %q (want delete,create), or printed the subject:\n%s", got, out)
	}

	w.write(ts, "", importBlock+surpriseToken("20d", `  data_subjects = ["customer:4411"]`))
	out = w.mustRun("plan", "-input=false", "-no-color", "-out=import.tfplan")
	if !strings.Contains(out, "Plan: 1 to import, 0 to add, 0 to change, 0 to destroy.") ||
		!regexp.MustCompile(`data_subjects +\= \(sensitive value\)`).MatchString(out) || strings.Contains(out, "4411") {
		t.Fatalf("the import with data_subjects does not plan an import alone with data_subjects sensitive, or prints the subject:\n%s", out)
	}
	w.mustRun("apply", "-input=false", "-no-color", "import.tfplan")
	if out, err := w.exec("plan", "-input=false", "-no-color", "-detailed-exitcode"); err != nil {
		t.Fatalf("plan after the import is not empty: %v\n%s", err, out)
	}

	// Outside an import, a configuration without data_subjects replaces the token.
	w.write(ts, "", surpriseToken("20d", ""))
	out = w.mustRun("plan", "-input=false", "-no-color", "-out=drop.tfplan")
	if got := w.planActions("drop.tfplan", "tokenguard_api_token.t"); got != "delete,create" || strings.Contains(out, "4411") {
		t.Fatalf("removing data_subjects after the import planned %q (want delete,create), or printed the subject:\n%s", got, out)
	}
	w.mustRun("destroy", "-input=false", "-no-color", "-auto-approve")
}

// TestAccAPIToken_importedTTLBelowRemainingLifeReplaces: after an import the ttl in state is
// derived from the token's lifetime, and a configured ttl takes its place without replacement
// when it could be the token's (from its remaining life up to its lifetime). A ttl shorter than
// the remaining life replaces the token, at the import and also after an import that planned
// no change (issue 14 point 8: the token must not outlive its configured ttl); inventory's
// --generate-config-out writes the derived ttl, so such no-change imports are the common case.
func TestAccAPIToken_importedTTLBelowRemainingLifeReplaces(t *testing.T) {
	skipUnlessAcc(t)
	ts := newTestService(t)
	existing, err := ts.Client.CreateToken(context.Background(), wire.CreateTokenRequest{
		Name: "billing-export", Owner: testOwner, Purpose: "Nightly export of invoice totals to the finance data warehouse",
		Scopes: []string{"invoices:read"}, DataCategories: []string{"commercial"}, TTL: "20d",
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	ts.Clock.Advance(5 * day) // 15 days of its 20 remain
	importBlock := "import {\n  to = tokenguard_api_token.t\n  id = \"" + existing.ID + "\"\n}\n"
	w := newGateWorkdir(t, ts, ts.serveForCLI(t), "", importBlock+surpriseToken("10d", ""))
	w.mustRun("plan", "-input=false", "-no-color", "-out=short.tfplan")
	if got := w.planActions("short.tfplan", "tokenguard_api_token.t"); got != "delete,create" {
		t.Fatalf("importing with a ttl shorter than the remaining life planned %q, want delete,create", got)
	}
	w.write(ts, "", importBlock+surpriseToken("20d", ""))
	w.mustRun("apply", "-input=false", "-no-color", "-auto-approve") // imports, no change
	for ttl, want := range map[string]string{"10d": "delete,create", "16d": "update"} {
		w.write(ts, "", surpriseToken(ttl, ""))
		w.mustRun("plan", "-input=false", "-no-color", "-out=after.tfplan")
		if got := w.planActions("after.tfplan", "tokenguard_api_token.t"); got != want {
			t.Errorf("ttl %s after an import that changed nothing planned %q, want %s", ttl, got, want)
		}
	}
	w.mustRun("destroy", "-input=false", "-no-color", "-auto-approve")
}

package provider

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
)

// The provider overhead benchmarks (issue 5): terraform plan of 200 tokens with the policy
// gate on and off, and of 200 terraform_data resources as the peer, measured in the same run.
// Not run by CI: go test -run '^$' -bench Plan200 -benchtime 5x ./internal/provider/

// buildProvider builds the provider from this repository into a temporary directory, for
// dev_overrides: every plan then starts the real plugin process.
func buildProvider(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	goTool, err := exec.LookPath("go")
	if err != nil {
		b.Fatal("the go tool is not on PATH")
	}
	build := exec.Command(goTool, "build", "-o", filepath.Join(dir, "terraform-provider-tokenguard"), ".") //nolint:gosec // the go tool on PATH builds this repository
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("building the provider: %v\n%s", err, out)
	}
	return dir
}

// tokens200 declares 200 compliant tokens; policy is the provider's policy block.
func tokens200(policy string) string {
	return `terraform {
  required_providers {
    tokenguard = { source = "tokenguard/tokenguard" }
  }
}

provider "tokenguard" {
  policy = ` + policy + `
}

resource "tokenguard_api_token" "bench" {
  count           = 200
  name            = "bench-${count.index}"
  owner           = "team-billing@example.com"
  purpose         = "Reads invoice totals for the monthly revenue report"
  scopes          = ["invoices:read"]
  data_categories = ["commercial", "identifiers"]
  audiences       = ["warehouse"]
  ttl             = "30d"
  rotation        = { interval = "7d", overlap = "1h" }
}
`
}

// terraformData200 is the peer: 200 resources of Terraform's built-in terraform_data.
const terraformData200 = `resource "terraform_data" "bench" {
  count = 200
  input = {
    name    = "bench-${count.index}"
    purpose = "Reads invoice totals for the monthly revenue report"
  }
}
`

// planBench runs terraform plan on config b.N times. Every plan starts Terraform and the
// provider afresh, as in real use, so the gate's one-time bundle compilation is included.
func planBench(b *testing.B, config string) {
	tf := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if tf == "" {
		var err error
		if tf, err = exec.LookPath("terraform"); err != nil {
			b.Fatal("terraform is not on PATH and TF_ACC_TERRAFORM_PATH is empty")
		}
	}
	providerDir := buildProvider(b)
	svc := servertest.Start(b, servertest.Options{})
	cliConfig := filepath.Join(b.TempDir(), "terraformrc")
	rc := "provider_installation {\n  dev_overrides {\n    \"registry.terraform.io/tokenguard/tokenguard\" = \"" +
		filepath.ToSlash(providerDir) + "\"\n  }\n  direct {}\n}\n"
	if err := os.WriteFile(cliConfig, []byte(rc), 0o600); err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(config), 0o600); err != nil {
		b.Fatal(err)
	}
	env := append(os.Environ(), "TF_CLI_CONFIG_FILE="+cliConfig, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1",
		"TOKENGUARD_ENDPOINT="+svc.URL, "TOKENGUARD_TOKEN="+svc.AdminToken)
	var cpu time.Duration
	run := func(args ...string) {
		cmd := exec.Command(tf, args...) //nolint:gosec // the benchmark's terraform with its own arguments
		cmd.Dir, cmd.Env = dir, env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			b.Fatalf("terraform %v: %v\n%s", args, err, out.String())
		}
		// Terraform waits for its provider processes, so its CPU time includes theirs.
		cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		if !bytes.Contains(out.Bytes(), []byte("Plan: 200 to add")) {
			b.Fatalf("terraform %v did not plan 200 resources:\n%s", args, out.String())
		}
	}
	run("plan", "-input=false", "-no-color", "-lock=false") // warm the file cache
	cpu = 0
	b.ResetTimer()
	for b.Loop() {
		run("plan", "-input=false", "-no-color", "-lock=false")
	}
	b.StopTimer()
	measured[b.Name()] = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	measuredCPU[b.Name()] = float64(cpu.Nanoseconds()) / float64(b.N)
	b.ReportMetric(measuredCPU[b.Name()], "cpu-ns/op")
}

// measured and measuredCPU hold wall-clock and CPU (Terraform and provider) ns per plan of
// the benchmarks run so far, for the ratios.
var measured, measuredCPU = map[string]float64{}, map[string]float64{}

// reportRatio reports wall-clock and CPU time per plan of this benchmark over those of base,
// when base ran before it. The CPU ratio is the one to trust on a busy machine.
func reportRatio(b *testing.B, base, unit string) {
	if ns, ok := measured[base]; ok && ns > 0 {
		b.ReportMetric(measured[b.Name()]/ns, unit)
	}
	if ns, ok := measuredCPU[base]; ok && ns > 0 {
		b.ReportMetric(measuredCPU[b.Name()]/ns, "cpu-"+unit)
	}
}

// BenchmarkPlan200TerraformData is the peer: planning 200 terraform_data resources.
func BenchmarkPlan200TerraformData(b *testing.B) {
	planBench(b, terraformData200)
}

// BenchmarkPlan200Tokens_gateOff plans 200 tokens with policy.enforcement = "off".
func BenchmarkPlan200Tokens_gateOff(b *testing.B) {
	planBench(b, tokens200(`{ enforcement = "off" }`))
	reportRatio(b, "BenchmarkPlan200TerraformData", "x-terraform_data")
}

// BenchmarkPlan200Tokens_gateOn plans 200 tokens with the mandatory gate evaluating the
// embedded bundle on each; gate-off is the ratio to BenchmarkPlan200Tokens_gateOff.
func BenchmarkPlan200Tokens_gateOn(b *testing.B) {
	planBench(b, tokens200(`{ enforcement = "mandatory" }`))
	reportRatio(b, "BenchmarkPlan200Tokens_gateOff", "x-gate-off")
	reportRatio(b, "BenchmarkPlan200TerraformData", "x-terraform_data")
}

// BenchmarkPolicyGate_compile compiles the embedded bundle for the provider gate: the
// one-time cost of each provider process that plans with the gate on.
func BenchmarkPolicyGate_compile(b *testing.B) {
	for b.Loop() {
		var cache engineCache
		if _, err := cache.get(b.Context(), nil, "", nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPolicyGate_checkOneToken converts, normalises and evaluates one planned token
// with a compiled engine: the gate's cost per resource.
func BenchmarkPolicyGate_checkOneToken(b *testing.B) {
	ctx := b.Context()
	var cache engineCache
	engine, err := cache.get(ctx, nil, "", nil)
	if err != nil {
		b.Fatal(err)
	}
	g := &policyGate{mode: enforcementMandatory, engine: engine, now: newFakeClock().Now}
	var sr resource.SchemaResponse
	(&apiTokenResource{}).Schema(ctx, resource.SchemaRequest{}, &sr)
	typ := tokenType(b)
	after := tokenValue(b, map[string]tftypes.Value{
		"name": tfString("bench"), "owner": tfString("team-billing@example.com"),
		"purpose": tfString("Reads invoice totals for the monthly revenue report"),
		"scopes":  strSet("invoices:read"), "data_categories": strSet("commercial"), "ttl": tfString("30d"),
		"rotation": tftypes.NewValue(typ.AttributeTypes["rotation"], map[string]tftypes.Value{
			"interval": tfString("7d"), "overlap": tfString("1h")}),
		"secret": tftypes.NewValue(tftypes.String, tftypes.UnknownValue),
	})
	c := plannedToken{actions: []string{"create"}, before: tftypes.NewValue(typ, nil), after: after}
	for b.Loop() {
		var diags diag.Diagnostics
		g.check(ctx, sr.Schema, c, atPlan, &diags)
		if len(diags) != 0 {
			b.Fatal(diags)
		}
	}
}

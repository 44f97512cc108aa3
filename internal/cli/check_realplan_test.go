package cli

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
)

// realPlanNonCompliant breaks token rules (provider and check gates), a rule that needs the
// plan's outputs (CPRA-SEC-001) and one that needs the provider configurations (CPRA-SEC-002).
// The default provider is advisory, so the plan goes through and tokenguard check decides.
const realPlanNonCompliant = `terraform {
  required_providers {
    tokenguard = { source = "tokenguard/tokenguard" }
  }
}

# endpoint and token come from TOKENGUARD_ENDPOINT and TOKENGUARD_TOKEN.
provider "tokenguard" {
  policy = { enforcement = "advisory" }
}

provider "tokenguard" {
  alias         = "legacy"
  endpoint      = "http://tokens.legacy.example:8080"
  insecure_http = true
  policy        = { enforcement = "off" }
}

resource "tokenguard_api_token" "wildcard" {
  name            = "invoice-reader"
  owner           = "team-billing@example.com"
  purpose         = "Reads invoice totals for the monthly revenue report"
  scopes          = ["invoices:*"]
  data_categories = ["commercial"]
  ttl             = "30d"
  rotation        = { interval = "7d", overlap = "1h" }
}

resource "tokenguard_api_token" "health_export" {
  name            = "lab-results-export"
  owner           = "team-claims@example.com"
  purpose         = "Exports lab results to the billing system for insurance claims"
  scopes          = ["claims:write"]
  data_categories = ["health"]
  ttl             = "60d"
  rotation        = { interval = "5d", overlap = "1h" }
}

resource "tokenguard_api_token" "legacy" {
  provider        = tokenguard.legacy
  name            = "legacy-sync"
  owner           = "team-legacy@example.com"
  purpose         = "Synchronises customer records with the legacy CRM nightly"
  scopes          = ["customers:read"]
  data_categories = ["customer_records"]
  ttl             = "60d"
}

output "health_export_secret" {
  value = nonsensitive(tokenguard_api_token.health_export.secret)
}
`

// realPlanWant is the exact set of rule ids per address of realPlanNonCompliant.
const realPlanWant = `provider.tokenguard.legacy: CPRA-SEC-002
tokenguard_api_token.health_export: CPRA-RET-002, CPRA-SEC-001, CPRA-SEC-003, CPRA-SPI-001
tokenguard_api_token.legacy: CPRA-ROT-001
tokenguard_api_token.wildcard: CPRA-MIN-002`

// realTerraform is a Terraform working directory that uses the provider built from this
// repository through dev_overrides, so nothing is downloaded.
type realTerraform struct {
	t        *testing.T
	bin, dir string
	env      []string
}

// newRealTerraform builds the provider into a temporary directory, writes a CLI configuration
// whose dev_overrides point at it and returns the environment that uses both, pointed at svc.
func newRealTerraform(t *testing.T, svc *servertest.Service) realTerraform {
	t.Helper()
	tf := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if tf == "" {
		var err error
		if tf, err = exec.LookPath("terraform"); err != nil {
			t.Fatal("TF_ACC=1 but terraform is not on PATH and TF_ACC_TERRAFORM_PATH is empty")
		}
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatal("TF_ACC=1 needs the go tool on PATH to build the provider")
	}
	plugins := t.TempDir()
	build := exec.Command(goTool, "build", "-o", filepath.Join(plugins, "terraform-provider-tokenguard"), ".") //nolint:gosec // the go tool on PATH builds this repository
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the provider: %v\n%s", err, out)
	}
	cliConfig := filepath.Join(t.TempDir(), "terraformrc")
	if err := os.WriteFile(cliConfig, []byte(`provider_installation {
  dev_overrides {
    "registry.terraform.io/tokenguard/tokenguard" = "`+filepath.ToSlash(plugins)+`"
  }
  direct {}
}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	return realTerraform{t: t, bin: tf, env: []string{
		"TF_CLI_CONFIG_FILE=" + cliConfig, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1",
		"TOKENGUARD_ENDPOINT=" + svc.URL, "TOKENGUARD_TOKEN=" + svc.AdminToken,
	}}
}

// in returns tf working in a new directory holding files (name → content).
func (tf realTerraform) in(files map[string]string) realTerraform {
	tf.t.Helper()
	tf.dir = tf.t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(tf.dir, name), []byte(content), 0o600); err != nil {
			tf.t.Fatal(err)
		}
	}
	return tf
}

// setenv exports tf's environment into the test process, for in-process CLI commands that
// run terraform themselves (inventory --dir); t.Setenv restores it when the test ends.
func (tf realTerraform) setenv() {
	tf.t.Helper()
	for _, kv := range tf.env {
		k, v, _ := strings.Cut(kv, "=")
		tf.t.Setenv(k, v)
	}
}

// run runs terraform and returns its stdout; stderr is reported when it fails.
func (tf realTerraform) run(args ...string) string {
	tf.t.Helper()
	cmd := exec.Command(tf.bin, args...) //nolint:gosec // the test's terraform with the test's arguments
	cmd.Dir = tf.dir
	cmd.Env = append(os.Environ(), tf.env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		tf.t.Fatalf("terraform %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// planJSON plans into tfplan and writes terraform show -json of it to plan.json.
func (tf realTerraform) planJSON(vars ...string) string {
	tf.t.Helper()
	tf.run(append([]string{"plan", "-input=false", "-no-color", "-out=tfplan"}, vars...)...)
	file := filepath.Join(tf.dir, "plan.json")
	if err := os.WriteFile(file, []byte(tf.run("show", "-json", "tfplan")), 0o600); err != nil {
		tf.t.Fatal(err)
	}
	return file
}

func readExample(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", rel)) //nolint:gosec // a documented example of this repository
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAccCheck_realTerraformPlans checks plans made by the real Terraform CLI with the
// provider built from this repository (issue 4): the documented example is compliant, before
// apply (create) and after it (no-op, refreshed from the running service); the non-compliant
// configuration gives exactly the expected rule ids per address, from plan JSON and from the
// binary plan file alike.
func TestAccCheck_realTerraformPlans(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1 to run it with the terraform CLI on PATH (it builds the provider)")
	}
	svc := servertest.Start(t, servertest.Options{})
	base := newRealTerraform(t, svc)

	t.Run("compliant example", func(t *testing.T) {
		tf := base.in(map[string]string{
			"provider.tf": readExample(t, "provider/provider.tf"),
			"resource.tf": readExample(t, "resources/tokenguard_api_token/resource.tf"),
			// The example's endpoint is a placeholder: point it at the running service.
			"provider_override.tf": fmt.Sprintf("provider \"tokenguard\" {\n  endpoint = %q\n}\n", svc.URL),
		})
		tf.t = t
		for _, step := range []string{"create", "no-op"} {
			plan := tf.planJSON("-var", "release=r1")
			code, out, errs := runCLI(t, "", "check", "--format", "json", plan)
			r := decodeReport(t, out)
			if code != 0 || len(r.Findings) != 0 {
				t.Fatalf("%s plan: check exited %d with findings:\n%s\n%s", step, code, rulesByAddress(r), errs)
			}
			if r.Summary["resources_checked"] != 1 {
				t.Fatalf("%s plan: %d resources checked, want 1 (tokenguard_api_token.billing_export)", step, r.Summary["resources_checked"])
			}
			b, err := os.ReadFile(plan) //nolint:gosec // the plan this test wrote
			if err != nil {
				t.Fatal(err)
			}
			if want := `"actions":["` + step + `"]`; !strings.Contains(string(b), want) {
				t.Fatalf("the %s plan has no change with %s", step, want)
			}
			if step == "create" {
				tf.run("apply", "-input=false", "-no-color", "tfplan")
			}
		}
		tf.run("destroy", "-input=false", "-no-color", "-auto-approve", "-var", "release=r1")
	})

	t.Run("non-compliant", func(t *testing.T) {
		tf := base.in(map[string]string{"main.tf": realPlanNonCompliant})
		tf.t = t
		plan := tf.planJSON()
		code, out, errs := runCLI(t, "", "check", "--format", "json", plan)
		if got := rulesByAddress(decodeReport(t, out)); code != 1 || got != realPlanWant {
			t.Fatalf("check of the plan JSON exited %d with\n%s\nwant 1 with\n%s\n%s", code, got, realPlanWant, errs)
		}
		if strings.Contains(out, "tg_") {
			t.Error("the report contains something shaped like a token secret")
		}

		// The binary plan: tokenguard runs terraform show -json itself, in --config-dir.
		for _, kv := range tf.env {
			k, v, _ := strings.Cut(kv, "=")
			t.Setenv(k, v)
		}
		t.Setenv("PATH", filepath.Dir(tf.bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
		code, out, errs = runCLI(t, "", "check", "--format", "json", "--config-dir", tf.dir, filepath.Join(tf.dir, "tfplan"))
		if got := rulesByAddress(decodeReport(t, out)); code != 1 || got != realPlanWant {
			t.Fatalf("check of the binary plan exited %d with\n%s\nwant 1 with\n%s\n%s", code, got, realPlanWant, errs)
		}
	})
}

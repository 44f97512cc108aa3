package provider

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
)

func TestEndpointProblem(t *testing.T) {
	cases := []struct {
		endpoint string
		insecure bool
		want     string // substring of the problem; "" means accepted
	}{
		{"https://tokens.example.com", false, ""},
		{"http://127.0.0.1:8080", false, ""},
		{"http://[::1]:8080", false, ""},
		{"http://localhost:8080", false, ""},
		{"http://tokens.example.com", false, "plain HTTP on a non-loopback host"},
		{"http://10.0.0.5:8080", false, "plain HTTP on a non-loopback host"},
		{"http://tokens.example.com", true, ""},
		{"ftp://tokens.example.com", false, `has scheme "ftp"`},
		{"tokens.example.com", false, "is not an absolute URL"},
	}
	for _, c := range cases {
		got := endpointProblem(c.endpoint, c.insecure)
		if c.want == "" && got != "" || c.want != "" && !regexp.MustCompile(regexp.QuoteMeta(c.want)).MatchString(got) {
			t.Errorf("endpointProblem(%q, %v) = %q, want %q", c.endpoint, c.insecure, got, c.want)
		}
	}
}

func TestCompactDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		30 * day:                               "30d",
		time.Hour:                              "1h",
		90 * time.Minute:                       "90m",
		12 * time.Hour:                         "12h",
		45 * time.Second:                       "45s",
		time.Hour + time.Second:                "3601s",
		36 * time.Hour:                         "36h",
		2*day + 30*time.Minute:                 "2910m",
		time.Duration(1500) * time.Millisecond: "1.5s",
	} {
		if got := compactDuration(d); got != want {
			t.Errorf("compactDuration(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestSameDurationKeepsPractitionerSpelling(t *testing.T) {
	cases := []struct {
		got   string
		prior types.String
		want  types.String
	}{
		{"168h0m0s", types.StringValue("7d"), types.StringValue("7d")},
		{"7d", types.StringValue("168h"), types.StringValue("168h")},
		{"1h0m0s", types.StringNull(), types.StringValue("1h")},
		{"14d", types.StringValue("7d"), types.StringValue("14d")},
		{"", types.StringNull(), types.StringNull()},
		{"0s", types.StringNull(), types.StringNull()},
	}
	for _, c := range cases {
		if got := sameDuration(c.got, c.prior); !got.Equal(c.want) {
			t.Errorf("sameDuration(%q, %s) = %s, want %s", c.got, c.prior, got, c.want)
		}
	}
}

func TestDerivedTTL(t *testing.T) {
	created := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for lifetime, want := range map[time.Duration]string{
		30 * day:                         "30d",
		12 * time.Hour:                   "12h",
		20*day + 3*time.Hour:             "483h",
		time.Hour + 400*time.Microsecond: "1h",
	} {
		if got := derivedTTL(created, created.Add(lifetime)); got != want {
			t.Errorf("derivedTTL over %s = %q, want %q", lifetime, got, want)
		}
	}
}

func TestAttributePath(t *testing.T) {
	for field, want := range map[string]path.Path{
		"ttl":               path.Root("ttl"),
		"rotation.interval": path.Root("rotation").AtName("interval"),
		"reviewed_by":       path.Root("renewal").AtName("reviewed_by"),
	} {
		got, ok := attributePath(field)
		if !ok || !got.Equal(want) {
			t.Errorf("attributePath(%q) = %s, %v; want %s", field, got, ok, want)
		}
	}
	for _, field := range []string{"", "overlap", "rotation.cadence", "secret"} {
		if got, ok := attributePath(field); ok {
			t.Errorf("attributePath(%q) = %s, want no attribute", field, got)
		}
	}
}

func TestAccProvider_refusesPlainHTTPOnNonLoopbackHost(t *testing.T) {
	ts := newTestService(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: ts.factories(),
		Steps: []resource.TestStep{
			{
				Config: `provider "tokenguard" {
  endpoint = "http://tokens.example.com"
  token    = "tgc_not_used"
}

data "tokenguard_api_tokens" "all" {}
`,
				ExpectError: regexp.MustCompile(`Invalid Token Service Endpoint[\s\S]*plain HTTP on a\s+non-loopback\s+host`),
			},
			{
				Config: `provider "tokenguard" {
  endpoint = "https://tokens.example.com"
}

data "tokenguard_api_tokens" "all" {}
`,
				ExpectError: regexp.MustCompile(`Missing Token Service Credential[\s\S]*TOKENGUARD_TOKEN`),
			},
		},
	})
}

func TestAccProvider_configurationFromEnvironment(t *testing.T) {
	ts := newTestService(t)
	inv := seedInventory(t, ts)
	t.Setenv(envEndpoint, ts.URL) // read by the provider, which runs in this process
	t.Setenv(envToken, ts.Admin)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: ts.factories(),
		Steps: []resource.TestStep{
			{
				Config: `data "tokenguard_api_tokens" "revoked" { status = "revoked" }`,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.tokenguard_api_tokens.revoked", at("ids"), idsExact(inv.c.ID)),
				},
			},
		},
	})
}

// TestAccExamples_validate runs `terraform validate` on every documented example, with the
// provider served in-process. The identity import example needs Terraform >= 1.12 and the
// list resource example Terraform >= 1.14, so they are checked as text only.
func TestAccExamples_validate(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("Acceptance tests skipped unless env 'TF_ACC' set") // the framework's standard gate
	}
	bin := terraformBinary(t)
	ts := newTestService(t)
	reattach := ts.serveForCLI(t)
	sets := map[string][]string{
		"resource":       {"resources/tokenguard_api_token/resource.tf", "resources/tokenguard_api_token/import-by-string-id.tf"},
		"data sources":   {"data-sources/tokenguard_api_token/data-source.tf", "data-sources/tokenguard_api_tokens/data-source.tf"},
		"ephemeral":      {"ephemeral-resources/tokenguard_api_token/ephemeral-resource.tf"},
		"provider alone": {},
	}
	for name, files := range sets {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			copyFile(t, "../../examples/provider/provider.tf", filepath.Join(dir, "provider.tf"))
			for i, f := range files {
				copyFile(t, filepath.Join("../../examples", f), filepath.Join(dir, fmt.Sprintf("example%d.tf", i)))
			}
			tf := terraformCLI{t: t, bin: bin, dir: dir, env: []string{"TF_REATTACH_PROVIDERS=" + reattach, "CHECKPOINT_DISABLE=1"}}
			tf.run("init", "-input=false", "-no-color", "-backend=false")
			if out := tf.run("validate", "-no-color"); !strings.Contains(out, "The configuration is valid") {
				t.Fatalf("terraform validate:\n%s", out)
			}
		})
	}
	for _, f := range []string{"resources/tokenguard_api_token/terraform-1.12/import-by-identity.tf", "list-resources/tokenguard_api_token/list-resource.tfquery.hcl"} {
		b, err := os.ReadFile(filepath.Join("../../examples", f)) //nolint:gosec // G304: an example file of this repository
		if err != nil || !strings.Contains(string(b), "tokenguard_api_token") {
			t.Errorf("example %s is missing or does not use tokenguard_api_token (%v)", f, err)
		}
	}
}

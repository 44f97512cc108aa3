package policy

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/testenv"
)

func TestReadPlan_readsEveryCorpusPlan(t *testing.T) {
	for _, f := range testenv.CorpusPlans(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f) //nolint:gosec // G304: a plan from the test corpus directory
			if err != nil {
				t.Fatal(err)
			}
			p, err := ReadPlan(bytes.NewReader(b))
			if filepath.Base(f) == "invalid__plan.json" {
				if !errors.Is(err, ErrInvalidPlan) || !strings.Contains(err.Error(), "unexpected data after the plan object") {
					t.Fatalf("invalid plan: got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ReadPlan: %v", err)
			}
			if len(p.Changes) != 0 {
				t.Errorf("corpus plans hold no token-like resources, got %d", len(p.Changes))
			}
		})
	}
}

func TestReadPlan_rejectsBadInput(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"empty", "", "input is empty"},
		{"whitespace", "  \n", "input is empty"},
		{"not JSON", "resource \"x\" \"y\" {}", "input is not JSON"},
		{"truncated", `{"format_version":"1.2","planned_values":{"root_module":{`, "input is truncated"},
		{"truncated in changes", `{"format_version":"1.2","resource_changes":[{"type":"tokenguard_api_token","change":{"after":`, "input is truncated"},
		{"array", `[1,2]`, "expected a JSON object, found an array"},
		{"state file", `{"format_version":"1.0","terraform_version":"1.9.0","values":{"root_module":{}}}`, "is a Terraform state file, not a plan"},
		{"raw tfstate", `{"version":4,"terraform_version":"1.11.4","serial":3,"lineage":"b1e2","outputs":{},"resources":[{"mode":"managed","type":"tokenguard_api_token","name":"a","instances":[]}]}`, "is a Terraform state file, not a plan"},
		{"raw tfstate, no resources yet", `{"version":4,"terraform_version":"1.11.4","serial":1,"lineage":"b1e2","outputs":{},"resources":[]}`, "is a Terraform state file, not a plan"},
		{"version and resources, not numeric", `{"version":"4","resources":[]}`, "not a Terraform plan: it has no planned_values or resource_changes"},
		{"other JSON", `{"name":"x"}`, "not a Terraform plan: it has no planned_values or resource_changes"},
		{"format 2", `{"format_version":"2.0","planned_values":{}}`, `unsupported plan format_version "2.0"`},
		{"no format", `{"planned_values":{}}`, "format_version is missing"},
		{"trailing data", `{"format_version":"1.2","planned_values":{}} {}`, "unexpected data after the plan object"},
		{"bad timestamp", `{"format_version":"1.2","planned_values":{},"timestamp":"yesterday"}`, `plan timestamp "yesterday" is not an RFC 3339 time`},
		{"changes not array", `{"format_version":"1.2","resource_changes":{}}`, "resource_changes is an object, expected an array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadPlan(strings.NewReader(tt.in))
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrInvalidPlan) {
				t.Errorf("error does not wrap ErrInvalidPlan: %v", err)
			}
			if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q: want one line containing %q", err, tt.want)
			}
		})
	}
}

func TestReadPlan_keepsOnlyTokenLikeChangesAndPlanFacts(t *testing.T) {
	p, err := ReadPlan(bytes.NewReader(readFixture(t, "tokenguard.json")))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range p.Changes {
		got = append(got, c.Address)
	}
	want := []string{"tokenguard_api_token.good", `module.app.tokenguard_api_token.generic["eu"]`, "tokenguard_api_token.pending", "tokenguard_api_token.retired", "tokenguard_api_token.existing"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("changes = %q, want %q", got, want)
	}
	if p.ResourceChanges != 7 {
		t.Errorf("ResourceChanges = %d, want 7", p.ResourceChanges)
	}
	if p.Timestamp == nil || !p.Timestamp.Equal(planTime) {
		t.Errorf("Timestamp = %v", p.Timestamp)
	}
	if len(p.Outputs) != 2 || p.Outputs[0].Name != "leak" || p.Outputs[0].Sensitive || p.Outputs[0].References[0] != "tokenguard_api_token.existing.secret" || !p.Outputs[1].Sensitive {
		t.Errorf("Outputs = %+v", p.Outputs)
	}
	if len(p.ProviderEndpoints) != 1 || *p.ProviderEndpoints[0].Endpoint != "http://tokens.example.com:8080" || !p.ProviderEndpoints[0].InsecureHTTP || p.ProviderEndpoints[0].Alias != "" {
		t.Errorf("ProviderEndpoints = %+v", p.ProviderEndpoints)
	}
}

// TestReadPlan_providerBlocksInExpressions: Terraform writes a provider's nested blocks
// (aws default_tags, assume_role) in configuration expressions as arrays of objects; a plan
// with them is read, and the tokenguard endpoint beside them still is.
func TestReadPlan_providerBlocksInExpressions(t *testing.T) {
	src := `{"format_version":"1.2","planned_values":{},"configuration":{"provider_config":{` +
		`"aws":{"name":"aws","full_name":"registry.terraform.io/hashicorp/aws","expressions":{"region":{"constant_value":"us-east-1"},"default_tags":[{"tags":{"constant_value":{"team":"x"}}}],"assume_role":[{"role_arn":{"references":["var.role"]}}]}},` +
		`"tokenguard":{"name":"tokenguard","full_name":"registry.terraform.io/tokenguard/tokenguard","expressions":{"endpoint":{"constant_value":"http://tokens.example.com"},"policy":{"enforcement":{"references":["var.e"]}}}}}}}`
	p, err := ReadPlan(strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.ProviderEndpoints) != 1 || p.ProviderEndpoints[0].Endpoint == nil || *p.ProviderEndpoints[0].Endpoint != "http://tokens.example.com" {
		t.Errorf("endpoints = %+v", p.ProviderEndpoints)
	}
}

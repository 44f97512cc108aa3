package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokenguard/terraform-provider-tokenguard/policies"
)

// TestResourceTypes_verdictsPerType checks one fixture resource of every supported type, in
// the create form (what a first plan shows) and the no-op form (the same resource once it
// exists, with the values its provider computes), against the shipped bundle: each address
// gets exactly the rule ids listed. The fixtures are written from each provider's resource
// documentation (testdata/plans/types_*.json).
func TestResourceTypes_verdictsPerType(t *testing.T) {
	want := map[string]map[string]string{
		"create": { //nolint:gosec // G101: resource types and rule ids, not credentials
			"tokenguard_api_token":                "",
			"gitlab_personal_access_token":        "CPRA-XPR-003",
			"gitlab_project_access_token":         "",
			"gitlab_group_access_token":           "CPRA-XPR-002,CPRA-XPR-003,CPRA-XPR-004",
			"gitlab_deploy_token":                 "CPRA-XPR-001",
			"cloudflare_api_token":                "CPRA-XPR-003,CPRA-XPR-004",
			"tfe_team_token":                      "CPRA-XPR-003",
			"tfe_organization_token":              "CPRA-XPR-001",
			"grafana_cloud_access_policy_token":   "CPRA-XPR-003",
			"grafana_service_account_token":       "",
			"vault_token":                         "",
			"aws_iam_access_key":                  "CPRA-XPR-001",
			"aws_iam_service_specific_credential": "CPRA-XPR-001",
			"google_service_account_key":          "CPRA-XPR-001",
			"google_apikeys_key":                  "CPRA-XPR-001",
			"azuread_application_password":        "CPRA-XPR-002,CPRA-XPR-003",
			"azuread_service_principal_password":  "CPRA-XPR-003",
			"datadog_api_key":                     "CPRA-XPR-001",
			"datadog_application_key":             "CPRA-XPR-001",
		},
		"noop": { //nolint:gosec // G101: resource types and rule ids, not credentials
			"tokenguard_api_token":                "",
			"gitlab_personal_access_token":        "CPRA-XPR-003",
			"gitlab_project_access_token":         "",
			"gitlab_group_access_token":           "CPRA-XPR-002,CPRA-XPR-003,CPRA-XPR-004",
			"gitlab_deploy_token":                 "CPRA-XPR-001",
			"cloudflare_api_token":                "CPRA-XPR-003,CPRA-XPR-004",
			"tfe_team_token":                      "CPRA-XPR-003",
			"tfe_organization_token":              "CPRA-XPR-001",
			"grafana_cloud_access_policy_token":   "CPRA-XPR-003",
			"grafana_service_account_token":       "",
			"vault_token":                         "",
			"aws_iam_access_key":                  "CPRA-XPR-001,CPRA-XPR-003",
			"aws_iam_service_specific_credential": "CPRA-XPR-001,CPRA-XPR-003",
			"google_service_account_key":          "CPRA-XPR-001,CPRA-XPR-003",
			"google_apikeys_key":                  "CPRA-XPR-001",
			"azuread_application_password":        "CPRA-XPR-002,CPRA-XPR-003",
			"azuread_service_principal_password":  "CPRA-XPR-003",
			"datadog_api_key":                     "CPRA-XPR-001",
			"datadog_application_key":             "CPRA-XPR-001",
		},
	}
	e, err := NewEngine(context.Background(), Options{Bundle: policies.FS, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	for form, types := range want {
		t.Run(form, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join("testdata", "plans", "types_"+form+".json")) //nolint:gosec // G304: a fixture of testdata/
			if err != nil {
				t.Fatal(err)
			}
			res, err := e.EvaluatePlan(context.Background(), bytes.NewReader(src))
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][]string{}
			for _, f := range res.Findings {
				got[f.Address] = append(got[f.Address], f.RuleID)
			}
			if res.ResourcesChecked != len(TokenTypes()) {
				t.Errorf("%d resources checked, want one per supported type (%d)", res.ResourcesChecked, len(TokenTypes()))
			}
			for _, typ := range TokenTypes() {
				w, ok := types[typ]
				if !ok {
					t.Errorf("%s: no expected verdict", typ)
					continue
				}
				if g := strings.Join(got[typ+".this"], ","); g != w {
					t.Errorf("%s.this: rules %q, want %q", typ, g, w)
				}
			}
			b, _ := json.Marshal(res.Findings)
			if bytes.Contains(b, []byte("SECRETSECRET")) {
				t.Error("a secret of the fixtures reached the findings")
			}
		})
	}
}

// TestResourceTypes_inactiveAWSKeyIsNotAnError: an Inactive access key cannot authenticate;
// it gets no finding, however old, while the same key Active gets XPR-001 and XPR-003.
func TestResourceTypes_inactiveAWSKeyIsNotAnError(t *testing.T) {
	e, err := NewEngine(context.Background(), Options{Bundle: policies.FS, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	for status, want := range map[string]string{"Inactive": "", "Active": "CPRA-XPR-001,CPRA-XPR-003"} {
		state := map[string]any{"user": "ci", "status": status, "create_date": "2025-01-01T00:00:00Z", "secret": "awsSECRETSECRET"}
		rc := change("aws_iam_access_key", "k", []string{"no-op"}, state, state, nil)
		res, err := e.EvaluatePlan(context.Background(), bytes.NewReader(planJSON(t, rc)))
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, f := range res.Findings {
			ids = append(ids, f.RuleID)
		}
		if got := strings.Join(ids, ","); got != want {
			t.Errorf("status %s: rules %q, want %q", status, got, want)
		}
	}
}

// TestResourceTypes_noIdleTimeWithoutLastUse: a gitlab token exposes no last use, so an old
// active one is not "unused" (it was, from created_at, before issue 15).
func TestResourceTypes_noIdleTimeWithoutLastUse(t *testing.T) {
	state := map[string]any{"name": "ci", "scopes": []any{"read_api"}, "expires_at": "2027-01-01", "active": true, "revoked": false, "created_at": "2026-01-01T00:00:00Z"}
	tok := NormalizeToken(TokenChange{Type: "gitlab_project_access_token", Actions: []string{"no-op"}, Before: state, After: state}, planTime)
	if tok.Fields.UnusedSeconds != nil {
		t.Errorf("unused_seconds = %d, want null: gitlab exposes no last use", *tok.Fields.UnusedSeconds)
	}
}

// TestResourceTypes_guideListsEveryType: the supported types table of the CPRA mapping guide
// names exactly the types the checker reads.
func TestResourceTypes_guideListsEveryType(t *testing.T) {
	src, err := os.ReadFile("../../docs/guides/cpra-mapping.md")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, line := range strings.Split(string(src), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		first := strings.Split(line, "|")[1]
		for _, part := range strings.Split(first, ",") {
			listed[strings.Trim(strings.TrimSpace(part), "`")] = true
		}
	}
	for _, typ := range TokenTypes() {
		if !listed[typ] {
			t.Errorf("%s is read by the checker but missing from the guide's table", typ)
		}
		delete(listed, typ)
	}
	for typ := range listed {
		t.Errorf("the guide lists %s, which the checker does not read", typ)
	}
}

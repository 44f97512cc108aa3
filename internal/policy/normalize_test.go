package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func normalizedFixture(t *testing.T) map[string]Token {
	t.Helper()
	p, err := ReadPlan(bytes.NewReader(readFixture(t, "tokenguard.json")))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]Token{}
	for _, tok := range Normalize(p, *p.Timestamp) {
		out[tok.Address] = tok
	}
	return out
}

func TestNormalize_tokenguardFields(t *testing.T) {
	toks := normalizedFixture(t)
	if _, ok := toks["tokenguard_api_token.retired"]; ok {
		t.Error("delete-only change was normalised")
	}
	existing := toks["tokenguard_api_token.existing"]
	got, _ := json.Marshal(existing.Fields.value())
	want := `{"age_seconds":null,"audiences":["billing-api"],"data_categories":["commercial"],"data_subjects":[],"expires_at":"2026-10-01T00:00:00Z","expires_in_seconds":-4968000,"last_used_at":"2026-09-20T00:00:00Z","name":"legacy-export","never_expires":false,"owner":"team-billing","purpose":"Exports customer records to the CRM nightly for support lookups","recipient":null,"renewal":null,"renewal_requested":false,"rotation_configured":true,"rotation_interval_seconds":604800,"rotation_overlap_seconds":3600,"scopes":["invoices:read"],"status":"active","ttl_seconds":2592000,"unused_seconds":5918400}`
	if string(got) != want {
		t.Errorf("existing fields:\n%s\nwant\n%s", got, want)
	}
	if existing.ManagedBy != "tokenguard" || existing.Module != "" || strings.Join(existing.Actions, ",") != "no-op" {
		t.Errorf("existing = %+v", existing)
	}
	pending := toks["tokenguard_api_token.pending"]
	if pending.Fields.Purpose != nil || pending.Fields.TTLSeconds != nil {
		t.Errorf("unknown purpose/ttl must be null: %+v", pending.Fields)
	}
	if strings.Join(pending.Unknown, ",") != "created_at,expires_at,fingerprint,id,last_used_at,purpose,rotated_at,secret,secret_version,status,ttl" {
		t.Errorf("pending unknown = %v", pending.Unknown)
	}
	generic := toks[`module.app.tokenguard_api_token.generic["eu"]`]
	if generic.Module != "module.app" || *generic.Fields.TTLSeconds != 365*86400 || generic.Fields.UnusedSeconds != nil {
		t.Errorf("generic = %+v", generic.Fields)
	}
}

func TestNormalize_sensitiveValuesAreStripped(t *testing.T) {
	toks := normalizedFixture(t)
	existing := toks["tokenguard_api_token.existing"]
	if existing.Before["secret"] != nil || existing.After["secret"] != nil {
		t.Error("secret survived normalisation")
	}
	if strings.Join(existing.Sensitive, ",") != "secret" {
		t.Errorf("sensitive = %v", existing.Sensitive)
	}
	for _, tok := range toks {
		b, err := json.Marshal(tok)
		if err != nil { // an empty encoding would pass the check below vacuously
			t.Fatalf("%s: %v", tok.Address, err)
		}
		if bytes.Contains(b, []byte("SECRETSECRET")) {
			t.Errorf("%s: input.token holds the secret", tok.Address)
		}
	}
	// A secret attribute the plan forgot to mark sensitive is stripped all the same.
	tok := NormalizeToken(TokenChange{Type: "gitlab_project_access_token", Actions: []string{"create"},
		After: map[string]any{"token": "glpat-abcdef", "nested": map[string]any{"k": "v"}}, Sensitive: []string{"nested.k"}}, planTime)
	if tok.After["token"] != nil || tok.After["nested"].(map[string]any)["k"] != nil || strings.Join(tok.Sensitive, ",") != "nested.k,token" {
		t.Errorf("after = %v, sensitive = %v", tok.After, tok.Sensitive)
	}
}

func TestNormalize_wholeObjectSensitive(t *testing.T) {
	rc := change(TokenguardType, "x", []string{"create"}, nil, map[string]any{"purpose": "Reads invoices for the monthly report", "secret": "tg_x"}, nil)
	rc["change"].(map[string]any)["after_sensitive"] = true
	p, err := ReadPlan(bytes.NewReader(planJSON(t, rc)))
	if err != nil {
		t.Fatal(err)
	}
	tok := Normalize(p, planTime)[0]
	// Issue 15: sensitive values are judged (fields hold the purpose), never kept raw.
	if tok.After["purpose"] != nil || tok.After["secret"] != nil || strings.Join(tok.Sensitive, ",") != "purpose,secret" ||
		tok.Fields.Purpose == nil || *tok.Fields.Purpose != "Reads invoices for the monthly report" || strings.Join(tok.withheld, ",") != "purpose" {
		t.Errorf("after = %v, sensitive = %v, withheld = %v", tok.After, tok.Sensitive, tok.withheld)
	}
}

func TestNormalize_unknownRotationIntervalIsConfigured(t *testing.T) {
	tok := NormalizeToken(TokenChange{Type: TokenguardType, Actions: []string{"create"},
		After: map[string]any{"rotation": map[string]any{"overlap": "1h"}}, Unknown: []string{"rotation.interval"}}, planTime)
	if !tok.Fields.RotationConfigured || tok.Fields.RotationIntervalSeconds != nil || *tok.Fields.RotationOverlapSeconds != 3600 {
		t.Errorf("fields = %+v", tok.Fields)
	}
}

func TestNormalize_renewalRequested(t *testing.T) {
	before := map[string]any{"ttl": "30d", "expires_at": "2026-12-01T00:00:00Z", "status": "active"}
	after := map[string]any{"ttl": "60d", "renewal": map[string]any{"reason": "Quarter close", "reviewed_by": "privacy@example.com"}}
	tok := NormalizeToken(TokenChange{Type: TokenguardType, Actions: []string{"update"}, Before: before, After: after, Unknown: []string{"expires_at"}}, planTime)
	f := tok.Fields
	if !f.RenewalRequested || f.Renewal == nil || *f.Renewal.Reason != "Quarter close" || *f.Renewal.ReviewedBy != "privacy@example.com" {
		t.Errorf("renewal: %+v", f)
	}
	after["ttl"] = "30d"
	if NormalizeToken(TokenChange{Type: TokenguardType, Actions: []string{"update"}, Before: before, After: after}, planTime).Fields.RenewalRequested {
		t.Error("unchanged ttl is not a renewal")
	}
}

// externalCase is one other provider's token with the fields it must normalise to and the
// fixture-bundle rule ids it must raise.
type externalCase struct {
	name, typ     string
	actions       []string
	before, after map[string]any
	unknown       map[string]any
	fields        string // selected fields, as JSON
	rules         string
}

func selectedFields(f Fields) string {
	v := f.value()
	sel := map[string]any{}
	for _, k := range []string{"name", "purpose", "scopes", "ttl_seconds", "expires_at", "expires_in_seconds", "never_expires", "rotation_configured", "rotation_interval_seconds", "status"} {
		if v[k] != nil && v[k] != false {
			sel[k] = v[k]
		}
	}
	b, _ := json.Marshal(sel)
	return string(b)
}

func TestNormalize_externalTokens(t *testing.T) {
	create := []string{"create"}
	noop := []string{"no-op"}
	cases := []externalCase{
		{"compliant", "gitlab_personal_access_token", create, nil,
			map[string]any{"name": "ci", "user_id": 4, "scopes": []any{"read_api"}, "expires_at": "2027-01-15", "description": "CI reads merge request metadata", "rotation_configuration": nil, "token": "glpat-secret"},
			map[string]any{"token": true, "id": true, "active": true, "revoked": true, "created_at": true},
			`{"expires_at":"2027-01-15T00:00:00Z","expires_in_seconds":4190400,"name":"ci","purpose":"CI reads merge request metadata","scopes":["read_api"]}`, ""},
		{"no expiry", "gitlab_personal_access_token", create, nil,
			map[string]any{"name": "ci", "scopes": []any{"api"}, "expires_at": nil, "rotation_configuration": nil},
			map[string]any{"token": true},
			`{"name":"ci","never_expires":true,"scopes":["api"]}`, "TEST-EXPIRY"},
		{"expiry unknown", "gitlab_personal_access_token", create, nil,
			map[string]any{"name": "ci", "scopes": []any{"api"}, "rotation_configuration": nil},
			map[string]any{"token": true, "expires_at": true},
			`{"name":"ci","scopes":["api"]}`, ""},
		{"compliant", "gitlab_project_access_token", create, nil,
			map[string]any{"name": "deploy", "scopes": []any{"read_repository"}, "access_level": "developer", "rotation_configuration": map[string]any{"expiration_days": 30, "rotate_before_days": 7}},
			map[string]any{"token": true, "expires_at": true},
			`{"name":"deploy","rotation_configured":true,"rotation_interval_seconds":1987200,"scopes":["read_repository"],"ttl_seconds":2592000}`, ""},
		{"too far", "gitlab_project_access_token", create, nil,
			map[string]any{"name": "deploy", "scopes": []any{"read_repository"}, "expires_at": "2028-01-01"},
			nil,
			`{"expires_at":"2028-01-01T00:00:00Z","expires_in_seconds":34516800,"name":"deploy","scopes":["read_repository"]}`, "TEST-EXPIRY"},
		{"compliant", "gitlab_group_access_token", noop,
			map[string]any{"name": "g", "scopes": []any{"read_api"}, "expires_at": "2027-01-01", "active": true, "revoked": false, "created_at": "2026-11-01T00:00:00Z"},
			map[string]any{"name": "g", "scopes": []any{"read_api"}, "expires_at": "2027-01-01", "active": true, "revoked": false, "created_at": "2026-11-01T00:00:00Z"},
			nil,
			`{"expires_at":"2027-01-01T00:00:00Z","expires_in_seconds":2980800,"name":"g","scopes":["read_api"],"status":"active"}`, ""},
		{"expired", "gitlab_group_access_token", noop,
			map[string]any{"name": "g", "scopes": []any{"read_api"}, "expires_at": "2026-11-01", "active": false, "revoked": false},
			map[string]any{"name": "g", "scopes": []any{"read_api"}, "expires_at": "2026-11-01", "active": false, "revoked": false},
			nil,
			`{"expires_at":"2026-11-01T00:00:00Z","expires_in_seconds":-2289600,"name":"g","scopes":["read_api"],"status":"expired"}`, "TEST-EXPIRY"},
		{"compliant", "cloudflare_api_token", create, nil,
			map[string]any{"name": "dns", "expires_on": "2027-01-01T00:00:00Z", "policies": []any{map[string]any{"effect": "allow", "permission_groups": []any{map[string]any{"id": "c8fed203ed3043cba015a93ad1616f1f"}}, "resources": `{"com.cloudflare.api.account.zone.eb78d65290b24279ba6f44721b3ea3c4":"*"}`}}},
			map[string]any{"value": true, "status": true, "issued_on": true},
			`{"expires_at":"2027-01-01T00:00:00Z","expires_in_seconds":2980800,"name":"dns","scopes":["c8fed203ed3043cba015a93ad1616f1f"]}`, ""},
		// Issue 15: a policy over every zone (v5 jsonencode'd resources) is a wildcard scope.
		{"all zones", "cloudflare_api_token", create, nil,
			map[string]any{"name": "dns", "expires_on": "2027-01-01T00:00:00Z", "policies": []any{map[string]any{"effect": "allow", "permission_groups": []any{map[string]any{"id": "c8fed203ed3043cba015a93ad1616f1f"}}, "resources": `{"com.cloudflare.api.account.zone.*":"*"}`}}},
			map[string]any{"value": true, "status": true, "issued_on": true},
			`{"expires_at":"2027-01-01T00:00:00Z","expires_in_seconds":2980800,"name":"dns","scopes":["c8fed203ed3043cba015a93ad1616f1f","com.cloudflare.api.account.zone.*"]}`, ""},
		{"no expiry", "cloudflare_api_token", create, nil,
			map[string]any{"name": "dns", "expires_on": nil, "policy": []any{map[string]any{"permission_groups": []any{"82e64a83756745bbbb1c9c2701bf816b"}, "resources": map[string]any{"com.cloudflare.api.account.*": "*"}}}},
			map[string]any{"value": true},
			`{"name":"dns","never_expires":true,"scopes":["82e64a83756745bbbb1c9c2701bf816b","com.cloudflare.api.account.*"]}`, "TEST-EXPIRY"},
		{"compliant", "tfe_team_token", create, nil,
			map[string]any{"team_id": "team-1", "expired_at": "2027-01-01T00:00:00Z", "description": "Plans the network workspaces from CI"},
			map[string]any{"token": true, "id": true},
			`{"expires_at":"2027-01-01T00:00:00Z","expires_in_seconds":2980800,"purpose":"Plans the network workspaces from CI"}`, ""},
		{"no expiry", "tfe_team_token", create, nil,
			map[string]any{"team_id": "team-1", "expired_at": nil},
			map[string]any{"token": true},
			`{"never_expires":true}`, "TEST-EXPIRY"},
		{"compliant", "tfe_organization_token", create, nil,
			map[string]any{"organization": "acme", "expired_at": "2027-01-01T00:00:00Z", "force_regenerate": true},
			map[string]any{"token": true},
			`{"expires_at":"2027-01-01T00:00:00Z","expires_in_seconds":2980800,"rotation_configured":true}`, ""},
		{"too far", "tfe_organization_token", create, nil,
			map[string]any{"organization": "acme", "expired_at": "2030-01-01T00:00:00Z"},
			map[string]any{"token": true},
			`{"expires_at":"2030-01-01T00:00:00Z","expires_in_seconds":97675200}`, "TEST-EXPIRY"},
		{"compliant", "grafana_cloud_access_policy_token", create, nil,
			map[string]any{"access_policy_id": "ap-1", "region": "us", "name": "metrics-read", "display_name": "Reads metrics for the SLO board", "expires_at": "2027-01-01T00:00:00Z"},
			map[string]any{"token": true, "created_at": true},
			`{"expires_at":"2027-01-01T00:00:00Z","expires_in_seconds":2980800,"name":"metrics-read","purpose":"Reads metrics for the SLO board"}`, ""},
		{"no expiry", "grafana_cloud_access_policy_token", create, nil,
			map[string]any{"access_policy_id": "ap-1", "region": "us", "name": "metrics-read", "expires_at": nil},
			map[string]any{"token": true},
			`{"name":"metrics-read","never_expires":true}`, "TEST-EXPIRY"},
		{"compliant", "grafana_service_account_token", create, nil,
			map[string]any{"name": "alerts", "service_account_id": "sa-1", "seconds_to_live": 2592000},
			map[string]any{"key": true, "expiration": true, "has_expired": true},
			`{"name":"alerts","ttl_seconds":2592000}`, ""},
		{"no expiry", "grafana_service_account_token", create, nil,
			map[string]any{"name": "alerts", "service_account_id": "sa-1", "seconds_to_live": 0},
			map[string]any{"key": true},
			`{"name":"alerts","never_expires":true}`, "TEST-EXPIRY"},
		{"compliant", "vault_token", create, nil,
			map[string]any{"display_name": "ci-deploy", "policies": []any{"deploy"}, "ttl": "720h", "explicit_max_ttl": "720h", "renewable": true},
			map[string]any{"client_token": true, "lease_duration": true, "lease_started": true},
			`{"name":"ci-deploy","scopes":["deploy"],"ttl_seconds":2592000}`, ""},
		{"periodic", "vault_token", create, nil,
			map[string]any{"display_name": "ci-deploy", "policies": []any{"deploy"}, "period": "24h", "renewable": true},
			map[string]any{"client_token": true},
			`{"name":"ci-deploy","never_expires":true,"scopes":["deploy"]}`, "TEST-EXPIRY"},
		{"active key", "aws_iam_access_key", create, nil,
			map[string]any{"user": "ci-deployer", "status": "Active", "secret": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}, //nolint:gosec // G101: AWS's documented example key
			map[string]any{"id": true, "create_date": true},
			`{"name":"ci-deployer","never_expires":true,"status":"active"}`, "TEST-EXPIRY"},
		{"inactive key", "aws_iam_access_key", create, nil,
			map[string]any{"user": "ci-deployer", "status": "Inactive"},
			map[string]any{"id": true, "secret": true},
			`{"name":"ci-deployer","never_expires":true,"status":"revoked"}`, "TEST-EXPIRY"},
		{"compliant", "google_service_account_key", noop,
			map[string]any{"service_account_id": "sa@p.iam.gserviceaccount.com", "valid_before": "2027-01-01T00:00:00Z", "keepers": map[string]any{"rotation": "2026-11"}},
			map[string]any{"service_account_id": "sa@p.iam.gserviceaccount.com", "valid_before": "2027-01-01T00:00:00Z", "keepers": map[string]any{"rotation": "2026-11"}},
			nil,
			`{"expires_at":"2027-01-01T00:00:00Z","expires_in_seconds":2980800,"name":"sa@p.iam.gserviceaccount.com","rotation_configured":true}`, ""},
		{"no expiry", "google_service_account_key", noop,
			map[string]any{"service_account_id": "sa@p.iam.gserviceaccount.com", "valid_before": "9999-12-31T23:59:59Z", "keepers": nil},
			map[string]any{"service_account_id": "sa@p.iam.gserviceaccount.com", "valid_before": "9999-12-31T23:59:59Z", "keepers": nil},
			nil,
			`{"name":"sa@p.iam.gserviceaccount.com","never_expires":true}`, "TEST-EXPIRY"},
		{"compliant", "azuread_application_password", create, nil,
			map[string]any{"application_id": "/applications/1", "display_name": "billing-sync", "end_date": "2027-01-01T00:00:00Z", "rotate_when_changed": map[string]any{"rotation": "1"}},
			map[string]any{"value": true, "key_id": true, "start_date": true},
			`{"expires_at":"2027-01-01T00:00:00Z","expires_in_seconds":2980800,"name":"billing-sync","rotation_configured":true}`, ""},
		{"two years", "azuread_application_password", create, nil,
			map[string]any{"application_id": "/applications/1", "display_name": "billing-sync", "end_date_relative": "17520h"},
			map[string]any{"value": true, "end_date": true},
			`{"name":"billing-sync","ttl_seconds":63072000}`, "TEST-EXPIRY"},
		{"key", "datadog_application_key", create, nil,
			map[string]any{"name": "dashboards", "scopes": []any{"dashboards_read"}},
			map[string]any{"key": true, "id": true},
			`{"name":"dashboards","never_expires":true,"scopes":["dashboards_read"]}`, "TEST-EXPIRY"},
		{"unscoped key", "datadog_application_key", create, nil,
			map[string]any{"name": "everything", "key": "ddapp-secret"},
			map[string]any{"id": true},
			`{"name":"everything","never_expires":true}`, "TEST-EXPIRY"},
		{"compliant", "gitlab_deploy_token", create, nil,
			map[string]any{"name": "registry-pull", "username": "k8s", "project": "acme/app", "scopes": []any{"read_registry"}, "expires_at": "2027-01-01T00:00:00Z"},
			map[string]any{"token": true, "id": true},
			`{"expires_at":"2027-01-01T00:00:00Z","expires_in_seconds":2980800,"name":"registry-pull","scopes":["read_registry"]}`, ""},
		{"no expiry", "gitlab_deploy_token", create, nil,
			map[string]any{"name": "registry-pull", "project": "acme/app", "scopes": []any{"read_registry"}, "expires_at": nil},
			map[string]any{"token": true, "id": true},
			`{"name":"registry-pull","never_expires":true,"scopes":["read_registry"]}`, "TEST-EXPIRY"},
		{"compliant", "azuread_service_principal_password", create, nil,
			map[string]any{"service_principal_id": "/servicePrincipals/1", "display_name": "billing-sync", "end_date": "2027-01-01T00:00:00Z"},
			map[string]any{"value": true, "key_id": true, "start_date": true},
			`{"expires_at":"2027-01-01T00:00:00Z","expires_in_seconds":2980800,"name":"billing-sync"}`, ""},
		{"default two years", "azuread_service_principal_password", create, nil,
			map[string]any{"service_principal_id": "/servicePrincipals/1", "display_name": "billing-sync"},
			map[string]any{"value": true, "key_id": true, "start_date": true, "end_date": true},
			`{"name":"billing-sync","ttl_seconds":63072000}`, "TEST-EXPIRY"},
		{"bedrock key", "aws_iam_service_specific_credential", create, nil,
			map[string]any{"service_name": "bedrock.amazonaws.com", "user_name": "ci", "credential_age_days": 30, "status": "Active"},
			map[string]any{"service_password": true, "service_credential_secret": true, "expiration_date": true, "create_date": true},
			`{"name":"ci","scopes":["bedrock.amazonaws.com"],"status":"active","ttl_seconds":2592000}`, ""},
		{"codecommit password", "aws_iam_service_specific_credential", create, nil,
			map[string]any{"service_name": "codecommit.amazonaws.com", "user_name": "ci", "credential_age_days": nil, "status": "Active"},
			map[string]any{"service_password": true, "service_credential_secret": true, "expiration_date": true, "create_date": true},
			`{"name":"ci","never_expires":true,"scopes":["codecommit.amazonaws.com"],"status":"active"}`, "TEST-EXPIRY"},
		{"restricted key", "google_apikeys_key", create, nil,
			map[string]any{"name": "maps", "display_name": "maps-frontend", "project": "p", "restrictions": []any{map[string]any{"api_targets": []any{map[string]any{"service": "maps-backend.googleapis.com", "methods": nil}}}}},
			map[string]any{"key_string": true, "uid": true},
			`{"name":"maps-frontend","never_expires":true,"scopes":["maps-backend.googleapis.com"]}`, "TEST-EXPIRY"},
		{"unrestricted key", "google_apikeys_key", create, nil,
			map[string]any{"name": "maps", "project": "p", "restrictions": []any{}},
			map[string]any{"key_string": true, "uid": true},
			`{"name":"maps","never_expires":true,"scopes":["*"]}`, "TEST-EXPIRY"},
		{"key", "datadog_api_key", create, nil,
			map[string]any{"name": "agent-eu"},
			map[string]any{"key": true, "id": true},
			`{"name":"agent-eu","never_expires":true}`, "TEST-EXPIRY"},
		{"existing key", "datadog_api_key", noop,
			map[string]any{"name": "agent-eu", "key": "ddkey-secret"}, map[string]any{"name": "agent-eu", "key": "ddkey-secret"},
			nil,
			`{"name":"agent-eu","never_expires":true}`, "TEST-EXPIRY"},
	}
	e := testEngine(t, Options{})
	seen := map[string]int{}
	for _, c := range cases {
		seen[c.typ]++
		t.Run(c.typ+"/"+c.name, func(t *testing.T) {
			rc := change(c.typ, "x", c.actions, c.before, c.after, c.unknown)
			res, err := e.EvaluatePlan(context.Background(), bytes.NewReader(planJSON(t, rc)))
			if err != nil {
				t.Fatal(err)
			}
			p, _ := ReadPlan(bytes.NewReader(planJSON(t, rc)))
			toks := Normalize(p, planTime)
			if len(toks) != 1 || toks[0].ManagedBy != "external" {
				t.Fatalf("tokens = %+v", toks)
			}
			if got := selectedFields(toks[0].Fields); got != c.fields {
				t.Errorf("fields:\n%s\nwant\n%s", got, c.fields)
			}
			var ids []string
			for _, f := range res.Findings {
				ids = append(ids, f.RuleID)
			}
			if got := strings.Join(ids, ","); got != c.rules {
				t.Errorf("rules = %q, want %q", got, c.rules)
			}
			b, _ := json.Marshal(toks[0])
			for _, secret := range []string{"glpat-secret", "wJalrXUtnFEMI", "ddkey-secret"} {
				if bytes.Contains(b, []byte(secret)) {
					t.Errorf("secret %q in normalised token", secret)
				}
			}
		})
	}
	for _, typ := range TokenTypes() {
		if typ != TokenguardType && seen[typ] < 2 {
			t.Errorf("%s: want a compliant and a non-compliant case, have %d", typ, seen[typ])
		}
	}
	if len(TokenTypes()) != 19 {
		t.Errorf("TokenTypes() = %d types, want tokenguard + 18 external", len(TokenTypes()))
	}
}

func TestNormalize_unusedSecondsOnlyForExistingActiveTokens(t *testing.T) {
	before := map[string]any{"status": "active", "created_at": "2026-10-28T12:00:00Z", "last_used_at": nil}
	tok := NormalizeToken(TokenChange{Type: TokenguardType, Actions: []string{"no-op"}, Before: before, After: before}, planTime)
	if tok.Fields.UnusedSeconds == nil || *tok.Fields.UnusedSeconds != int64(30*24*time.Hour/time.Second) {
		t.Errorf("unused = %v", tok.Fields.UnusedSeconds)
	}
	revoked := map[string]any{"status": "revoked", "created_at": "2026-01-01T00:00:00Z"}
	if NormalizeToken(TokenChange{Type: TokenguardType, Actions: []string{"no-op"}, Before: revoked, After: revoked}, planTime).Fields.UnusedSeconds != nil {
		t.Error("revoked token has unused seconds")
	}
}

package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func TestEngine_tokenguardPlanFindingsPerAddress(t *testing.T) {
	e := testEngine(t, Options{})
	res, err := e.EvaluatePlan(context.Background(), bytes.NewReader(readFixture(t, "tokenguard.json")))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`module.app.tokenguard_api_token.generic["eu"]: TEST-EXPIRY, TEST-PURPOSE`,
		"provider.tokenguard: TEST-ENDPOINT",
		"tokenguard_api_token.existing: TEST-EXPIRY, TEST-OUTPUT",
	}
	if got := idsByAddress(res.Findings); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if res.ResourcesChecked != 4 {
		t.Errorf("ResourcesChecked = %d, want 4 (delete-only and data reads are not checked)", res.ResourcesChecked)
	}
	// Metadata comes from METADATA, the message and field from the rule body.
	for _, f := range res.Findings {
		if f.RuleID == "TEST-OUTPUT" {
			want := Finding{RuleID: "TEST-OUTPUT", Severity: "error", Title: "Secret is not exposed by an output",
				Address: "tokenguard_api_token.existing", Message: `output "leak" exposes the secret`,
				Citation: "Cal. Civ. Code 1798.150(a)(1)", Remediation: "Mark the output sensitive.", Field: "secret"}
			if f != want {
				t.Errorf("TEST-OUTPUT finding = %+v\nwant %+v", f, want)
			}
		}
		if f.RuleID == "TEST-EXPIRY" && f.Address == "tokenguard_api_token.existing" && f.Message != "token has already expired" {
			t.Errorf("existing expiry message = %q", f.Message)
		}
	}
}

func TestEngine_compliantPlanHasNoFindings(t *testing.T) {
	e := testEngine(t, Options{})
	res, err := e.EvaluatePlan(context.Background(), bytes.NewReader(readFixture(t, "compliant.json")))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 0 || res.ResourcesChecked != 2 {
		t.Errorf("findings %v, resources %d; want none and 2", idsByAddress(res.Findings), res.ResourcesChecked)
	}
}

func TestEngine_unknownValuesAndDeleteOnlyProduceNoFinding(t *testing.T) {
	e := testEngine(t, Options{})
	unknown := change(TokenguardType, "u", []string{"create"}, nil,
		map[string]any{"name": "u", "owner": "o", "scopes": []any{"a"}, "data_categories": []any{}},
		map[string]any{"purpose": true, "ttl": true, "rotation": map[string]any{"interval": true}})
	deleted := change(TokenguardType, "d", []string{"delete"},
		map[string]any{"name": "d", "purpose": "test", "ttl": "999d"}, nil, nil)
	res, err := e.EvaluatePlan(context.Background(), bytes.NewReader(planJSON(t, unknown, deleted)))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 0 || res.ResourcesChecked != 1 {
		t.Errorf("findings %v, resources %d; want none and 1", idsByAddress(res.Findings), res.ResourcesChecked)
	}
}

func TestEngine_rulesFromMetadata(t *testing.T) {
	e := testEngine(t, Options{ExtraPolicyDirs: []string{"testdata/userpolicy"}})
	var ids []string
	for _, r := range e.Rules() {
		ids = append(ids, r.ID+"/"+r.Severity+"/"+r.Scope+"/"+strings.Join(r.Gates, "+"))
	}
	want := "ACME-001/warning/token/check TEST-ENDPOINT/error/plan/check TEST-EXPIRY/error/token/provider+check+service TEST-OUTPUT/error/token/check TEST-PURPOSE/error/token/provider+check+service TEST-ROTATION/warning/token/check"
	if got := strings.Join(ids, " "); got != want {
		t.Errorf("rules = %s\nwant    %s", got, want)
	}
}

func TestEngine_userPoliciesAndDataOverride(t *testing.T) {
	data := t.TempDir() + "/data.yaml"
	if err := os.WriteFile(data, []byte("tokenguard:\n  thresholds:\n    ttl_max_days: 400\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := testEngine(t, Options{ExtraPolicyDirs: []string{"testdata/userpolicy"}, DataFiles: []string{data}})
	res, err := e.EvaluatePlan(context.Background(), bytes.NewReader(readFixture(t, "tokenguard.json")))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`module.app.tokenguard_api_token.generic["eu"]: ACME-001, TEST-PURPOSE`, // 365d is within the overridden 400-day cap
		"provider.tokenguard: TEST-ENDPOINT",
		"tokenguard_api_token.existing: TEST-EXPIRY, TEST-OUTPUT",
	}
	if got := idsByAddress(res.Findings); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestEngine_gateSelectsRules(t *testing.T) {
	e := testEngine(t, Options{Gate: GateProvider})
	tok := NormalizeToken(TokenChange{
		Address: "tokenguard_api_token.x", Type: TokenguardType, Actions: []string{"create"},
		After: map[string]any{"purpose": "tbd", "ttl": "365d", "rotation": map[string]any{"interval": "90d"}},
	}, planTime)
	fs, err := e.EvaluateTokens(context.Background(), []Token{tok}, PlanFacts{Timestamp: &planTime})
	if err != nil {
		t.Fatal(err)
	}
	// TEST-ROTATION is a check-gate rule: the provider gate does not run it.
	if got := strings.Join(idsByAddress(fs), "\n"); got != "tokenguard_api_token.x: TEST-EXPIRY, TEST-PURPOSE" {
		t.Errorf("provider gate findings = %s", got)
	}
}

func TestEngine_evaluatesManyTokensInParallelDeterministically(t *testing.T) {
	e := testEngine(t, Options{})
	var tokens []Token
	for i := range 200 {
		purpose := "Reads invoices for the monthly revenue report"
		if i%3 == 0 {
			purpose = "misc"
		}
		tokens = append(tokens, NormalizeToken(TokenChange{
			Address: "tokenguard_api_token.t[" + strings.Repeat("1", i%7+1) + "]", Type: TokenguardType,
			Actions: []string{"create"}, After: map[string]any{"purpose": purpose, "ttl": "30d"},
		}, planTime))
	}
	first, err := e.EvaluateTokens(context.Background(), tokens, PlanFacts{Timestamp: &planTime})
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 67 {
		t.Errorf("%d findings, want 67", len(first))
	}
	second, _ := e.EvaluateTokens(context.Background(), tokens, PlanFacts{Timestamp: &planTime})
	a, _ := json.Marshal(first)
	b, _ := json.Marshal(second)
	if !bytes.Equal(a, b) {
		t.Error("two evaluations of the same tokens differ")
	}
}

func TestNewEngine_rejectsBadPolicies(t *testing.T) {
	meta := func(extra string) string {
		return "# METADATA\n# title: T\n# custom:\n#   id: X-1\n" + extra + "package x\n\ndeny contains \"m\" if true\n"
	}
	tests := []struct {
		name  string
		files fstest.MapFS
		want  string
	}{
		{"syntax", fstest.MapFS{"a.rego": {Data: []byte("package a\n\ndeny contains if {")}}, "policy policies/a.rego:"},
		{"no id", fstest.MapFS{"a.rego": {Data: []byte("package a\n\ndeny contains \"m\" if true\n")}}, "package a has deny rules but no METADATA custom.id"},
		{"bad severity", fstest.MapFS{"a.rego": {Data: []byte(meta("#   severity: fatal\n"))}}, `rule X-1 has severity "fatal": use error or warning`},
		{"bad scope", fstest.MapFS{"a.rego": {Data: []byte(meta("#   scope: resource\n"))}}, `rule X-1 has scope "resource"`},
		{"bad gate", fstest.MapFS{"a.rego": {Data: []byte(meta("#   gates: [ci]\n"))}}, `rule X-1 has gate "ci"`},
		{"duplicate id", fstest.MapFS{
			"a.rego": {Data: []byte(meta(""))},
			"b.rego": {Data: []byte(strings.Replace(meta(""), "package x", "package y", 1))},
		}, "rule id X-1 is already used by policies/a.rego"},
		{"compile", fstest.MapFS{"a.rego": {Data: []byte("package a\n\np if undefined_fn(1)\n")}}, "policies do not compile: policies/a.rego:3:"},
		{"bad data", fstest.MapFS{"data.json": {Data: []byte("[1]")}}, "policy data policies/data.json: must hold an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewEngine(context.Background(), Options{Bundle: tt.files})
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error = %v, want one line containing %q", err, tt.want)
			}
		})
	}
	if _, err := NewEngine(context.Background(), Options{Bundle: fstest.MapFS{}, ExtraPolicyDirs: []string{"testdata/nonexistent"}}); err == nil || !strings.Contains(err.Error(), "policy directory testdata/nonexistent: no such file or directory") {
		t.Errorf("missing policy dir: %v", err)
	}
	if _, err := NewEngine(context.Background(), Options{Bundle: fstest.MapFS{}, DataFiles: []string{"testdata/nonexistent.json"}}); err == nil || !strings.Contains(err.Error(), "data file testdata/nonexistent.json: no such file or directory") {
		t.Errorf("missing data file: %v", err)
	}
}

func TestEngine_planWithoutTimestampUsesClock(t *testing.T) {
	e := testEngine(t, Options{Now: func() time.Time { return time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC) }})
	b := planJSON(t, change(TokenguardType, "x", []string{"no-op"},
		map[string]any{"purpose": "Reads invoices for the monthly revenue report", "expires_at": "2027-01-01T00:00:00Z"},
		map[string]any{"purpose": "Reads invoices for the monthly revenue report", "expires_at": "2027-01-01T00:00:00Z"}, nil))
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	delete(m, "timestamp")
	b, _ = json.Marshal(m)
	res, err := e.EvaluatePlan(context.Background(), bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(idsByAddress(res.Findings), ""); got != "tokenguard_api_token.x: TEST-EXPIRY" {
		t.Errorf("findings = %s (a token expired on 2027-01-01 checked on 2027-06-01)", got)
	}
}

func TestEngine_invalidPlanIsInputError(t *testing.T) {
	e := testEngine(t, Options{})
	_, err := e.EvaluatePlan(context.Background(), strings.NewReader("{"))
	if !errors.Is(err, ErrInvalidPlan) {
		t.Errorf("err = %v", err)
	}
}

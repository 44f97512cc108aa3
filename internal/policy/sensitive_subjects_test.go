package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEngine_sensitiveDataSubjectsStillJudged (issue 14): data_subjects marked sensitive in
// the plan (as the provider schema marks it) still reaches CPRA-DEL-001, at every gate's
// entry point (EvaluatePlan for check, EvaluateTokens for the provider and the service), and
// no finding names the subject. Only the messages of rules that can see a value derived from
// data_subjects are withheld: a rule with declared reads that do not include it (CPRA-RET-002
// on the ttl) keeps its message; a user rule that sees the whole token has it withheld.
func TestEngine_sensitiveDataSubjectsStillJudged(t *testing.T) {
	ctx := context.Background()
	const subject = "customer:4411"
	data := filepath.Join(t.TempDir(), "erased.json")
	if err := os.WriteFile(data, []byte(`{"tokenguard": {"erased_subjects": ["`+subject+`"]}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	user := t.TempDir()
	if err := os.WriteFile(filepath.Join(user, "quote.rego"), []byte(`# METADATA
# custom:
#   id: ACME-QUOTE
#   severity: warning
#   scope: token
#   applies_to: [tokenguard]
package acme.quote

deny contains sprintf("acts for %v", [input.token.fields.data_subjects])
`), 0o600); err != nil {
		t.Fatal(err)
	}
	after := map[string]any{
		"name": "reissue", "owner": "team-orders", "purpose": "Syncs paid orders into the fulfilment queue for shipping",
		"scopes": []any{"orders:read"}, "data_categories": []any{"commercial"}, "audiences": []any{"fulfilment"},
		"data_subjects": []any{"customer:77", subject}, "ttl": "400d",
		"rotation": map[string]any{"interval": "7d", "overlap": "1h"},
	}
	rc := change(TokenguardType, "reissue", []string{"create"}, nil, after, nil)
	rc["change"].(map[string]any)["after_sensitive"] = map[string]any{"data_subjects": true, "secret": true}
	plan := planJSON(t, rc)

	wantMessages := map[string]string{
		"CPRA-DEL-001": "withheld",
		"CPRA-RET-002": "400 days",
		"ACME-QUOTE":   "withheld",
	}
	checkFindings := func(gate string, fs []Finding) {
		t.Helper()
		got := map[string]bool{}
		for _, f := range fs {
			b, _ := json.Marshal(f)
			if bytes.Contains(b, []byte("4411")) || bytes.Contains(b, []byte("customer:77")) {
				t.Errorf("%s: finding names a data subject: %s", gate, b)
			}
			want, ok := wantMessages[f.RuleID]
			if !ok {
				continue
			}
			got[f.RuleID] = true
			if !strings.Contains(f.Message, want) {
				t.Errorf("%s: %s message %q, want it to contain %q", gate, f.RuleID, f.Message, want)
			}
		}
		for id := range wantMessages {
			userRuleLoaded := gate == GateCheck // the user policy is loaded at the check gate only
			if !got[id] && (id != "ACME-QUOTE" || userRuleLoaded) {
				t.Errorf("%s: no %s finding: %+v", gate, id, fs)
			}
		}
	}

	e, err := NewEngine(ctx, Options{DataFiles: []string{data}, ExtraPolicyDirs: []string{user}, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.EvaluatePlan(ctx, bytes.NewReader(plan))
	if err != nil {
		t.Fatal(err)
	}
	checkFindings(GateCheck, res.Findings)

	p, err := ReadPlan(bytes.NewReader(plan))
	if err != nil {
		t.Fatal(err)
	}
	tok := Normalize(p, planTime)[0]
	if strings.Join(tok.tainted, ",") != "data_subjects" {
		t.Errorf("tainted fields = %v, want [data_subjects]", tok.tainted)
	}
	for _, gate := range []string{GateProvider, GateService} {
		e, err := NewEngine(ctx, Options{Gate: gate, DataFiles: []string{data}, Now: fixedNow})
		if err != nil {
			t.Fatal(err)
		}
		fs, err := e.EvaluateTokens(ctx, []Token{tok}, PlanFacts{Timestamp: &planTime})
		if err != nil {
			t.Fatal(err)
		}
		checkFindings(gate, fs)
	}
}

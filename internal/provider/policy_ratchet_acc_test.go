package provider

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// ratchetToken is a compliant 60-day token under the embedded bundle (ttl cap 90 days).
func ratchetToken(resource, name, labels string) string {
	return fmt.Sprintf(`resource "tokenguard_api_token" %q {
  name            = %q
  owner           = "team-billing@example.com"
  purpose         = "Exports invoice totals to the finance data warehouse nightly"
  scopes          = ["invoices:read"]
  data_categories = ["commercial"]
  ttl             = "60d"
  rotation        = { interval = "30d", overlap = "1h" }
  labels          = { env = %q }
}
`, resource, name, labels)
}

// The ratchet (issue 21), with the real Terraform CLI against the real service: after
// ttl_max_days is lowered to 45 in the policy data, policy.existing = "warn" makes the
// finding on an untouched 60-day token a warning (also when the plan changes its labels),
// while a new 60-day token is blocked; without the switch a labels change of the untouched token blocks.
func TestAccPolicyGate_existingWarnRatchet(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("Acceptance tests skipped unless env 'TF_ACC' set") // the framework's standard gate
	}
	ts := newTestService(t)
	reattach := ts.serveForCLI(t)
	dataFile := filepath.Join(t.TempDir(), "cpra.json")
	if err := os.WriteFile(dataFile, []byte(`{"tokenguard": {"thresholds": {"ttl_max_days": 45}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	old := ratchetToken("old", "invoice-export", "prod")
	w := newGateWorkdir(t, ts, reattach, "", old)
	if diags, ok := w.diagnostics("apply", "-auto-approve"); !ok {
		t.Fatalf("apply of the 60-day token under the default policy failed: %v", diags)
	}
	const oldLine = "tokenguard_api_token.old CPRA-RET-002 [ttl             = \"60d\"]"
	const newLine = "tokenguard_api_token.fresh CPRA-RET-002 [ttl             = \"60d\"]"
	ratchet := fmt.Sprintf(`{ data_file = %q, existing = "warn" }`, dataFile)

	steps := []struct {
		name, policy, resources string
		wantOK                  bool
		want                    []string
	}{
		{"strict: a labels change blocks on the untouched ttl", fmt.Sprintf(`{ data_file = %q }`, dataFile), ratchetToken("old", "invoice-export", "dev"), false,
			[]string{"error CPRA Policy Violation " + oldLine}},
		{"ratchet: the untouched token warns", ratchet, old, true,
			[]string{"warning CPRA Policy Violation " + oldLine}},
		{"ratchet: a new token blocks, the untouched one warns", ratchet, old + ratchetToken("fresh", "invoice-export-2", "prod"), false,
			[]string{"error CPRA Policy Violation " + newLine, "warning CPRA Policy Violation " + oldLine}},
		{"ratchet: a labels change leaves ttl as it was", ratchet, ratchetToken("old", "invoice-export", "dev"), true,
			[]string{"warning CPRA Policy Violation " + oldLine}},
	}
	for _, s := range steps {
		w.write(ts, s.policy, s.resources)
		diags, ok := w.diagnostics("plan", "-out=tfplan")
		if got := policyDiagnostics(diags); ok != s.wantOK || !slices.Equal(got, s.want) {
			t.Fatalf("%s: plan succeeded=%v with\n  %s\nwant succeeded=%v with\n  %s\nall: %v", s.name, ok,
				strings.Join(got, "\n  "), s.wantOK, strings.Join(s.want, "\n  "), diags)
		}
		for _, d := range diags {
			if d.Severity == "warning" && d.ruleID() == "CPRA-RET-002" && !strings.Contains(d.Detail, `policy.existing is "warn"`) {
				t.Fatalf("%s: the ratchet's warning does not say why it only warns and what happens at apply: %s", s.name, d.Detail)
			}
		}
	}
	// The labels change applies: the provider does not block the untouched ttl at apply.
	if diags, ok := w.diagnostics("apply", "tfplan"); !ok {
		t.Fatalf("apply of the labels change under the ratchet failed: %v", diags)
	}
	toks := activeTokens(ts.tokensOf(t, "team-billing@example.com"))
	if len(toks) != 1 || toks[0].Labels["env"] != "dev" {
		t.Fatalf("after the apply the service holds %+v, want one token labelled env=dev", toks)
	}
}

package provider

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/server"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
)

// wildToken is a tokenguard_api_token whose wildcard scope breaks CPRA-MIN-002 and nothing else.
func wildToken(purpose, release string) string {
	return fmt.Sprintf(`resource "tokenguard_api_token" "wild_export" {
  name              = "wild-export"
  owner             = "team-billing@example.com"
  purpose           = %q
  scopes            = ["invoices:*"]
  data_categories   = ["commercial"]
  ttl               = "30d"
  rotation          = { interval = "7d", overlap = "1h" }
  rotation_triggers = { release = %q }
}
`, purpose, release)
}

// TestAccPolicyGates_waivedFindingPlansAndApplies proves issue 21, point 3 with the real
// Terraform CLI against a service whose own policy gate is mandatory (as in production) and
// has no waivers file: without a waiver the wildcard scope (CPRA-MIN-002) fails the plan; with
// the provider's waiver the plan warns that the finding is waived and that the apply goes
// ahead, and the create, a later in-place update and a rotation all apply, because the
// provider sends the waiver and the service honours it under its waiver policy (recorded in
// its audit log). The same waiver approved by the token's owner is refused at plan.
func TestAccPolicyGates_waivedFindingPlansAndApplies(t *testing.T) {
	skipUnlessAcc(t)
	clock := newFakeClock()
	svc := servertest.Start(t, servertest.Options{Now: clock.Now, PolicyEnforcement: server.PolicyMandatory})
	ts := &testService{URL: svc.URL, Admin: svc.AdminToken, Clock: clock, Client: svc.Client(t)}
	waivers := func(approver string) string {
		file := filepath.Join(t.TempDir(), "waivers.yaml")
		doc := "waivers:\n  - rule: CPRA-MIN-002\n    address: tokenguard_api_token.wild_export\n" +
			"    reason: The vendor API offers no narrower scope until its Q3 release\n" +
			"    approved_by: " + approver + "\n    expires: 2026-04-01\n"
		if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("{ waivers_file = %q }", file)
	}
	purpose := "Exports every invoice field to the accounting system nightly"

	w := newGateWorkdir(t, ts, ts.serveForCLI(t), "", wildToken(purpose, "1"))
	if diags, ok := w.diagnostics("plan", "-no-color"); ok || !hasDiag(diags, "error", "CPRA-MIN-002") {
		t.Fatalf("the unwaived wildcard scope planned ok=%v: %v", ok, diags)
	}
	w.write(ts, waivers("team-billing@example.com"), wildToken(purpose, "1"))
	if diags, ok := w.diagnostics("plan", "-no-color"); ok || !hasDiag(diags, "error", "TOKENGUARD-WAIVER-REFUSED") {
		t.Fatalf("a waiver approved by the owner planned ok=%v: %v", ok, diags)
	}

	w.write(ts, waivers("privacy-office@example.com"), wildToken(purpose, "1"))
	diags, ok := w.diagnostics("plan", "-no-color")
	if !ok || !hasDiag(diags, "warning", "the token service honours it under its own waiver policy, so the apply goes ahead") {
		t.Fatalf("the waived finding planned ok=%v without saying the apply goes ahead: %v", ok, diags)
	}
	w.mustRun("apply", "-input=false", "-no-color", "-auto-approve")
	id, _ := w.stateAttrs("tokenguard_api_token.wild_export")["id"].(string)
	tok, err := ts.Client.GetToken(context.Background(), id)
	if err != nil || !slices.Equal(tok.Scopes, []string{"invoices:*"}) {
		t.Fatalf("the service holds %+v, %v; want the token with its waived wildcard scope", tok, err)
	}

	w.write(ts, waivers("privacy-office@example.com"), wildToken(purpose+" for the auditors", "2"))
	w.mustRun("apply", "-input=false", "-no-color", "-auto-approve") // a patch and a rotation
	tok, err = ts.Client.GetToken(context.Background(), id)
	if err != nil || !strings.HasSuffix(tok.Purpose, "for the auditors") || tok.SecretVersion != 2 {
		t.Fatalf("after the update the service holds purpose %q, secret_version %d (%v); want the new purpose and a rotation", tok.Purpose, tok.SecretVersion, err)
	}

	svc.Flush(t)
	page, err := ts.Client.ListAudit(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, rec := range page.Records {
		if rec.TokenID == id && rec.Details["request_waivers"] == "CPRA-MIN-002 until 2026-04-01" {
			actions = append(actions, rec.Action)
		}
	}
	if len(actions) != 3 {
		t.Fatalf("the service recorded the provider's waiver on %v, want the create, the update and the rotation", actions)
	}
}

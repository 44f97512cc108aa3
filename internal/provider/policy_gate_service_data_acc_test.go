package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/cli"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// The provider gate with what only the token service knows: the data subjects with a deletion
// request (CPRA-DEL-001, fetched in Configure) and the last use of a token (CPRA-MIN-003,
// refreshed by Read from introspection).

// erasedToken is a compliant token acting for one data subject.
const erasedToken = `resource "tokenguard_api_token" "orders_sync" {
  name            = "orders-sync"
  owner           = "team-orders@example.com"
  purpose         = "Reads invoice totals for the monthly revenue report"
  scopes          = ["invoices:read"]
  data_categories = ["commercial"]
  data_subjects   = ["customer:4411"]
  ttl             = "30d"
  rotation        = { interval = "7d", overlap = "1h" }
}
`

// TestAccPolicyGate_erasedSubjectBlocksReissue: after `erase` through the API revoked the token
// bound to a subject, the plan that re-creates a token for that subject is blocked by
// CPRA-DEL-001 at the provider gate, and the service refuses such a token too. A replacement
// for a subject without a deletion request goes through.
func TestAccPolicyGate_erasedSubjectBlocksReissue(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("Acceptance tests skipped unless env 'TF_ACC' set") // the framework's standard gate
	}
	ctx := context.Background()
	ts := newTestService(t)
	const owner = "team-orders@example.com"
	w := newGateWorkdir(t, ts, ts.serveForCLI(t), "", erasedToken)
	if diags, ok := w.diagnostics("apply", "-auto-approve"); !ok || len(policyDiagnostics(diags)) != 0 {
		t.Fatalf("apply of the compliant token: succeeded=%v, %v", ok, diags)
	}
	toks := activeTokens(ts.tokensOf(t, owner))
	if len(toks) != 1 {
		t.Fatalf("after apply the service holds %d active tokens, want 1", len(toks))
	}

	res, err := ts.Client.CreateDeletionRequest(ctx, wire.DeletionRequest{Subject: "customer:4411"}, "")
	if err != nil {
		t.Fatalf("erase customer:4411: %v", err)
	}
	if len(res.Revoked) != 1 || res.Revoked[0].TokenID != toks[0].ID {
		t.Fatalf("the deletion request revoked %+v, want exactly %s", res.Revoked, toks[0].ID)
	}

	// The refresh finds the token revoked, so the plan replaces it: a new token for the erased
	// subject. The configuration did not change, so the plan warns (a refresh before
	// `terraform destroy` is such a plan, and must not fail) and the apply blocks.
	// data_subjects is sensitive (issue 14): the finding is on the resource, not on the
	// attribute, so Terraform does not print the configuration line that holds the subject.
	diags, ok := w.diagnostics("plan")
	want := []string{`warning CPRA Policy Violation tokenguard_api_token.orders_sync CPRA-DEL-001 [resource "tokenguard_api_token" "orders_sync" {]`}
	if got := policyDiagnostics(diags); !ok || !slices.Equal(got, want) {
		t.Fatalf("plan after the erase succeeded=%v with policy diagnostics %q, want success with %q\nall: %v", ok, got, want, diags)
	}
	applyDiags, ok := w.diagnostics("apply", "-auto-approve")
	want = []string{`error CPRA Policy Violation tokenguard_api_token.orders_sync CPRA-DEL-001 [resource "tokenguard_api_token" "orders_sync" {]`}
	if got := policyDiagnostics(applyDiags); ok || !slices.Contains(got, want[0]) {
		t.Fatalf("apply after the erase succeeded=%v with policy diagnostics %q, want failure with %q\nall: %v", ok, got, want, applyDiags)
	}
	diags = append(diags, applyDiags...)
	for _, d := range diags {
		if strings.Contains(d.Summary+d.Detail, "customer:4411") {
			t.Errorf("a diagnostic names the erased subject: %s", d)
		}
		if d.ruleID() == "CPRA-DEL-001" && !strings.Contains(d.Detail, "data_subjects[0] has a pending or completed deletion request") {
			t.Errorf("the CPRA-DEL-001 diagnostic does not say which entry: %s", d.Detail)
		}
	}
	if n := len(activeTokens(ts.tokensOf(t, owner))); n != 0 {
		t.Fatalf("the blocked apply left %d active tokens, want 0", n)
	}
	// What people read: the human plan and apply (the blocked apply took the revoked token out
	// of the state, so the plan now creates a token for the erased subject) are refused by
	// CPRA-DEL-001 and print no subject.
	planOut, planErr, err := w.execSplit("plan", "-input=false", "-no-color")
	if err == nil || !strings.Contains(planOut+planErr, "CPRA-DEL-001") {
		t.Fatalf("terraform plan after the erase (%v) was not refused by CPRA-DEL-001:\n%s%s", err, planOut, planErr)
	}
	applyOut, applyErr, err := w.execSplit("apply", "-auto-approve", "-input=false", "-no-color")
	if err == nil || !strings.Contains(applyOut+applyErr, "CPRA-DEL-001") {
		t.Fatalf("terraform apply after the erase (%v) was not refused by CPRA-DEL-001:\n%s%s", err, applyOut, applyErr)
	}
	for name, out := range map[string]string{"plan": planOut + planErr, "apply": applyOut + applyErr} {
		if strings.Contains(out, "4411") {
			t.Errorf("terraform %s prints the erased subject:\n%s", name, out)
		}
	}
	if n := len(activeTokens(ts.tokensOf(t, owner))); n != 0 {
		t.Fatalf("the refused apply left %d active tokens, want 0", n)
	}

	// The service's own gate refuses the same token.
	_, err = ts.Client.CreateToken(ctx, wire.CreateTokenRequest{
		Name: "orders-sync", Owner: owner, Purpose: "Reads invoice totals for the monthly revenue report",
		Scopes: []string{"invoices:read"}, DataCategories: []string{"commercial"}, DataSubjects: []string{"customer:4411"},
		TTL: "30d", Rotation: &wire.Rotation{Interval: "7d", Overlap: "1h"},
	}, "")
	var re *client.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusUnprocessableEntity || re.Code != "CPRA-DEL-001" || re.Field != "data_subjects" {
		t.Fatalf("creating a token for the erased subject through the API: %v, want 422 CPRA-DEL-001 on data_subjects", err)
	}

	// A replacement for another subject is not blocked, and its plan shows data_subjects as a
	// sensitive value, never the subject.
	w.write(ts, "", strings.Replace(erasedToken, "customer:4411", "customer:4412", 1))
	planOut, planErr, err = w.execSplit("plan", "-input=false", "-no-color")
	if err != nil || !strings.Contains(planOut, "data_subjects") || !strings.Contains(planOut, "(sensitive value)") ||
		strings.Contains(planOut+planErr, "4412") {
		t.Fatalf("terraform plan for customer:4412 (%v) does not show data_subjects as a sensitive value, or prints the subject:\n%s%s", err, planOut, planErr)
	}
	if diags, ok := w.diagnostics("apply", "-auto-approve"); !ok || len(policyDiagnostics(diags)) != 0 {
		t.Fatalf("apply for a subject without a deletion request: succeeded=%v, %v", ok, diags)
	}
	if toks := activeTokens(ts.tokensOf(t, owner)); len(toks) != 1 || !slices.Equal(toks[0].DataSubjects, []string{"customer:4412"}) {
		t.Fatalf("after the replacement the service holds %+v active, want one token for customer:4412", toks)
	}
}

// TestAccPolicyGate_destroyAfterErasure: after an erasure revoked the token, `terraform
// destroy` goes through. The refresh Terraform runs before a destroy is a normal plan, which
// (replacing the revoked token for the erased subject) used to fail on CPRA-DEL-001.
func TestAccPolicyGate_destroyAfterErasure(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("Acceptance tests skipped unless env 'TF_ACC' set") // the framework's standard gate
	}
	ts := newTestService(t)
	w := newGateWorkdir(t, ts, ts.serveForCLI(t), "", erasedToken)
	if diags, ok := w.diagnostics("apply", "-auto-approve"); !ok {
		t.Fatalf("apply of the compliant token failed: %v", diags)
	}
	if _, err := ts.Client.CreateDeletionRequest(context.Background(), wire.DeletionRequest{Subject: "customer:4411"}, ""); err != nil {
		t.Fatalf("erase customer:4411: %v", err)
	}
	diags, ok := w.diagnostics("destroy", "-auto-approve")
	if !ok {
		t.Fatalf("terraform destroy after the erasure failed: %v", diags)
	}
	for _, d := range diags {
		if d.Severity == "error" {
			t.Errorf("destroy reported an error: %s", d)
		}
	}
	if out, _, err := w.execSplit("state", "list"); err != nil || strings.TrimSpace(out) != "" {
		t.Fatalf("state after the destroy lists %q (%v), want nothing", out, err)
	}
	if n := len(activeTokens(ts.tokensOf(t, "team-orders@example.com"))); n != 0 {
		t.Fatalf("after the destroy the service holds %d active tokens, want 0", n)
	}
}

// unusedToken is a compliant token rotated by trigger only, so time passing does not plan a
// rotation and the plan stays a no-op.
const unusedToken = `resource "tokenguard_api_token" "orders_sync" {
  name              = "orders-sync"
  owner             = "team-orders@example.com"
  purpose           = "Reads invoice totals for the monthly revenue report"
  scopes            = ["invoices:read"]
  data_categories   = ["commercial"]
  ttl               = "60d"
  rotation_triggers = { release = "r1" }
}
`

// TestAccPolicyGate_unusedTokenWarns: a token introspected once, five days after its creation,
// then 31 days pass on the fake clock: Read refreshes last_used_at from the service, the plan (a no-op) shows the
// CPRA-MIN-003 warning from the provider gate without blocking, and `tokenguard check` on that
// plan's JSON reports the same rule, as a warning.
func TestAccPolicyGate_unusedTokenWarns(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("Acceptance tests skipped unless env 'TF_ACC' set") // the framework's standard gate
	}
	ctx := context.Background()
	ts := newTestService(t)
	w := newGateWorkdir(t, ts, ts.serveForCLI(t), "", unusedToken)
	if diags, ok := w.diagnostics("apply", "-auto-approve"); !ok || len(policyDiagnostics(diags)) != 0 {
		t.Fatalf("apply of the token: succeeded=%v, %v", ok, diags)
	}
	// Used once, five days after creation.
	ts.Clock.Advance(5 * day)
	usedAt := ts.Clock.Now()
	in, err := ts.Client.Introspect(ctx, stateSecret(t, w.dir))
	if err != nil || !in.Active {
		t.Fatalf("introspecting the new token: %+v %v", in, err)
	}

	// 30 days after the last use (35 after creation) is not yet above the threshold: the
	// gate judges the last use that Read refreshed, not the creation.
	ts.Clock.Advance(30 * day)
	if diags, ok := w.diagnostics("plan", "-detailed-exitcode"); !ok || len(policyDiagnostics(diags)) != 0 {
		t.Fatalf("plan 30 days after the last use: succeeded=%v, %v; want an empty plan without policy diagnostics", ok, diags)
	}

	ts.Clock.Advance(day)
	diags, ok := w.diagnostics("plan", "-out=tfplan")
	want := []string{`warning CPRA Policy Violation tokenguard_api_token.orders_sync CPRA-MIN-003 [resource "tokenguard_api_token" "orders_sync" {]`}
	if got := policyDiagnostics(diags); !ok || !slices.Equal(got, want) {
		t.Fatalf("plan 31 days after the last use succeeded=%v with policy diagnostics %q, want success with %q\nall: %v", ok, got, want, diags)
	}
	for _, d := range diags {
		if d.ruleID() == "CPRA-MIN-003" && !strings.Contains(d.Detail, "active token has not been used for 31 days, above the tokenguard default threshold of 30 days") {
			t.Errorf("the CPRA-MIN-003 warning does not say how long: %s", d.Detail)
		}
	}

	planJSON, showErr, err := w.execSplit("show", "-json", "tfplan")
	if err != nil {
		t.Fatalf("terraform show -json: %v\n%s", err, showErr)
	}
	var plan map[string]any
	dec := json.NewDecoder(strings.NewReader(planJSON))
	dec.UseNumber()
	if err := dec.Decode(&plan); err != nil {
		t.Fatalf("plan JSON: %v", err)
	}
	changes, _ := plan["resource_changes"].([]any)
	if len(changes) != 1 {
		t.Fatalf("the plan has %d resource changes, want 1", len(changes))
	}
	change, _ := changes[0].(map[string]any)["change"].(map[string]any)
	after, _ := change["after"].(map[string]any)
	if got := change["actions"]; !slices.Equal(anyStrings(got), []string{"no-op"}) || after["last_used_at"] != rfc3339(usedAt) {
		t.Fatalf("the plan's change is %v with last_used_at %v, want a no-op with the refreshed last use %s", got, after["last_used_at"], rfc3339(usedAt))
	}

	// Terraform stamps the plan with the wall clock; the check gate must judge it at the
	// time the plan was made on the test's clock.
	plan["timestamp"] = rfc3339(ts.Clock.Now())
	stamped, err := json.Marshal(plan)
	if err != nil {
		t.Fatal(err)
	}
	planFile := filepath.Join(w.dir, "plan.json")
	if err := os.WriteFile(planFile, stamped, 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := cli.Run([]string{"check", "--format", "json", planFile}, strings.NewReader(""), &stdout, &stderr)
	if code != 0 {
		t.Fatalf("tokenguard check exited %d, want 0 (a warning does not block)\n%s%s", code, stdout.String(), stderr.String())
	}
	var report struct {
		Findings []struct {
			RuleID   string `json:"rule_id"`
			Severity string `json:"severity"`
			Address  string `json:"address"`
		} `json:"findings"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &report); err != nil {
		t.Fatalf("check report: %v\n%s", err, stdout.String())
	}
	var got []string
	for _, f := range report.Findings {
		got = append(got, f.Severity+" "+f.Address+" "+f.RuleID)
	}
	if want := []string{"warning tokenguard_api_token.orders_sync CPRA-MIN-003"}; !slices.Equal(got, want) {
		t.Fatalf("tokenguard check findings = %q, want %q", got, want)
	}
}

func anyStrings(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

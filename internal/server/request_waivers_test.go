package server_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// wantRefusedRules asserts err is a 422 policy_violation whose blocking findings are rules.
func wantRefusedRules(t *testing.T, step string, err error, rules ...string) {
	t.Helper()
	var re *client.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusUnprocessableEntity || re.Code != "policy_violation" {
		t.Fatalf("%s: error %v, want 422 policy_violation", step, err)
	}
	var got []string
	for _, f := range re.Findings {
		if f.Blocking {
			got = append(got, f.RuleID)
		}
	}
	if strings.Join(got, ",") != strings.Join(rules, ",") {
		t.Fatalf("%s: blocking rules %v, want %v", step, got, rules)
	}
}

// TestRequestWaivers_honouredUnderTheServiceWaiverPolicy proves issue 21, point 3 at the
// service: a create, patch and rotate carrying the waiver the provider applied at plan is
// admitted with the finding waived (and the waiver in the audit record); a request waiver the
// service's waiver policy refuses (approved by the owner, expiring past max_days, a rule
// pattern that covers a non-waivable rule) waives nothing and the request gets 422 naming
// TOKENGUARD-WAIVER-REFUSED; a waiver of the waiver findings themselves, or a malformed one,
// is a 400 naming waivers[i].
func TestRequestWaivers_honouredUnderTheServiceWaiverPolicy(t *testing.T) {
	ctx := context.Background()
	clock := servertest.NewClock(t0)
	svc := servertest.Start(t, servertest.Options{Now: clock.Now})
	admin := svc.Client(t)
	expires := t0.AddDate(0, 0, 30).Format("2006-01-02")
	waiver := func(rule, approver, exp string) wire.Waiver {
		return wire.Waiver{Rule: rule, Address: "tokenguard_api_token.wild-export", Reason: "Vendor API offers no narrower scope until Q3",
			ApprovedBy: approver, Expires: exp}
	}
	req := compliantRequest("wild-export")
	req.Scopes = []string{"invoices:*"}

	_, err := admin.CreateToken(ctx, req, "")
	wantRefusedRules(t, "create without a waiver", err, "CPRA-MIN-002")
	for name, w := range map[string]wire.Waiver{
		"approved by the owner":           waiver("CPRA-MIN-002", "Team-Billing@example.com", expires),
		"past max_days":                   waiver("CPRA-MIN-002", "privacy-office@example.com", t0.AddDate(0, 0, 200).Format("2006-01-02")),
		"covers the non-waivable DEL-001": waiver("CPRA-*", "privacy-office@example.com", expires),
	} {
		req.Waivers = []wire.Waiver{w}
		_, err := admin.CreateToken(ctx, req, "")
		wantRefusedRules(t, name, err, "CPRA-MIN-002", "TOKENGUARD-WAIVER-REFUSED")
	}
	for name, w := range map[string]wire.Waiver{
		"waives the waiver findings": waiver("TOKENGUARD-WAIVER-*", "privacy-office@example.com", expires),
		"every rule":                 waiver("*", "privacy-office@example.com", expires),
		"no approver":                waiver("CPRA-MIN-002", " ", expires),
		"not a date":                 waiver("CPRA-MIN-002", "privacy-office@example.com", "next spring"),
	} {
		req.Waivers = []wire.Waiver{waiver("CPRA-ROT-002", "privacy-office@example.com", expires), w}
		_, err := admin.CreateToken(ctx, req, "")
		var re *client.ResponseError
		if !errors.As(err, &re) || re.StatusCode != http.StatusBadRequest || re.Field != "waivers[1]" {
			t.Fatalf("%s: error %v, want 400 naming waivers[1]", name, err)
		}
	}

	req.Waivers = []wire.Waiver{waiver("CPRA-MIN-002", "privacy-office@example.com", expires)}
	tok, err := admin.CreateToken(ctx, req, "")
	if err != nil {
		t.Fatalf("create with the provider's waiver: %v", err)
	}
	if len(tok.Warnings) != 1 || tok.Warnings[0].RuleID != "CPRA-MIN-002" || !tok.Warnings[0].Waived || tok.Warnings[0].Blocking ||
		tok.Warnings[0].WaiverApprovedBy != "privacy-office@example.com" {
		t.Fatalf("create answered warnings %+v, want the waived CPRA-MIN-002", tok.Warnings)
	}
	purpose := "nightly export of every invoice field to the accounting system"
	if _, err := admin.UpdateToken(ctx, tok.ID, client.UpdateTokenRequest{Purpose: &purpose}); err == nil {
		t.Fatal("a patch without the waiver was admitted although the token still has a wildcard scope")
	}
	if _, err := admin.UpdateToken(ctx, tok.ID, client.UpdateTokenRequest{Purpose: &purpose, Waivers: req.Waivers}); err != nil {
		t.Fatalf("patch with the waiver: %v", err)
	}
	if _, err := admin.RotateToken(ctx, tok.ID, client.RotateRequest{Waivers: req.Waivers}, ""); err != nil {
		t.Fatalf("rotate with the waiver: %v", err)
	}

	svc.Flush(t)
	page, err := admin.ListAudit(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	recorded := 0
	for _, rec := range page.Records {
		if rec.TokenID == tok.ID && rec.Details["request_waivers"] == "CPRA-MIN-002 until "+expires && rec.Details["policy_waived"] == "CPRA-MIN-002" {
			recorded++
		}
	}
	if recorded != 3 {
		t.Fatalf("%d audit records of the token name the request's waiver, want 3 (create, patch, rotate)", recorded)
	}
}

// TestRequestWaivers_refusedWhenTheServicePolicySaysSo: with data.tokenguard.waivers.
// request_waivers = "refuse", a request's waiver waives nothing and is itself refused, so
// only the service's own --waivers file waives.
func TestRequestWaivers_refusedWhenTheServicePolicySaysSo(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data.json")
	if err := os.WriteFile(data, []byte(`{"tokenguard": {"waivers": {"request_waivers": "refuse"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	svc := servertest.Start(t, servertest.Options{Now: servertest.NewClock(t0).Now, PolicyDataFiles: []string{data}})
	req := compliantRequest("wild-export")
	req.Scopes = []string{"invoices:*"}
	req.Waivers = []wire.Waiver{{Rule: "CPRA-MIN-002", Address: "tokenguard_api_token.wild-export", Reason: "Vendor API offers no narrower scope",
		ApprovedBy: "privacy-office@example.com", Expires: t0.AddDate(0, 0, 30).Format("2006-01-02")}}
	_, err := svc.Client(t).CreateToken(context.Background(), req, "")
	wantRefusedRules(t, "create with a request waiver", err, "CPRA-MIN-002", "TOKENGUARD-WAIVER-REFUSED")
	var re *client.ResponseError
	_ = errors.As(err, &re)
	for _, f := range re.Findings {
		if f.RuleID == "TOKENGUARD-WAIVER-REFUSED" && !strings.Contains(f.Message, "request_waivers") {
			t.Fatalf("the refusal does not name the setting: %q", f.Message)
		}
	}
}

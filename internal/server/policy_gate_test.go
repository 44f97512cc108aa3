package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/keyring"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/policy"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store/sqlite"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// errorShapeKeys is the number of top-level keys of an error answer: "error", plus
// "findings" in a policy_violation answer of the policy gate.
func errorShapeKeys(top map[string]json.RawMessage) int {
	if _, ok := top["findings"]; ok {
		return 2
	}
	return 1
}

// decodePolicyAnswer decodes a policy_violation answer and returns its blocking rule ids.
func decodePolicyAnswer(t *testing.T, status int, body []byte) (wire.ErrorBody, []string) {
	t.Helper()
	var a wire.ErrorBody
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatalf("answer %s is not JSON: %v", body, err)
	}
	if status != http.StatusUnprocessableEntity || a.Error.Code != "policy_violation" {
		t.Fatalf("answer = %d %s, want 422 policy_violation", status, body)
	}
	var ids []string
	for _, f := range a.Findings {
		if f.Blocking {
			ids = append(ids, f.RuleID)
		}
	}
	return a, ids
}

// lastAudit returns the newest audit record.
func lastAudit(t *testing.T, c *client.Client) wire.AuditRecord {
	t.Helper()
	var last wire.AuditRecord
	for after := int64(0); ; {
		page, err := c.ListAudit(context.Background(), after, 500)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Records) == 0 {
			return last
		}
		last = page.Records[len(page.Records)-1]
		after = last.Seq
	}
}

// sensitiveRequest is a compliant token that reaches a sensitive category.
func sensitiveRequest(name string) wire.CreateTokenRequest {
	r := compliantRequest(name)
	r.DataCategories = []string{"health"}
	r.TTL = "7d"
	r.Rotation = &wire.Rotation{Interval: "1d", Overlap: "1h"}
	return r
}

// TestPolicyGate_mandatoryRefusesEachMutationAndWritesOnlyTheRefusal: under the default
// (mandatory) enforcement, a create, patch, renew and rotate that break a rule answer 422
// policy_violation with exactly the rule's findings, the database is unchanged except for one
// token.refuse audit record naming the rule ids, and no request value reaches that record.
func TestPolicyGate_mandatoryRefusesEachMutationAndWritesOnlyTheRefusal(t *testing.T) {
	ctx := context.Background()
	clock := servertest.NewClock(t0)
	svc := servertest.Start(t, servertest.Options{Now: clock.Now})
	admin := svc.Client(t)
	tok, err := admin.CreateToken(ctx, compliantRequest("invoice-export"), "")
	if err != nil {
		t.Fatal(err)
	}
	sens, err := admin.CreateToken(ctx, sensitiveRequest("claims-reader"), "")
	if err != nil {
		t.Fatal(err)
	}
	wildcard := compliantRequest("wildcard-export")
	wildcard.Scopes = []string{"invoices:*"}
	createBody, _ := json.Marshal(wildcard)

	cases := []struct {
		name, method, path, body string
		key                      string // Idempotency-Key, for the routes that take one
		rules                    []string
		field                    string
		tokenID                  string
	}{
		{"create", "POST", "/v1/tokens", string(createBody), "idem-create", []string{"CPRA-MIN-002"}, "scopes", ""},
		{"patch", "PATCH", "/v1/tokens/" + tok.ID, `{"scopes":["invoices:read","billing:admin"]}`, "", []string{"CPRA-MIN-002"}, "scopes", tok.ID},
		{"renew", "POST", "/v1/tokens/" + sens.ID + "/renew", `{"ttl":"60d","reason":"claims backlog","reviewed_by":"privacy-office@example.com"}`, "idem-renew", []string{"CPRA-RET-002"}, "ttl", sens.ID},
		{"rotate", "POST", "/v1/tokens/" + tok.ID + "/rotate", `{"overlap":"48h"}`, "idem-rotate", []string{"CPRA-ROT-002"}, "rotation.overlap", tok.ID},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := snapshotDB(t, svc.DBPath)
			var hdr []string
			if tc.key != "" {
				hdr = []string{"Idempotency-Key", tc.key}
			}
			status, body, _ := rawDo(t, tc.method, svc.URL+tc.path, svc.AdminToken, tc.body, hdr...)
			eb, rules := decodePolicyAnswer(t, status, body)
			if !slices.Equal(rules, tc.rules) || eb.Error.Field != tc.field {
				t.Fatalf("blocking rules %v on field %q, want %v on %q: %s", rules, eb.Error.Field, tc.rules, tc.field, body)
			}
			for _, f := range eb.Findings {
				if f.Address != "tokenguard_api_token."+strings.ReplaceAll(tokenName(t, admin, tc.tokenID, wildcard.Name), "-", "_") ||
					f.Citation == "" || f.Remediation == "" || f.Title == "" || f.Message == "" || f.File != nil || f.Line != nil {
					t.Fatalf("finding %+v lacks the check gate's fields", f)
				}
			}
			after := snapshotDB(t, svc.DBPath)
			if diff := diffExceptNewAudit(before, after); diff != "" {
				t.Fatalf("the refused %s changed the database: %s", tc.name, diff)
			}
			if got := auditActionsAfter(t, svc.DBPath, before.auditMax); !slices.Equal(got, []string{"token.refuse"}) {
				t.Fatalf("audit records added = %v, want [token.refuse]", got)
			}
			rec := lastAudit(t, admin)
			want := map[string]string{"route": tc.method + " " + routeOf(tc.path), "code": "policy_violation", "rules": strings.Join(tc.rules, ","), "field": tc.field}
			if rec.Outcome != "denied" || rec.TokenID != tc.tokenID || !mapsEqual(rec.Details, want) {
				t.Fatalf("refusal record = %+v, want details %v and token %q", rec, want, tc.tokenID)
			}
		})
	}

	// The client surfaces the findings of a refusal.
	admin2 := "billing:admin"
	_, err = admin.UpdateToken(ctx, tok.ID, wire.UpdateTokenRequest{Scopes: &[]string{admin2}})
	var re *client.ResponseError
	if !errors.As(err, &re) || re.StatusCode != 422 || len(re.Findings) != 1 || re.Findings[0].RuleID != "CPRA-MIN-002" ||
		!strings.Contains(err.Error(), "CPRA-MIN-002") {
		t.Fatalf("client error = %v (%+v), want a 422 ResponseError with the CPRA-MIN-002 finding", err, re)
	}
	// A compliant request still goes through, and the refused ones left the tokens as they were.
	got, err := admin.RotateToken(ctx, tok.ID, wire.RotateRequest{}, "")
	if err != nil || got.SecretVersion != 2 || !slices.Equal(got.Scopes, []string{"invoices:read"}) || got.Warnings != nil {
		t.Fatalf("compliant rotate = %+v, %v", got, err)
	}
}

// tokenName is the name of token id, or fallback for a create.
func tokenName(t *testing.T, c *client.Client, id, fallback string) string {
	t.Helper()
	if id == "" {
		return fallback
	}
	tok, err := c.GetToken(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return tok.Name
}

// routeOf is the route pattern of a request path.
func routeOf(path string) string {
	parts := strings.Split(path, "/")
	if len(parts) > 3 {
		parts[3] = "{id}"
	}
	return strings.Join(parts, "/")
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestPolicyGate_validationRefusalsThatBreakARule: with the gate on, a create the service's
// own validation refuses on a field a rule covers answers 422 policy_violation on that field;
// malformed input keeps its 400.
func TestPolicyGate_validationRefusalsThatBreakARule(t *testing.T) {
	svc := servertest.Start(t, servertest.Options{})
	cases := []struct {
		name, body string
		status     int
		code       string
		field      string
		rules      []string
	}{
		{"blank owner", createBody(func(m map[string]any) { m["owner"] = "  " }), 422, "policy_violation", "owner", []string{"CPRA-MIN-004"}},
		{"generic purpose", createBody(func(m map[string]any) { m["purpose"] = "misc" }), 422, "policy_violation", "purpose", []string{"CPRA-MIN-001"}},
		{"no scopes", createBody(func(m map[string]any) { m["scopes"] = []string{} }), 422, "policy_violation", "scopes", []string{"CPRA-MIN-002"}},
		{"data_categories absent", createBody(func(m map[string]any) { delete(m, "data_categories") }), 422, "policy_violation", "data_categories", []string{"CPRA-MIN-005"}},
		{"unknown category and wildcard", createBody(func(m map[string]any) {
			m["data_categories"] = []string{"shoe_size"}
			m["scopes"] = []string{"*"}
		}), 422, "policy_violation", "scopes", []string{"CPRA-MIN-002", "CPRA-MIN-005"}},
		{"bad ttl stays a 400", createBody(func(m map[string]any) { m["ttl"] = "forever" }), 400, "invalid_request", "ttl", nil},
		{"control character in owner stays a 400", createBody(func(m map[string]any) { m["owner"] = "team\x1b[31m" }), 400, "invalid_request", "owner", nil},
		{"bad ttl stays a 400 beside a rule finding on another field", createBody(func(m map[string]any) {
			m["ttl"] = "forever"
			m["scopes"] = []string{"*"}
		}), 400, "invalid_request", "ttl", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body, _ := rawDo(t, "POST", svc.URL+"/v1/tokens", svc.AdminToken, tc.body)
			if tc.rules == nil {
				var eb wire.ErrorBody
				if err := json.Unmarshal(body, &eb); err != nil || status != tc.status || eb.Error.Code != tc.code || eb.Error.Field != tc.field || eb.Findings != nil {
					t.Fatalf("= %d %s, want %d %s on %q", status, body, tc.status, tc.code, tc.field)
				}
				return
			}
			eb, rules := decodePolicyAnswer(t, status, body)
			if !slices.Equal(rules, tc.rules) || eb.Error.Field != tc.field {
				t.Fatalf("rules %v on %q, want %v on %q: %s", rules, eb.Error.Field, tc.rules, tc.field, body)
			}
		})
	}
	status, body, _ := rawDo(t, "GET", svc.URL+"/v1/tokens", svc.AdminToken, "")
	if status != 200 || string(body) != `{"tokens":[]}` {
		t.Fatalf("list after refused creates = %d %s, want no tokens", status, body)
	}
}

// TestPolicyGate_advisoryProceedsWithWarningsAndAuditsThem: advisory creates, patches,
// renews and rotates non-compliant tokens, returns the findings in "warnings" (not blocking)
// and records their rule ids in the mutation's audit record.
func TestPolicyGate_advisoryProceedsWithWarningsAndAuditsThem(t *testing.T) {
	ctx := context.Background()
	svc := servertest.Start(t, servertest.Options{Now: servertest.NewClock(t0).Now, PolicyEnforcement: server.PolicyAdvisory})
	admin := svc.Client(t)
	req := compliantRequest("wide-export")
	req.Scopes = []string{"invoices:*"}
	tok, err := admin.CreateToken(ctx, req, "")
	if err != nil {
		t.Fatal(err)
	}
	wantWarnings := func(step string, got []wire.Finding, rules ...string) {
		t.Helper()
		var ids []string
		for _, f := range got {
			if f.Blocking || f.Waived || f.Address != "tokenguard_api_token.wide_export" {
				t.Fatalf("%s: warning %+v", step, f)
			}
			ids = append(ids, f.RuleID)
		}
		if !slices.Equal(ids, rules) {
			t.Fatalf("%s: warnings %v, want %v", step, ids, rules)
		}
		if rec := lastAudit(t, admin); rec.Details["policy_findings"] != strings.Join(rules, ",") {
			t.Fatalf("%s: audit record %+v, want policy_findings=%s", step, rec, strings.Join(rules, ","))
		}
	}
	wantWarnings("create", tok.Warnings, "CPRA-MIN-002")
	cats := []string{"health"}
	got, err := admin.UpdateToken(ctx, tok.ID, wire.UpdateTokenRequest{DataCategories: &cats})
	if err != nil {
		t.Fatal(err)
	}
	// health is sensitive, but the 7-day rotation interval is within its cap and the token has
	// an audience: only the wildcard remains.
	wantWarnings("patch", got.Warnings, "CPRA-MIN-002")
	got, err = admin.RenewToken(ctx, tok.ID, wire.RenewRequest{TTL: "60d", Reason: "claims backlog", ReviewedBy: "privacy-office@example.com"}, "")
	if err != nil || !got.ExpiresAt.Equal(t0.Add(60*24*time.Hour)) {
		t.Fatalf("advisory renew = %+v, %v", got, err)
	}
	wantWarnings("renew", got.Warnings, "CPRA-MIN-002", "CPRA-RET-002")
	got, err = admin.RotateToken(ctx, tok.ID, wire.RotateRequest{Overlap: "48h"}, "")
	if err != nil || got.SecretVersion != 2 {
		t.Fatalf("advisory rotate = %+v, %v", got, err)
	}
	// The rotation is judged on the token as it is after it (issue 13): 60 days left on a
	// token reaching health is still over the sensitive ttl cap (RET-002).
	wantWarnings("rotate", got.Warnings, "CPRA-MIN-002", "CPRA-RET-002", "CPRA-ROT-002")
}

// TestPolicyGate_offIsSilent: with the gate off nothing is evaluated: no warnings, no policy
// details in the audit record.
func TestPolicyGate_offIsSilent(t *testing.T) {
	svc := servertest.Start(t, servertest.Options{PolicyEnforcement: server.PolicyOff})
	admin := svc.Client(t)
	req := compliantRequest("wide-export")
	req.Scopes = []string{"*"}
	req.TTL = "90d"
	req.Rotation = nil
	tok, err := admin.CreateToken(context.Background(), req, "")
	if err != nil || tok.Warnings != nil {
		t.Fatalf("create with the gate off = %+v, %v", tok, err)
	}
	rec := lastAudit(t, admin)
	if _, ok := rec.Details["policy_findings"]; ok || rec.Action != "token.create" {
		t.Fatalf("audit record = %+v, want a create without policy details", rec)
	}
}

// TestPolicyGate_warningSeverityNeverBlocks: an unused token (CPRA-MIN-003, a warning) is
// rotated under mandatory enforcement, with the finding returned as a warning.
func TestPolicyGate_warningSeverityNeverBlocks(t *testing.T) {
	ctx := context.Background()
	clock := servertest.NewClock(t0)
	svc := servertest.Start(t, servertest.Options{Now: clock.Now})
	admin := svc.Client(t)
	req := compliantRequest("idle-export")
	req.TTL = "60d"
	tok, err := admin.CreateToken(ctx, req, "")
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(31 * 24 * time.Hour)
	got, err := admin.RotateToken(ctx, tok.ID, wire.RotateRequest{}, "")
	if err != nil {
		t.Fatalf("rotating an idle token: %v", err)
	}
	if len(got.Warnings) != 1 || got.Warnings[0].RuleID != "CPRA-MIN-003" || got.Warnings[0].Severity != "warning" || got.Warnings[0].Blocking {
		t.Fatalf("warnings = %+v, want one non-blocking CPRA-MIN-003", got.Warnings)
	}
	if rec := lastAudit(t, admin); rec.Action != "token.rotate" || rec.Details["policy_findings"] != "CPRA-MIN-003" {
		t.Fatalf("audit record = %+v", rec)
	}
}

// TestPolicyGate_waiverHonouredAndExpiredWaiverBlocks: a current waiver naming the token's
// address waives the finding (the create proceeds and reports it waived); an expired one
// blocks even a compliant token it names, as at the check gate.
func TestPolicyGate_waiverHonouredAndExpiredWaiverBlocks(t *testing.T) {
	ctx := context.Background()
	waivers, err := policy.ParseWaivers([]byte(`waivers:
  - rule: CPRA-MIN-002
    address: tokenguard_api_token.legacy_*
    reason: Vendor API has no narrower scope until the Q3 migration
    approved_by: privacy-office@example.com
    expires: 2030-03-31
  - rule: CPRA-ROT-002
    address: tokenguard_api_token.stale_export
    reason: Old exception
    approved_by: privacy-office@example.com
    expires: 2029-12-31
`))
	if err != nil {
		t.Fatal(err)
	}
	svc := servertest.Start(t, servertest.Options{Now: servertest.NewClock(t0).Now, Waivers: waivers, WaiversFile: "/etc/tokenguard/waivers.yaml"})
	admin := svc.Client(t)

	req := compliantRequest("legacy-vendor")
	req.Scopes = []string{"vendor:*"}
	tok, err := admin.CreateToken(ctx, req, "")
	if err != nil {
		t.Fatalf("waived create: %v", err)
	}
	if len(tok.Warnings) != 1 || !tok.Warnings[0].Waived || tok.Warnings[0].RuleID != "CPRA-MIN-002" || tok.Warnings[0].Blocking ||
		tok.Warnings[0].WaiverApprovedBy != "privacy-office@example.com" {
		t.Fatalf("warnings = %+v, want the waived CPRA-MIN-002", tok.Warnings)
	}
	if rec := lastAudit(t, admin); rec.Details["policy_waived"] != "CPRA-MIN-002" || rec.Details["policy_findings"] != "" {
		t.Fatalf("audit record = %+v, want policy_waived=CPRA-MIN-002 only", rec)
	}
	// The waiver names legacy_* only: the same scope on another token is refused.
	req = compliantRequest("current-vendor")
	req.Scopes = []string{"vendor:*"}
	body, _ := json.Marshal(req)
	status, out, _ := rawDo(t, "POST", svc.URL+"/v1/tokens", svc.AdminToken, string(body))
	if _, rules := decodePolicyAnswer(t, status, out); !slices.Equal(rules, []string{"CPRA-MIN-002"}) {
		t.Fatalf("unwaived token: rules %v", rules)
	}

	body, _ = json.Marshal(compliantRequest("stale-export"))
	status, out, _ = rawDo(t, "POST", svc.URL+"/v1/tokens", svc.AdminToken, string(body))
	eb, rules := decodePolicyAnswer(t, status, out)
	if !slices.Equal(rules, []string{policy.RuleWaiverExpired}) || eb.Findings[0].Address != "tokenguard_api_token.stale_export" ||
		eb.Findings[0].File != nil || strings.Contains(string(out), "/etc/tokenguard") {
		t.Fatalf("expired waiver: %s", out)
	}
}

// TestPolicyGate_refusedWaiverBlocks: a waiver the waiver policy refuses (expiring more than
// 90 days out, approved by the token's own owner, or naming a non-waivable rule) waives
// nothing at the service: the create is refused with the finding it meant to cover plus
// TOKENGUARD-WAIVER-REFUSED, whose message names the waiver's line and why, and not the
// server's path to the waivers file.
func TestPolicyGate_refusedWaiverBlocks(t *testing.T) {
	for _, c := range []struct {
		name, rule, approver, expires, why string
		scopes                             []string
		want                               []string
	}{
		{"too far out", "CPRA-MIN-002", "privacy-office@example.com", "2030-12-31",
			"it expires on 2030-12-31, more than 90 days from today", []string{"vendor:*"}, []string{"CPRA-MIN-002", policy.RuleWaiverRefused}},
		{"approved by the owner", "CPRA-MIN-002", "Team-Billing@example.com", "2030-03-01",
			"approved by the owner of tokenguard_api_token.legacy_vendor", []string{"vendor:*"}, []string{"CPRA-MIN-002", policy.RuleWaiverRefused}},
		{"non-waivable rule", "CPRA-DEL-001", "privacy-office@example.com", "2030-03-01",
			"which the waiver policy says cannot be waived", []string{"invoices:read"}, []string{policy.RuleWaiverRefused}},
	} {
		t.Run(c.name, func(t *testing.T) {
			waivers, err := policy.ParseWaivers([]byte(fmt.Sprintf(`waivers:
  - rule: %s
    address: tokenguard_api_token.legacy_*
    reason: Vendor API has no narrower scope until the Q3 migration
    approved_by: %s
    expires: %s
`, c.rule, c.approver, c.expires)))
			if err != nil {
				t.Fatal(err)
			}
			svc := servertest.Start(t, servertest.Options{Now: servertest.NewClock(t0).Now, Waivers: waivers, WaiversFile: "/etc/tokenguard/waivers.yaml"})
			req := compliantRequest("legacy-vendor")
			req.Scopes = c.scopes
			body, _ := json.Marshal(req)
			status, out, _ := rawDo(t, "POST", svc.URL+"/v1/tokens", svc.AdminToken, string(body))
			eb, rules := decodePolicyAnswer(t, status, out)
			slices.Sort(rules)
			want := slices.Clone(c.want)
			slices.Sort(want)
			if !slices.Equal(rules, want) {
				t.Fatalf("blocking rules %v, want %v: %s", rules, want, out)
			}
			var msg string
			for _, f := range eb.Findings {
				if f.RuleID == policy.RuleWaiverRefused {
					msg = f.Message
				}
			}
			if !strings.Contains(msg, "at waivers.yaml:2 is refused: ") || !strings.Contains(msg, c.why) || strings.Contains(string(out), "/etc/tokenguard") {
				t.Fatalf("refusal message %q, want waivers.yaml:2 and %q, and no server path", msg, c.why)
			}
		})
	}
}

// TestPolicyGate_configIsChecked: an unknown enforcement mode is refused, and a nil engine
// turns the gate off whatever the mode.
func TestPolicyGate_configIsChecked(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir()+"/t.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	keys, err := keyring.New()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := server.New(server.Config{Store: st, Keyring: keys, PolicyEnforcement: "strict"}); err == nil || !strings.Contains(err.Error(), `"strict"`) {
		t.Fatalf("New with enforcement strict = %v, want an error naming it", err)
	}
	if _, err := server.New(server.Config{Store: st, Keyring: keys, PolicyEnforcement: server.PolicyMandatory}); err != nil {
		t.Fatalf("New without an engine: %v", err)
	}
}

// BenchmarkPolicyGate_create measures a create request through the API with the policy gate
// mandatory and off (not a timed test: run with -bench).
func BenchmarkPolicyGate_create(b *testing.B) {
	for _, mode := range []string{server.PolicyOff, server.PolicyMandatory} {
		b.Run(mode, func(b *testing.B) {
			svc := servertest.Start(b, servertest.Options{PolicyEnforcement: mode})
			admin := svc.Client(b)
			ctx := context.Background()
			i := 0
			for b.Loop() {
				i++
				req := compliantRequest("bench-" + strconv.Itoa(i))
				if _, err := admin.CreateToken(ctx, req, ""); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestPolicyGate_deprecatedCategoryNameStillCreatesWithAWarning: a token declaring
// religious_beliefs (renamed religious_philosophical_beliefs) is still accepted under
// mandatory enforcement, still treated as sensitive, and answered with the non-blocking
// CPRA-MIN-006 deprecation warning.
func TestPolicyGate_deprecatedCategoryNameStillCreatesWithAWarning(t *testing.T) {
	ctx := context.Background()
	svc := servertest.Start(t, servertest.Options{Now: servertest.NewClock(t0).Now})
	admin := svc.Client(t)
	req := compliantRequest("church-records")
	req.DataCategories = []string{"identifiers", "religious_beliefs"}
	req.Rotation = &wire.Rotation{Interval: "5d", Overlap: "1h"} // the sensitive rotation cap is 7 days
	tok, err := admin.CreateToken(ctx, req, "")
	if err != nil {
		t.Fatalf("create with a deprecated category name: %v", err)
	}
	if len(tok.Warnings) != 1 || tok.Warnings[0].RuleID != "CPRA-MIN-006" || tok.Warnings[0].Blocking ||
		!strings.Contains(tok.Warnings[0].Message, `it is now "religious_philosophical_beliefs"`) {
		t.Fatalf("warnings = %+v, want the non-blocking CPRA-MIN-006 deprecation", tok.Warnings)
	}
	// Still sensitive: a 60-day ttl is above the sensitive cap.
	req = compliantRequest("church-records-long")
	req.DataCategories = []string{"religious_beliefs"}
	req.TTL = "60d"
	body, _ := json.Marshal(req)
	status, out, _ := rawDo(t, "POST", svc.URL+"/v1/tokens", svc.AdminToken, string(body))
	if _, rules := decodePolicyAnswer(t, status, out); !slices.Contains(rules, "CPRA-RET-002") {
		t.Fatalf("a deprecated sensitive name lost its sensitivity: blocking rules %v", rules)
	}
}

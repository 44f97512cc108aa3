package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/server"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

func createBody(edit func(m map[string]any)) string {
	m := map[string]any{
		"name": "n1", "owner": "team-a", "purpose": "sync orders to the warehouse system",
		"scopes": []string{"orders:read"}, "data_categories": []string{"commercial"},
	}
	edit(m)
	b, _ := json.Marshal(m)
	return string(b)
}

// TestCreateValidation_refusesBadInputNamingTheField proves the service's own validation, so
// the policy gate is off: with it on, the rows that are also rule violations answer 422
// policy_violation on the same field (TestPolicyGate_validationRefusalsThatBreakARule).
func TestCreateValidation_refusesBadInputNamingTheField(t *testing.T) {
	svc := servertest.Start(t, servertest.Options{PolicyEnforcement: server.PolicyOff})
	cases := []struct {
		name        string
		body        string
		contentType string
		status      int
		code, field string
	}{
		{"unknown field", createBody(func(m map[string]any) { m["colour"] = "red" }), "", 400, "invalid_request", "colour"},
		{"missing name", createBody(func(m map[string]any) { delete(m, "name") }), "", 400, "invalid_request", "name"},
		{"missing owner", createBody(func(m map[string]any) { m["owner"] = "  " }), "", 400, "invalid_request", "owner"},
		{"generic purpose", createBody(func(m map[string]any) { m["purpose"] = "misc" }), "", 400, "invalid_request", "purpose"},
		{"no scopes", createBody(func(m map[string]any) { m["scopes"] = []string{} }), "", 400, "invalid_request", "scopes"},
		{"scope with space", createBody(func(m map[string]any) { m["scopes"] = []string{"a b"} }), "", 400, "invalid_request", "scopes"},
		{"data_categories null", createBody(func(m map[string]any) { m["data_categories"] = nil }), "", 400, "invalid_request", "data_categories"},
		{"data_categories absent", createBody(func(m map[string]any) { delete(m, "data_categories") }), "", 400, "invalid_request", "data_categories"},
		{"unknown category", createBody(func(m map[string]any) { m["data_categories"] = []string{"shoe_size"} }), "", 400, "invalid_request", "data_categories"},
		{"scopes wrong type", createBody(func(m map[string]any) { m["scopes"] = "orders:read" }), "", 400, "invalid_request", "scopes"},
		{"bad ttl", createBody(func(m map[string]any) { m["ttl"] = "forever" }), "", 400, "invalid_request", "ttl"},
		{"ttl over max", createBody(func(m map[string]any) { m["ttl"] = "365d" }), "", 422, "ttl_exceeds_max", "ttl"},
		{"bad rotation interval", createBody(func(m map[string]any) { m["rotation"] = map[string]string{"interval": "0d"} }), "", 400, "invalid_request", "rotation.interval"},
		{"bad rotation overlap", createBody(func(m map[string]any) { m["rotation"] = map[string]string{"overlap": "soon"} }), "", 400, "invalid_request", "rotation.overlap"},
		{"duplicate subject", createBody(func(m map[string]any) { m["data_subjects"] = []string{"c:1", "c:1"} }), "", 400, "invalid_request", "data_subjects"},
		{"not JSON", `{"name":`, "", 400, "invalid_request", ""},
		{"trailing data", createBody(func(map[string]any) {}) + `{}`, "", 400, "invalid_request", ""},
		{"empty body", "", "", 400, "invalid_request", ""},
		{"wrong content type", createBody(func(map[string]any) {}), "text/plain", 415, "unsupported_media_type", ""},
		{"body too large", createBody(func(m map[string]any) { m["purpose"] = strings.Repeat("x", 2<<20) }), "", 413, "body_too_large", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.contentType != "" {
				hdr = []string{"Content-Type", tc.contentType}
			}
			status, body, _ := rawDo(t, "POST", svc.URL+"/v1/tokens", svc.AdminToken, tc.body, hdr...)
			var eb wire.ErrorBody
			if err := json.Unmarshal(body, &eb); err != nil {
				t.Fatalf("body %q is not the error shape: %v", body, err)
			}
			if status != tc.status || eb.Error.Code != tc.code || eb.Error.Field != tc.field || eb.Error.Message == "" {
				t.Fatalf("= %d %+v, want %d %s field %q", status, eb.Error, tc.status, tc.code, tc.field)
			}
		})
	}
	// Nothing was created by any refused request.
	status, body, _ := rawDo(t, "GET", svc.URL+"/v1/tokens", svc.AdminToken, "")
	if status != 200 || string(body) != `{"tokens":[]}` {
		t.Fatalf("list after refused creates = %d %s, want no tokens", status, body)
	}
}

func TestCreate_emptyDataCategoriesIsExplicitNone(t *testing.T) {
	svc := servertest.Start(t, servertest.Options{})
	status, body, _ := rawDo(t, "POST", svc.URL+"/v1/tokens", svc.AdminToken, createBody(func(m map[string]any) { m["data_categories"] = []string{} }))
	if status != http.StatusCreated || !strings.Contains(string(body), `"data_categories":[]`) {
		t.Fatalf("create with [] = %d %s", status, body)
	}
}

func TestRouting_unknownRouteAndMethodAnswerInTheErrorShape(t *testing.T) {
	svc := servertest.Start(t, servertest.Options{})
	status, body, _ := rawDo(t, "GET", svc.URL+"/v2/nothing", svc.AdminToken, "")
	if status != 404 || !strings.Contains(string(body), `"code":"not_found"`) {
		t.Fatalf("unknown route = %d %s", status, body)
	}
	status, body, hdr := rawDo(t, "PUT", svc.URL+"/v1/tokens", svc.AdminToken, "")
	if status != 405 || !strings.Contains(string(body), `"code":"method_not_allowed"`) || !strings.Contains(hdr.Get("Allow"), "POST") {
		t.Fatalf("wrong method = %d %s Allow=%q", status, body, hdr.Get("Allow"))
	}
	status, body, _ = rawDo(t, "GET", svc.URL+"/v1/tokens/tok_missing", svc.AdminToken, "")
	if status != 404 || !strings.Contains(string(body), `"code":"not_found"`) {
		t.Fatalf("missing token = %d %s", status, body)
	}
}

func TestUpdate_changesOnlyGivenFieldsAndAuditsTheirNames(t *testing.T) {
	ctx := context.Background()
	svc := servertest.Start(t, servertest.Options{})
	admin := svc.Client(t)
	tok, err := admin.CreateToken(ctx, compliantRequest("patch-me"), "")
	if err != nil {
		t.Fatal(err)
	}
	scopes := []string{"invoices:read", "invoices:list"}
	labels := map[string]string{"team": "billing"}
	got, err := admin.UpdateToken(ctx, tok.ID, wire.UpdateTokenRequest{Scopes: &scopes, Labels: &labels, Rotation: &wire.Rotation{}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got.Scopes, ",") != "invoices:read,invoices:list" || got.Labels["team"] != "billing" ||
		got.Rotation != nil || got.Purpose != tok.Purpose || got.SecretVersion != 1 {
		t.Fatalf("updated token = %+v", got)
	}
	page, err := admin.ListAudit(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	last := page.Records[len(page.Records)-1]
	if last.Action != "token.update" || last.Details["fields"] != "scopes,labels,rotation" || last.TokenID != tok.ID {
		t.Fatalf("last audit record = %+v", last)
	}
	bad := "tbd"
	_, err = admin.UpdateToken(ctx, tok.ID, wire.UpdateTokenRequest{Purpose: &bad})
	// Issue 13: refused by the policy gate as a create with this purpose would be.
	wantAPIError(t, err, 422, "policy_violation", "purpose")
}

func TestList_filtersAndPages(t *testing.T) {
	ctx := context.Background()
	clock := servertest.NewClock(t0)
	svc := servertest.Start(t, servertest.Options{Now: clock.Now})
	admin := svc.Client(t)
	mk := func(name, owner, ttl string, cats, subjects []string) wire.Token {
		r := compliantRequest(name)
		r.Owner, r.TTL, r.DataCategories, r.DataSubjects = owner, ttl, cats, subjects
		r.Rotation = nil // a 7-day rotation interval would outlive the 1-hour ttl (CPRA-ROT-001)
		tok, err := admin.CreateToken(ctx, r, "")
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	short := mk("short", "team-a", "1h", []string{"health"}, nil)
	used := mk("used", "team-a", "30d", []string{"commercial"}, []string{"customer:1"})
	revoked := mk("revoked", "team-b", "30d", []string{"commercial"}, []string{"customer:1"})
	idle := mk("idle", "Team-B", "30d", []string{}, nil)
	if _, err := admin.RevokeToken(ctx, revoked.ID); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Hour) // short is expired now
	if _, err := admin.Introspect(ctx, used.Secret); err != nil {
		t.Fatal(err)
	}
	ids := func(opts wire.ListTokensOptions) string {
		t.Helper()
		l, err := admin.ListTokens(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, tok := range l.Tokens {
			out = append(out, tok.Name)
		}
		return strings.Join(sortedCopy(out), ",")
	}
	for _, tc := range []struct {
		opts wire.ListTokensOptions
		want string
	}{
		{wire.ListTokensOptions{}, "idle,revoked,short,used"},
		{wire.ListTokensOptions{Status: "active"}, "idle,used"},
		{wire.ListTokensOptions{Status: "expired"}, "short"},
		{wire.ListTokensOptions{Status: "revoked"}, "revoked"},
		{wire.ListTokensOptions{Owner: "team-b"}, "idle,revoked"},
		{wire.ListTokensOptions{DataCategory: "health"}, "short"},
		{wire.ListTokensOptions{Subject: "customer:1"}, "revoked,used"},
		{wire.ListTokensOptions{UnusedFor: "1h", Status: "active"}, "idle"},
	} {
		if got := ids(tc.opts); got != tc.want {
			t.Errorf("list %+v = %s, want %s", tc.opts, got, tc.want)
		}
	}
	_ = short
	_ = idle
	// Paging two at a time visits every token once.
	seen := map[string]bool{}
	opts := wire.ListTokensOptions{Limit: 2}
	for pages := 0; ; pages++ {
		l, err := admin.ListTokens(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, tok := range l.Tokens {
			if seen[tok.ID] {
				t.Fatalf("token %s on two pages", tok.ID)
			}
			seen[tok.ID] = true
		}
		if l.NextPageToken == "" {
			break
		}
		if pages > 3 {
			t.Fatal("paging does not end")
		}
		opts.PageToken = l.NextPageToken
	}
	if len(seen) != 4 {
		t.Fatalf("paging saw %d tokens, want 4", len(seen))
	}
	_, err := admin.ListTokens(ctx, wire.ListTokensOptions{Status: "zombie"})
	wantAPIError(t, err, 400, "invalid_request", "status")
	_, err = admin.ListTokens(ctx, wire.ListTokensOptions{PageToken: "bogus"})
	wantAPIError(t, err, 400, "invalid_request", "page_token")
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	slices.Sort(out)
	return out
}

func TestRefusals_areAuditedWithCodeAndFieldButNoValues(t *testing.T) {
	ctx := context.Background()
	svc := servertest.Start(t, servertest.Options{})
	admin := svc.Client(t)
	tok, err := admin.CreateToken(ctx, compliantRequest("refused"), "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = admin.RenewToken(ctx, tok.ID, wire.RenewRequest{Reason: "secret-project-zebra", ReviewedBy: "team-billing@example.com"}, "")
	wantAPIError(t, err, 422, "reviewer_is_owner", "reviewed_by")
	page, err := admin.ListAudit(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	last := page.Records[len(page.Records)-1]
	want := wire.AuditRecord{Seq: last.Seq, PrevHash: last.PrevHash, Hash: last.Hash, KeyID: svc.Keys.KeyID(), Time: last.Time, Actor: last.Actor,
		Action: "token.refuse", TokenID: tok.ID, Outcome: "denied",
		Details: map[string]string{"route": "POST /v1/tokens/{id}/renew", "code": "reviewer_is_owner", "field": "reviewed_by"}}
	if !equalJSON(last, want) {
		t.Fatalf("refusal record = %+v, want %+v", last, want)
	}
	for _, rec := range page.Records {
		if rec.Details["reason"] == "secret-project-zebra" {
			t.Fatal("the refused request's values reached the audit log")
		}
	}
}

func TestIntrospect_acceptsRFC7662FormBodyAndRequiresTheToken(t *testing.T) {
	ctx := context.Background()
	svc := servertest.Start(t, servertest.Options{})
	tok, err := svc.Client(t).CreateToken(ctx, compliantRequest("form"), "")
	if err != nil {
		t.Fatal(err)
	}
	status, body, _ := rawDo(t, "POST", svc.URL+"/v1/introspect", svc.AdminToken, "token="+tok.Secret+"&token_type_hint=access_token",
		"Content-Type", "application/x-www-form-urlencoded")
	if status != 200 || !strings.HasPrefix(string(body), `{"active":true,"token_id":"`+tok.ID+`"`) {
		t.Fatalf("form introspection = %d %s", status, body)
	}
	status, body, _ = rawDo(t, "POST", svc.URL+"/v1/introspect", svc.AdminToken, `{"token":""}`)
	// The OAuth endpoints answer RFC 6749's error shape (issue 16), the field as tokenguard_field.
	if status != 400 || !strings.Contains(string(body), `"error":"invalid_request"`) || !strings.Contains(string(body), `"tokenguard_field":"token"`) {
		t.Fatalf("empty token = %d %s", status, body)
	}
}

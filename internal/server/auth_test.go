package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// publicRoutes need no credential.
var publicRoutes = map[string]bool{"GET /healthz": true, "GET /readyz": true, "GET /v1/openapi.json": true,
	"GET /.well-known/oauth-authorization-server": true,
	// Authenticated by the report's ECDSA signature, not a credential: see
	// TestSecretScanning_signedReportRevokesLiveSecrets.
	"POST /v1/secret-scanning/reports": true}

// routeRequest is one concrete request of a route pattern.
type routeRequest struct{ path, body string }

// concreteRequests returns a concrete, valid request for every authenticated route, with
// {id} bound to tokenID or credentialID. A route missing here fails the matrix test.
func concreteRequests(t *testing.T, tokenID, tokenSecret, credentialID string) map[string]routeRequest {
	t.Helper()
	create, err := json.Marshal(compliantRequest("matrix-new"))
	if err != nil {
		t.Fatal(err)
	}
	introspect, err := json.Marshal(wire.IntrospectRequest{Token: tokenSecret})
	if err != nil {
		t.Fatal(err)
	}
	return map[string]routeRequest{
		"POST /v1/tokens":             {"/v1/tokens", string(create)},
		"GET /v1/tokens":              {"/v1/tokens", ""},
		"GET /v1/tokens/{id}":         {"/v1/tokens/" + tokenID, ""},
		"PATCH /v1/tokens/{id}":       {"/v1/tokens/" + tokenID, `{"purpose":"nightly export of invoices to the ledger system"}`},
		"DELETE /v1/tokens/{id}":      {"/v1/tokens/" + tokenID, ""},
		"POST /v1/tokens/{id}/revoke": {"/v1/tokens/" + tokenID + "/revoke", `{}`},
		"POST /v1/tokens/{id}/rotate": {"/v1/tokens/" + tokenID + "/rotate", `{}`},
		"POST /v1/tokens/{id}/renew":  {"/v1/tokens/" + tokenID + "/renew", `{"ttl":"10d","reason":"still needed for the export","reviewed_by":"security-team"}`},
		"POST /v1/introspect":         {"/v1/introspect", string(introspect)},
		// Not the matrix token's secret: its holder may revoke it (the one route a token
		// secret authenticates on), and the positive control must not end it.
		"POST /v1/revoke":                  {"/v1/revoke", `{"token":"tg_test_not_a_live_secret"}`},
		"POST /v1/credentials":             {"/v1/credentials", `{"name":"matrix-server"}`},
		"POST /v1/credentials/{id}/revoke": {"/v1/credentials/" + credentialID + "/revoke", `{}`},
		"GET /v1/credentials":              {"/v1/credentials", ""},
		"POST /v1/credentials/{id}/rotate": {"/v1/credentials/" + credentialID + "/rotate", `{"overlap":"1h"}`},
		"GET /v1/audit":                    {"/v1/audit", ""},
		"GET /v1/audit/checkpoint":         {"/v1/audit/checkpoint", ""},
		// The dry run keeps the positive control from revoking the matrix token.
		"POST /v1/deletion-requests":                {"/v1/deletion-requests", `{"subject":"customer:matrix","dry_run":true}`},
		"GET /v1/deletion-requests/erased-subjects": {"/v1/deletion-requests/erased-subjects", ""},
		"GET /v1/deletion-requests/{id}":            {"/v1/deletion-requests/del_000000000000000000000000", ""},
		"POST /v1/access-requests":                  {"/v1/access-requests", `{"subject":"customer:matrix"}`},
		// A checkpoint the log does not hold: the admin's positive control is a 400.
		"POST /v1/evidence-packs":   {"/v1/evidence-packs", `{"manifest_digest":"` + strings.Repeat("ab", 32) + `","checkpoint_seq":1,"checkpoint_hash":"` + strings.Repeat("0", 64) + `"}`},
		"GET /v1/deletion-requests": {"/v1/deletion-requests", ""},
		"GET /v1/renewals":          {"/v1/renewals", ""},
		"GET /v1/policy":            {"/v1/policy", ""},
	}
}

func TestAuth_everyRouteRefusesMissingWrongMalformedRevokedAndUnderprivilegedCredentials(t *testing.T) {
	ctx := context.Background()
	svc := servertest.Start(t, servertest.Options{AuthFailuresPerMinute: -1})
	admin := svc.Client(t)
	tok, err := admin.CreateToken(ctx, compliantRequest("matrix"), "")
	if err != nil {
		t.Fatal(err)
	}
	_, introspectOnly := introspector(t, svc)
	victim, err := admin.CreateCredential(ctx, wire.CreateCredentialRequest{Name: "to-be-revoked"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if st, body, _ := rawDo(t, "POST", svc.URL+"/v1/credentials/"+victim.ID+"/revoke", svc.AdminToken, `{"reason":"rotated out"}`); st != 200 || !strings.Contains(string(body), `"revoked_at"`) {
		t.Fatalf("revoking credential = %d %s", st, body)
	}
	spare, err := admin.CreateCredential(ctx, wire.CreateCredentialRequest{Name: "spare"}, "")
	if err != nil {
		t.Fatal(err)
	}
	reqs := concreteRequests(t, tok.ID, tok.Secret, spare.ID)

	routes := svc.Server.Routes()
	var authed []string
	for _, p := range routes {
		if publicRoutes[p] {
			continue
		}
		if _, ok := reqs[p]; !ok {
			t.Fatalf("route %q has no case in concreteRequests: add one so its authentication is tested", p)
		}
		authed = append(authed, p)
	}
	if len(authed) != len(reqs) || len(authed)+len(publicRoutes) != len(routes) {
		t.Fatalf("routes %v vs cases %d: the table and the mux disagree", routes, len(reqs))
	}

	kinds := []struct {
		name, header string
		status       int
		code         string
	}{
		{"no credential", "", 401, "unauthenticated"},
		{"wrong credential", "Bearer tgc_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 401, "unauthenticated"},
		{"token secret as credential", "Bearer " + tok.Secret, 401, "unauthenticated"},
		{"basic scheme", "Basic " + svc.AdminToken, 401, "unauthenticated"},
		{"empty bearer", "Bearer ", 401, "unauthenticated"},
		{"revoked credential", "Bearer " + victim.Secret, 401, "unauthenticated"},
		{"introspect-only credential", "Bearer " + introspectOnly, 403, "forbidden"},
	}
	trials := 0
	for _, p := range authed {
		rq := reqs[p]
		method, _, _ := strings.Cut(p, " ")
		for _, k := range kinds {
			wantStatus, wantCode := k.status, k.code
			if (p == "POST /v1/introspect" || p == "POST /v1/revoke") && k.status == 403 {
				wantStatus, wantCode = 200, "" // the routes an introspect credential may call
			}
			status, body, hdr := rawDo(t, method, svc.URL+rq.path, "", rq.body, "Authorization", k.header)
			trials++
			if status != wantStatus {
				t.Errorf("%s with %s: status %d (%s), want %d", p, k.name, status, body, wantStatus)
				continue
			}
			if wantCode == "" {
				continue
			}
			var eb wire.ErrorBody
			if err := decodeErrorBodyFor(rq.path, body, &eb); err != nil || eb.Error.Code != wantCode || eb.Error.Message == "" {
				t.Errorf("%s with %s: body %s, want error code %s with a message", p, k.name, body, wantCode)
			}
			// RFC 6750 section 3: no error attribute when no credential was presented,
			// error="invalid_token" when one was and is not recognised (issue 16).
			wantChallenge := `Bearer realm="tokenguard", error="invalid_token", error_description=`
			if k.header == "" {
				wantChallenge = `Bearer realm="tokenguard"`
			}
			if status == 401 && (!strings.HasPrefix(hdr.Get("WWW-Authenticate"), wantChallenge) ||
				(k.header == "" && hdr.Get("WWW-Authenticate") != wantChallenge)) {
				t.Errorf("%s with %s: WWW-Authenticate %q, want %q", p, k.name, hdr.Get("WWW-Authenticate"), wantChallenge)
			}
			if status == 403 && !strings.HasPrefix(hdr.Get("WWW-Authenticate"), `Bearer realm="tokenguard", error="insufficient_scope"`) {
				t.Errorf("%s with %s: WWW-Authenticate %q, want error=\"insufficient_scope\"", p, k.name, hdr.Get("WWW-Authenticate"))
			}
			if strings.Contains(string(body), tok.Secret) || strings.Contains(string(body), victim.Secret) {
				t.Errorf("%s with %s: answer echoes a secret", p, k.name)
			}
		}
	}
	t.Logf("%d routes x %d credential kinds = %d refused requests checked", len(authed), len(kinds), trials)

	// Nothing the refused requests asked for happened.
	list, err := admin.ListTokens(ctx, wire.ListTokensOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Tokens) != 1 || list.Tokens[0].Status != "active" || list.Tokens[0].SecretVersion != 1 || list.Tokens[0].Purpose != tok.Purpose {
		t.Fatalf("after refused requests the tokens are %+v, want the one token unchanged", list.Tokens)
	}

	// Positive control: the admin credential passes authentication on every route.
	for _, p := range authed {
		rq := reqs[p]
		method, _, _ := strings.Cut(p, " ")
		status, body, _ := rawDo(t, method, svc.URL+rq.path, svc.AdminToken, rq.body)
		if status == 401 || status == 403 || status >= 500 {
			t.Errorf("%s with the admin credential: %d %s", p, status, body)
		}
	}
}

func TestCredentialRevoke_nextRequestRefusedIdempotentAuditedAndGuarded(t *testing.T) {
	ctx := context.Background()
	svc := servertest.Start(t, servertest.Options{})
	admin := svc.Client(t)
	cred, err := admin.CreateCredential(ctx, wire.CreateCredentialRequest{Name: "orders-api"}, "")
	if err != nil {
		t.Fatal(err)
	}
	ic := svc.ClientWithToken(t, cred.Secret)
	if _, err := ic.Introspect(ctx, "tg_live_x"); err != nil {
		t.Fatalf("introspect before revoke: %v", err)
	}
	for i := range 2 { // the second call is a no-op answering the same
		status, body, _ := rawDo(t, "POST", svc.URL+"/v1/credentials/"+cred.ID+"/revoke", svc.AdminToken, "")
		var got struct {
			ID        string     `json:"id"`
			RevokedAt *time.Time `json:"revoked_at"`
			Secret    string     `json:"secret"`
		}
		if status != 200 || json.Unmarshal(body, &got) != nil || got.ID != cred.ID || got.RevokedAt == nil || got.Secret != "" {
			t.Fatalf("revoke #%d = %d %s", i+1, status, body)
		}
	}
	_, err = ic.Introspect(ctx, "tg_live_x")
	wantAPIError(t, err, 401, "unauthenticated", "")

	page, err := admin.ListAudit(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range page.Records {
		if r.Action == "credential.revoke" {
			n++
			if r.Details["credential"] != cred.ID || r.Actor == "" {
				t.Fatalf("credential.revoke record = %+v", r)
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d credential.revoke records, want exactly 1", n)
	}

	status, body, _ := rawDo(t, "POST", svc.URL+"/v1/credentials/cred_doesnotexist/revoke", svc.AdminToken, "")
	if status != 404 || !strings.Contains(string(body), `"not_found"`) {
		t.Fatalf("revoking an unknown credential = %d %s, want 404 not_found", status, body)
	}
	// The admin credential cannot revoke itself (that could lock every admin out).
	var bootstrapID string
	for _, r := range page.Records {
		if r.Action == "credential.bootstrap" {
			bootstrapID = r.Details["credential"]
		}
	}
	status, body, _ = rawDo(t, "POST", svc.URL+"/v1/credentials/"+bootstrapID+"/revoke", svc.AdminToken, "")
	if status != 409 || !strings.Contains(string(body), `"cannot_revoke_self"`) {
		t.Fatalf("self-revoke = %d %s, want 409 cannot_revoke_self", status, body)
	}
	if _, err := admin.ListTokens(ctx, wire.ListTokensOptions{}); err != nil {
		t.Fatalf("admin credential after refused self-revoke: %v", err)
	}
}

// The revocation is stored in the database, not held by the process: after a restart the
// credential is still refused, and revoking it again reports the first instant.
func TestCredentialRevoke_holdsAcrossARestartAndKeepsTheFirstInstant(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clock := servertest.NewClock(t0.Add(123456789 * time.Nanosecond))
	svc := servertest.Start(t, servertest.Options{Dir: dir, Now: clock.Now})
	cred, err := svc.Client(t).CreateCredential(ctx, wire.CreateCredentialRequest{Name: "x-api"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := svc.Client(t).RevokeCredential(ctx, cred.ID); err != nil || got.ID != cred.ID || got.Name != "x-api" || got.Secret != "" {
		t.Fatalf("RevokeCredential = %+v, %v; want the credential without its secret", got, err)
	}
	// The service clock is truncated to the microsecond, as PostgreSQL stores it.
	wantAt := t0.Add(123456 * time.Microsecond)
	revokedAt := func() time.Time {
		t.Helper()
		status, body, _ := rawDo(t, "POST", svc.URL+"/v1/credentials/"+cred.ID+"/revoke", svc.AdminToken, "")
		var got struct {
			RevokedAt *time.Time `json:"revoked_at"`
		}
		if status != 200 || json.Unmarshal(body, &got) != nil || got.RevokedAt == nil {
			t.Fatalf("revoke = %d %s", status, body)
		}
		return *got.RevokedAt
	}
	if got := revokedAt(); !got.Equal(wantAt) {
		t.Fatalf("revoked_at = %s, want %s", got.Format(time.RFC3339Nano), wantAt.Format(time.RFC3339Nano))
	}
	svc.Close()

	clock.Advance(time.Hour)
	svc = servertest.Start(t, servertest.Options{Dir: dir, Now: clock.Now})
	_, err = svc.ClientWithToken(t, cred.Secret).Introspect(ctx, "tg_live_x")
	wantAPIError(t, err, 401, "unauthenticated", "")
	if got := revokedAt(); !got.Equal(wantAt) {
		t.Fatalf("revoked_at after a restart and a second revoke = %s, want the first instant %s",
			got.Format(time.RFC3339Nano), wantAt.Format(time.RFC3339Nano))
	}
	if _, err := svc.Client(t).RevokeCredential(ctx, "cred_doesnotexist"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("RevokeCredential(unknown) = %v, want client.ErrNotFound", err)
	}
}

func TestAuthRateLimit_failuresPerSourceGet429WithRetryAfterAndRefill(t *testing.T) {
	clock := servertest.NewClock(t0)
	svc := servertest.Start(t, servertest.Options{Now: clock.Now, AuthFailuresPerMinute: 3})
	wrong := "tgc_wrong-wrong-wrong-wrong-wrong-wrong-wrong"

	// Successes never count: many admin requests, no 429.
	for i := range 20 {
		if st, body, _ := rawDo(t, "GET", svc.URL+"/v1/tokens", svc.AdminToken, ""); st != 200 {
			t.Fatalf("admin request %d = %d %s", i, st, body)
		}
	}
	for i := range 3 {
		if st, _, _ := rawDo(t, "GET", svc.URL+"/v1/tokens", wrong, ""); st != 401 {
			t.Fatalf("failure %d = %d, want 401", i+1, st)
		}
	}
	st, body, hdr := rawDo(t, "GET", svc.URL+"/v1/tokens", wrong, "")
	if st != 429 || hdr.Get("Retry-After") != "20" || !strings.Contains(string(body), `"too_many_failed_attempts"`) {
		t.Fatalf("4th failure = %d %s Retry-After %q, want 429 too_many_failed_attempts with Retry-After 20", st, body, hdr.Get("Retry-After"))
	}
	// Issue 13 changes this: a valid credential from a limited source is never refused (many
	// callers may share the address of a load balancer); only failures get 429.
	if st, _, _ := rawDo(t, "GET", svc.URL+"/v1/tokens", svc.AdminToken, ""); st != 200 {
		t.Fatalf("valid credential from a limited source = %d, want 200", st)
	}
	// Public routes are not limited.
	if st, _, _ := rawDo(t, "GET", svc.URL+"/healthz", "", ""); st != 200 {
		t.Fatalf("healthz from a limited source = %d", st)
	}
	clock.Advance(19 * time.Second)
	if st, _, hdr := rawDo(t, "GET", svc.URL+"/v1/tokens", wrong, ""); st != 429 || hdr.Get("Retry-After") != "1" {
		t.Fatalf("after 19s = %d Retry-After %q, want 429 with Retry-After 1", st, hdr.Get("Retry-After"))
	}
	clock.Advance(time.Second) // one token back: one more failure allowed, then limited again
	if st, _, _ := rawDo(t, "GET", svc.URL+"/v1/tokens", wrong, ""); st != 401 {
		t.Fatalf("after refill = %d, want 401", st)
	}
	if st, _, _ := rawDo(t, "GET", svc.URL+"/v1/tokens", wrong, ""); st != 429 {
		t.Fatalf("after spending the refilled token = %d, want 429", st)
	}
	clock.Advance(time.Minute)
	if st, _, _ := rawDo(t, "GET", svc.URL+"/v1/tokens", svc.AdminToken, ""); st != 200 {
		t.Fatalf("valid credential after a full refill = %d, want 200", st)
	}
	if !strings.Contains(svc.Logs.String(), `"status":429`) || strings.Contains(svc.Logs.String(), wrong) {
		t.Fatal("log lacks the 429 lines or holds the presented credential")
	}
}

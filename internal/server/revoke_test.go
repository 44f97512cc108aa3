package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// TestRevoke_byValueIsInstantAndAudited runs runRevokeByValue on SQLite.
func TestRevoke_byValueIsInstantAndAudited(t *testing.T) { runRevokeByValue(t, nil) }

// TestRevoke_byValueIsInstantAndAudited_PostgreSQL runs it on PostgreSQL.
func TestRevoke_byValueIsInstantAndAudited_PostgreSQL(t *testing.T) {
	runRevokeByValue(t, postgresWrap(t))
}

// formPost posts the form body to path with the Authorization header authz ("" for none)
// and returns the status and body.
func formPost(t *testing.T, svc *servertest.Service, path, authz, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, svc.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer closeOrFail(t, "the response body", resp.Body)
	var raw json.RawMessage
	_ = json.NewDecoder(resp.Body).Decode(&raw)
	return resp.StatusCode, string(raw)
}

// runRevokeByValue proves issue 16, point 2: POST /v1/revoke (RFC 7009) revokes a live
// secret by its value for an admin credential (Bearer or client_secret_basic) and for the
// token's own holder; the next introspection answers inactive; the revocation is audited
// with the caller, the token id and the secret's fingerprint, never the secret; unknown,
// malformed and dead secrets answer 200 and change nothing; a token secret cannot revoke
// another token, nor a reader credential anything. Issue 16 point 5 lets an introspect
// credential revoke by value (a resource server that sees a leaked secret may end it, as
// the secret's holder could).
func runRevokeByValue(t *testing.T, wrap func(store.Store) store.Store) {
	ctx := context.Background()
	clock := servertest.NewClock(t0)
	svc := servertest.Start(t, servertest.Options{Now: clock.Now, WrapStore: wrap, AuthFailuresPerMinute: -1})
	admin := svc.Client(t)
	ic, verifier := introspector(t, svc)
	active := func(secret string) bool {
		t.Helper()
		in, err := ic.Introspect(ctx, secret)
		if err != nil {
			t.Fatal(err)
		}
		return in.Active
	}
	mk := func(name string) wire.Token {
		t.Helper()
		tok, err := admin.CreateToken(ctx, compliantRequest(name), "")
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	byAdmin, byBasic, byHolder, bystander, rotated := mk("revoke-admin"), mk("revoke-basic"), mk("revoke-holder"), mk("revoke-bystander"), mk("revoke-rotated")
	byIntrospect := mk("revoke-introspect")
	reader, err := admin.CreateCredential(ctx, wire.CreateCredentialRequest{Name: "auditor", Role: "reader"}, "")
	if err != nil {
		t.Fatal(err)
	}
	form := func(tok string) string {
		return url.Values{"token": {tok}, "token_type_hint": {"access_token"}}.Encode()
	}
	adminBearer := "Bearer " + svc.AdminToken

	steps := []struct {
		name, authz, body string
		status            int
	}{
		{"admin revokes by value", adminBearer, form(byAdmin.Secret), 200},
		{"admin again (already revoked)", adminBearer, form(byAdmin.Secret), 200},
		{"unknown secret", adminBearer, form("tg_test_AAAAAAAAAAAAAAAA_nosuchsecret"), 200},
		{"malformed secret", adminBearer, form("hello"), 200},
		{"introspect credential", "Bearer " + verifier, form(byIntrospect.Secret), 200},
		{"reader credential", "Bearer " + reader.Secret, form(bystander.Secret), 403},
		{"another token's secret", "Bearer " + byHolder.Secret, form(bystander.Secret), 401},
		{"holder revokes itself", "Bearer " + byHolder.Secret, form(byHolder.Secret), 200},
		{"repeated token", adminBearer, "token=x&token=" + url.QueryEscape(bystander.Secret), 400},
		{"no token", adminBearer, "token_type_hint=access_token", 400},
	}
	for _, s := range steps {
		status, body := formPost(t, svc, "/v1/revoke", s.authz, s.body)
		if status != s.status {
			t.Errorf("%s: status %d (%s), want %d", s.name, status, body, s.status)
		}
		for _, secret := range []string{byAdmin.Secret, byHolder.Secret, bystander.Secret, verifier} {
			if strings.Contains(body, secret) {
				t.Errorf("%s: the answer echoes a secret", s.name)
			}
		}
	}
	if active(byAdmin.Secret) || active(byHolder.Secret) || active(byIntrospect.Secret) {
		t.Fatal("a secret revoked by value still introspects active")
	}
	if !active(bystander.Secret) {
		t.Fatal("a refused revocation ended the bystander token")
	}
	cred, err := admin.CreateCredential(ctx, wire.CreateCredentialRequest{Name: "revoker"}, "")
	if err != nil {
		t.Fatal(err)
	}
	// An introspect credential with client_secret_basic revokes as with Bearer.
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(cred.ID+":"+cred.Secret))
	if status, body := formPost(t, svc, "/v1/revoke", basic, form(byBasic.Secret)); status != 200 || active(byBasic.Secret) {
		t.Fatalf("introspect credential with Basic: %d %s, still active %v", status, body, active(byBasic.Secret))
	}

	// A dead secret (the previous one after its overlap) is no authority over the live one.
	clock.Advance(time.Minute)
	next, err := admin.RotateToken(ctx, rotated.ID, wire.RotateRequest{}, "")
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Hour)
	if status, _ := formPost(t, svc, "/v1/revoke", "Bearer "+rotated.Secret, form(rotated.Secret)); status != 200 || !active(next.Secret) {
		t.Fatalf("a superseded secret revoked its token's live secret (status %d)", status)
	}
	// The previous secret inside its overlap is live: it revokes the token.
	clock.Advance(7 * 24 * time.Hour)
	third, err := admin.RotateToken(ctx, rotated.ID, wire.RotateRequest{}, "")
	if err != nil {
		t.Fatal(err)
	}
	if status, _ := formPost(t, svc, "/v1/revoke", "Bearer "+next.Secret, form(next.Secret)); status != 200 || active(third.Secret) || active(next.Secret) {
		t.Fatalf("the previous secret inside its overlap did not revoke its token (status %d)", status)
	}

	page, err := admin.ListAudit(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	revokedBy := map[string]string{}
	for _, rec := range page.Records {
		raw, _ := json.Marshal(rec)
		for _, secret := range []string{byAdmin.Secret, byHolder.Secret, next.Secret, rotated.Secret} {
			if strings.Contains(string(raw), secret) {
				t.Fatalf("audit record %d holds a secret", rec.Seq)
			}
		}
		if rec.Action == audit.ActionRevoke && rec.Details["via"] == "rfc7009" {
			if rec.Fingerprint == "" {
				t.Errorf("revocation record %d has no fingerprint", rec.Seq)
			}
			revokedBy[rec.TokenID] = rec.Actor
		}
	}
	want := map[string]string{byAdmin.ID: "", byHolder.ID: "token-holder", rotated.ID: "token-holder",
		byIntrospect.ID: "", byBasic.ID: cred.ID}
	if len(revokedBy) != len(want) {
		t.Fatalf("revocation records %v, want one each for %v", revokedBy, want)
	}
	for id, actor := range want {
		got, ok := revokedBy[id]
		if !ok || (actor != "" && got != actor) || (actor == "" && !strings.HasPrefix(got, "cred_")) {
			t.Errorf("token %s: revoked by %q (recorded: %v), want %q", id, got, ok, actor)
		}
	}
}

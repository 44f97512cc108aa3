package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/client/rs"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/server"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// TestStandardClient_zitadelResourceServerIntrospects drives POST /v1/introspect with an
// unmodified third-party RFC 7662 client, zitadel/oidc's resource-server client, logging in
// with client_secret_basic (a credential's id and secret), as issue 16 asks: an active
// token fills the typed registered fields (sub, client_id, username, jti, scope, exp, iat,
// aud, token_type), and inactive (unknown), revoked and superseded secrets answer inactive;
// a rotated secret reports iat = its rotation time. The library's discovery is skipped with
// WithStaticEndpoints (it looks for OpenID Connect discovery, which this service does not
// serve); its token URL is never called by Introspect.
func TestStandardClient_zitadelResourceServerIntrospects(t *testing.T) {
	ctx := context.Background()
	clock := servertest.NewClock(t0)
	svc := servertest.Start(t, servertest.Options{Now: clock.Now})
	admin := svc.Client(t)
	cred, err := admin.CreateCredential(ctx, wire.CreateCredentialRequest{Name: "gateway"}, "")
	if err != nil {
		t.Fatal(err)
	}
	resource, err := rs.NewResourceServerClientCredentials(ctx, svc.URL, cred.ID, cred.Secret,
		rs.WithStaticEndpoints(svc.URL+"/v1/token-endpoint-not-used", svc.URL+"/v1/introspect"))
	if err != nil {
		t.Fatal(err)
	}
	introspect := func(secret string) *oidc.IntrospectionResponse {
		t.Helper()
		resp, err := rs.Introspect[*oidc.IntrospectionResponse](ctx, resource, secret)
		if err != nil {
			t.Fatalf("introspect: %v", err)
		}
		return resp
	}

	created, err := admin.CreateToken(ctx, compliantRequest("zitadel-client"), "")
	if err != nil {
		t.Fatal(err)
	}
	got := introspect(created.Secret)
	owner := "team-billing@example.com"
	if !got.Active || got.Subject != owner || got.Username != owner || got.ClientID != created.ID ||
		got.JWTID != created.ID || got.Scope.String() != "invoices:read" || got.TokenType != "bearer" ||
		!got.Expiration.AsTime().Equal(created.ExpiresAt.Truncate(time.Second)) || !got.IssuedAt.AsTime().Equal(t0) ||
		len(got.Audience) != 1 || got.Audience[0] != "accounting" {
		t.Fatalf("active answer = %+v", got)
	}
	if got := introspect("tg_test_AAAAAAAAAAAAAAAA_notatokenatall"); got.Active || got.Subject != "" || got.JWTID != "" {
		t.Fatalf("unknown token answered %+v, want inactive and empty", got)
	}

	clock.Advance(time.Hour)
	rotated, err := admin.RotateToken(ctx, created.ID, wire.RotateRequest{}, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := introspect(rotated.Secret); !got.Active || !got.IssuedAt.AsTime().Equal(t0.Add(time.Hour)) || got.JWTID != created.ID {
		t.Fatalf("rotated secret answered %+v, want active with iat = rotation time %v", got, t0.Add(time.Hour))
	}
	if got := introspect(created.Secret); !got.Active || got.Subject != owner {
		t.Fatalf("previous secret inside its overlap answered %+v, want active", got)
	}
	clock.Advance(time.Hour + time.Second)
	if got := introspect(created.Secret); got.Active {
		t.Fatalf("previous secret after its overlap answered %+v, want inactive", got)
	}

	if _, err := admin.RevokeToken(ctx, created.ID); err != nil {
		t.Fatal(err)
	}
	if got := introspect(rotated.Secret); got.Active || got.Subject != "" {
		t.Fatalf("revoked token answered %+v, want inactive", got)
	}

	// The wrong secret under a valid id, and a valid secret under another id, do not log in.
	for name, res := range map[string][2]string{
		"wrong secret":   {cred.ID, "tgc_" + strings.Repeat("A", 43)},
		"another's id":   {"cred_AAAAAAAAAAAA", cred.Secret},
		"admin's secret": {cred.ID, servertest.DefaultAdminToken},
	} {
		bad, err := rs.NewResourceServerClientCredentials(ctx, svc.URL, res[0], res[1],
			rs.WithStaticEndpoints(svc.URL+"/v1/token-endpoint-not-used", svc.URL+"/v1/introspect"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rs.Introspect[*oidc.IntrospectionResponse](ctx, bad, created.Secret); err == nil {
			t.Errorf("%s: introspection succeeded, want a refusal", name)
		}
	}
}

// TestIntrospect_clientAuthenticationMethods checks each way a client may authenticate on
// /v1/introspect (Bearer, client_secret_basic, client_secret_post), that two at once, a
// repeated parameter or a secret in the URL are refused 400, that a 401 carries RFC 6750's
// error="invalid_token" and offers Basic, and that the 415 names form encoding.
func TestIntrospect_clientAuthenticationMethods(t *testing.T) {
	ctx := context.Background()
	svc := servertest.Start(t, servertest.Options{AuthFailuresPerMinute: -1})
	admin := svc.Client(t)
	cred, err := admin.CreateCredential(ctx, wire.CreateCredentialRequest{Name: "gateway"}, "")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := admin.CreateToken(ctx, compliantRequest("client-auth"), "")
	if err != nil {
		t.Fatal(err)
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(cred.ID)+":"+url.QueryEscape(cred.Secret)))
	form := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	const formType = "application/x-www-form-urlencoded"
	cases := []struct {
		name, path, contentType, authz, body string
		status                               int
		active                               bool
		wantText                             string // in the body, or the WWW-Authenticate header for 401
	}{
		{"bearer, form", "/v1/introspect", formType, "Bearer " + cred.Secret, form("token", tok.Secret), 200, true, ""},
		{"client_secret_basic", "/v1/introspect", formType, basic, form("token", tok.Secret, "token_type_hint", "access_token"), 200, true, ""},
		{"client_secret_post", "/v1/introspect", formType, "", form("token", tok.Secret, "client_id", cred.ID, "client_secret", cred.Secret), 200, true, ""},
		{"post without client_id", "/v1/introspect", formType, "", form("token", tok.Secret, "client_secret", cred.Secret), 401, false, `error="invalid_token"`},
		{"post under another id", "/v1/introspect", formType, "", form("token", tok.Secret, "client_id", "cred_x", "client_secret", cred.Secret), 401, false, `error="invalid_token"`},
		{"basic and post at once", "/v1/introspect", formType, basic, form("token", tok.Secret, "client_id", cred.ID, "client_secret", cred.Secret), 400, false, "exactly one method"},
		{"secret in the URL", "/v1/introspect?client_secret=" + url.QueryEscape(cred.Secret), formType, "", form("token", tok.Secret, "client_id", cred.ID, "client_secret", cred.Secret), 400, false, "must not be sent in the URL"},
		{"repeated token", "/v1/introspect", formType, basic, "token=garbage&token=" + url.QueryEscape(tok.Secret), 400, false, "more than one token"},
		{"repeated hint", "/v1/introspect", formType, basic, form("token", tok.Secret) + "&token_type_hint=a&token_type_hint=b", 400, false, "more than one token_type_hint"},
		{"basic, bad base64", "/v1/introspect", formType, "Basic %%%", form("token", tok.Secret), 401, false, `error="invalid_token"`},
		{"basic, wrong secret", "/v1/introspect", formType, "Basic " + base64.StdEncoding.EncodeToString([]byte(cred.ID+":nope")), form("token", tok.Secret), 401, false, `error="invalid_token"`},
		{"text/plain", "/v1/introspect", "text/plain", basic, "token=" + tok.Secret, 415, false, "application/x-www-form-urlencoded"},
		{"basic on a management route", "/v1/tokens", "", basic, "", 401, false, `error="invalid_token"`},
	}
	for _, c := range cases {
		req, err := http.NewRequest(http.MethodPost, svc.URL+c.path, strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		if c.path == "/v1/tokens" {
			req.Method = http.MethodGet
			req.Body = http.NoBody
		}
		if c.contentType != "" {
			req.Header.Set("Content-Type", c.contentType)
		}
		if c.authz != "" {
			req.Header.Set("Authorization", c.authz)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var raw json.RawMessage
		_ = json.NewDecoder(resp.Body).Decode(&raw)
		_ = resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s: status %d (%s), want %d", c.name, resp.StatusCode, raw, c.status)
			continue
		}
		if strings.Contains(string(raw), tok.Secret) || strings.Contains(string(raw), cred.Secret) {
			t.Errorf("%s: the answer echoes a secret", c.name)
		}
		switch c.status {
		case 200:
			var in wire.Introspection
			if err := json.Unmarshal(raw, &in); err != nil || in.Active != c.active {
				t.Errorf("%s: %s, want active %v", c.name, raw, c.active)
			}
		case 401:
			if h := strings.Join(resp.Header.Values("WWW-Authenticate"), " | "); !strings.Contains(h, c.wantText) {
				t.Errorf("%s: WWW-Authenticate %q, want %s", c.name, h, c.wantText)
			}
			if c.path == "/v1/introspect" && !strings.Contains(strings.Join(resp.Header.Values("WWW-Authenticate"), " | "), `Basic realm="tokenguard"`) {
				t.Errorf("%s: a 401 of the introspection endpoint does not offer Basic", c.name)
			}
		default:
			if !strings.Contains(string(raw), c.wantText) {
				t.Errorf("%s: body %s, want it to say %q", c.name, raw, c.wantText)
			}
		}
	}
	t.Logf("%d client authentication cases checked", len(cases))
}

// TestMetadata_namesTheOAuthEndpoints checks the RFC 8414 document: the issuer (the
// configured one, else the URL the request reached), the introspection and revocation
// endpoints, and the client authentication methods they accept, and that the endpoints it
// names answer a client_secret_basic login.
func TestMetadata_namesTheOAuthEndpoints(t *testing.T) {
	ctx := context.Background()
	svc := servertest.Start(t, servertest.Options{})
	status, body, hdr := rawDo(t, "GET", svc.URL+"/.well-known/oauth-authorization-server", "", "")
	var md struct {
		Issuer                 string   `json:"issuer"`
		Introspection          string   `json:"introspection_endpoint"`
		IntrospectionMethods   []string `json:"introspection_endpoint_auth_methods_supported"`
		Revocation             string   `json:"revocation_endpoint"`
		RevocationMethods      []string `json:"revocation_endpoint_auth_methods_supported"`
		ResponseTypesSupported []string `json:"response_types_supported"`
	}
	if status != 200 || hdr.Get("Content-Type") != "application/json" || json.Unmarshal(body, &md) != nil {
		t.Fatalf("metadata = %d %s", status, body)
	}
	if md.Issuer != svc.URL || md.Introspection != svc.URL+"/v1/introspect" || md.Revocation != svc.URL+"/v1/revoke" ||
		strings.Join(md.IntrospectionMethods, ",") != "client_secret_basic,client_secret_post" ||
		strings.Join(md.RevocationMethods, ",") != "client_secret_basic,client_secret_post" || md.ResponseTypesSupported == nil {
		t.Fatalf("metadata = %s", body)
	}
	// The endpoints it names work with the method it names first.
	cred, err := svc.Client(t).CreateCredential(ctx, wire.CreateCredentialRequest{Name: "discovering-gateway"}, "")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := svc.Client(t).CreateToken(ctx, compliantRequest("discovered"), "")
	if err != nil {
		t.Fatal(err)
	}
	resource, err := rs.NewResourceServerClientCredentials(ctx, md.Issuer, cred.ID, cred.Secret,
		rs.WithStaticEndpoints(md.Revocation, md.Introspection))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := rs.Introspect[*oidc.IntrospectionResponse](ctx, resource, tok.Secret); err != nil || !got.Active {
		t.Fatalf("introspection through the discovered endpoint: %+v, %v", got, err)
	}
	// A configured issuer that is not a base URL is refused at start.
	for _, bad := range []string{"tokens.example.com", "ftp://tokens.example.com", "https://tokens.example.com/?x=1", "https://u:p@tokens.example.com"} {
		if _, err := server.New(server.Config{Store: svc.Store, Keyring: svc.Keys, Issuer: bad}); err == nil || !strings.Contains(err.Error(), "issuer") {
			t.Errorf("issuer %q: New error %v, want one naming the issuer", bad, err)
		}
	}
}

// oauthErrorCodes are the RFC 6749 section 5.2 (and RFC 6750) codes the OAuth endpoints answer.
var oauthErrorCodes = map[string]bool{"invalid_request": true, "invalid_client": true, "insufficient_scope": true,
	"temporarily_unavailable": true, "server_error": true}

// decodeErrorBodyFor decodes the error body of an answer from path into eb. On the OAuth
// endpoints (issue 16) it requires RFC 6749's shape, a string error with a registered code,
// error_description and the service's code and field as tokenguard_code and
// tokenguard_field, and maps it to the API's shape; elsewhere the API's one shape.
func decodeErrorBodyFor(path string, body []byte, eb *wire.ErrorBody) error {
	path, _, _ = strings.Cut(path, "?")
	if !strings.HasSuffix(path, "/v1/introspect") && !strings.HasSuffix(path, "/v1/revoke") {
		return json.Unmarshal(body, eb)
	}
	var o struct {
		Error           string `json:"error"`
		Description     string `json:"error_description"`
		TokenguardCode  string `json:"tokenguard_code"`
		TokenguardField string `json:"tokenguard_field"`
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o); err != nil {
		return fmt.Errorf("not the OAuth error shape: %w", err)
	}
	if !oauthErrorCodes[o.Error] || o.Description == "" {
		return fmt.Errorf("error %q is not a registered OAuth error code with a description", o.Error)
	}
	*eb = wire.ErrorBody{}
	eb.Error.Code, eb.Error.Message, eb.Error.Field = o.TokenguardCode, o.Description, o.TokenguardField
	return nil
}

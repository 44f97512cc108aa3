package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// The owners of the role matrix: the restricted credentials are restricted to ownerA.
const (
	ownerA = "team-billing@example.com"
	ownerB = "team-growth@example.com"
)

// routeNeeds is what each authenticated route needs, as issue 16 point 5 decides it, spelled
// out here rather than read from the server so that the matrix can disagree with it:
// "admin" (credentials, deletion requests), "token-read", "token-write", "introspect",
// "revoke" (RFC 7009 by value), "gate" (what the provider's policy gate reads) and "read"
// (answers about every owner).
var routeNeeds = map[string]string{
	"POST /v1/tokens":                           "token-write",
	"GET /v1/tokens":                            "token-read",
	"GET /v1/tokens/{id}":                       "token-read",
	"PATCH /v1/tokens/{id}":                     "token-write",
	"DELETE /v1/tokens/{id}":                    "token-write",
	"POST /v1/tokens/{id}/revoke":               "token-write",
	"POST /v1/tokens/{id}/rotate":               "token-write",
	"POST /v1/tokens/{id}/renew":                "token-write",
	"POST /v1/introspect":                       "introspect",
	"POST /v1/revoke":                           "revoke",
	"POST /v1/credentials":                      "admin",
	"GET /v1/credentials":                       "admin",
	"POST /v1/credentials/{id}/rotate":          "admin",
	"POST /v1/credentials/{id}/revoke":          "admin",
	"GET /v1/audit":                             "read",
	"GET /v1/audit/checkpoint":                  "read",
	"POST /v1/deletion-requests":                "admin",
	"GET /v1/deletion-requests/erased-subjects": "gate",
	"GET /v1/deletion-requests/{id}":            "read",
	"POST /v1/access-requests":                  "read",
	"POST /v1/evidence-packs":                   "read",
	"GET /v1/deletion-requests":                 "read",
	"GET /v1/renewals":                          "read",
	"GET /v1/policy":                            "gate",
}

// rolesAllowed lists the roles each need admits.
var rolesAllowed = map[string][]string{
	"admin":       {"admin"},
	"token-read":  {"admin", "issuer", "reader"},
	"token-write": {"admin", "issuer"},
	"introspect":  {"admin", "introspect"},
	"revoke":      {"admin", "issuer", "introspect"},
	"gate":        {"admin", "issuer", "reader"},
	"read":        {"admin", "reader"},
}

// matrixCredential is one credential kind of the role matrix.
type matrixCredential struct {
	name, role, owner, secret string
}

// TestAuth_everyRouteEveryRoleAndOwnerRestriction proves issue 16 point 5: every
// authenticated route answered for every role (admin, issuer, reader, introspect), with and
// without an owner restriction, on a token of the restricted owner and of another owner. A
// role a route does not admit gets 403 forbidden; a restricted credential gets 403
// owner_restricted on routes that answer about every owner and when it creates a token for
// another owner, and 404 (as if absent) on another owner's token; everything else succeeds
// (2xx). A refused request changes nothing.
func TestAuth_everyRouteEveryRoleAndOwnerRestriction(t *testing.T) { runRoleMatrix(t, nil) }

// TestAuth_everyRouteEveryRoleAndOwnerRestriction_PostgreSQL runs the role matrix on
// PostgreSQL.
func TestAuth_everyRouteEveryRoleAndOwnerRestriction_PostgreSQL(t *testing.T) {
	runRoleMatrix(t, postgresWrap(t))
}

func runRoleMatrix(t *testing.T, wrap func(store.Store) store.Store) {
	ctx := context.Background()
	svc := servertest.Start(t, servertest.Options{AuthFailuresPerMinute: -1, WrapStore: wrap})
	admin := svc.Client(t)
	creds := []matrixCredential{{name: "admin", role: "admin", secret: svc.AdminToken}}
	for _, k := range []struct{ role, owner string }{{"issuer", ""}, {"issuer", ownerA}, {"reader", ""}, {"reader", ownerA}, {"introspect", ""}} {
		c, err := admin.CreateCredential(ctx, wire.CreateCredentialRequest{Name: "matrix-" + k.role, Role: k.role, Owner: k.owner}, "")
		if err != nil {
			t.Fatalf("creating a %s credential: %v", k.role, err)
		}
		if c.Role != k.role || c.Owner != k.owner {
			t.Fatalf("created credential = role %q owner %q, want %q %q", c.Role, c.Owner, k.role, k.owner)
		}
		name := k.role
		if k.owner != "" {
			name += " restricted to " + k.owner
		}
		creds = append(creds, matrixCredential{name: name, role: k.role, owner: k.owner, secret: c.Secret})
	}
	gone, err := admin.CreateDeletionRequest(ctx, wire.DeletionRequest{Subject: "customer:matrix-gone"}, "")
	if err != nil {
		t.Fatal(err)
	}

	n := 0
	newToken := func(owner string) wire.Token {
		t.Helper()
		n++
		req := compliantRequest(fmt.Sprintf("matrix-%d", n))
		req.Owner = owner
		tok, err := admin.CreateToken(ctx, req, "")
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	// request returns the concrete request of route p for a token of owner.
	request := func(p, owner string) (path, body string, tok *wire.Token) {
		t.Helper()
		if strings.Contains(p, "/v1/tokens/{id}") {
			tk := newToken(owner)
			tok = &tk
		}
		switch p {
		case "POST /v1/tokens":
			n++
			req := compliantRequest(fmt.Sprintf("matrix-new-%d", n))
			req.Owner = owner
			b, _ := json.Marshal(req)
			return "/v1/tokens", string(b), nil
		case "GET /v1/tokens":
			return "/v1/tokens?owner=" + url.QueryEscape(owner), "", nil
		case "GET /v1/tokens/{id}", "DELETE /v1/tokens/{id}":
			return "/v1/tokens/" + tok.ID, "", tok
		case "PATCH /v1/tokens/{id}":
			return "/v1/tokens/" + tok.ID, `{"purpose":"nightly export of invoices to the ledger system"}`, tok
		case "POST /v1/tokens/{id}/revoke":
			return "/v1/tokens/" + tok.ID + "/revoke", `{}`, tok
		case "POST /v1/tokens/{id}/rotate":
			return "/v1/tokens/" + tok.ID + "/rotate", `{}`, tok
		case "POST /v1/tokens/{id}/renew":
			return "/v1/tokens/" + tok.ID + "/renew", `{"ttl":"10d","reason":"still needed for the export","reviewed_by":"security-team"}`, tok
		case "POST /v1/introspect":
			tk := newToken(owner)
			b, _ := json.Marshal(wire.IntrospectRequest{Token: tk.Secret})
			return "/v1/introspect", string(b), nil
		case "POST /v1/revoke":
			return "/v1/revoke", `{"token":"tg_test_not_a_live_secret"}`, nil
		case "POST /v1/credentials":
			return "/v1/credentials", `{"name":"matrix-server"}`, nil
		case "GET /v1/credentials":
			return "/v1/credentials", "", nil
		case "POST /v1/credentials/{id}/rotate", "POST /v1/credentials/{id}/revoke":
			spare, err := admin.CreateCredential(ctx, wire.CreateCredentialRequest{Name: "spare"}, "")
			if err != nil {
				t.Fatal(err)
			}
			return "/v1/credentials/" + spare.ID + "/" + p[strings.LastIndex(p, "/")+1:], `{}`, nil
		case "GET /v1/audit":
			return "/v1/audit", "", nil
		case "GET /v1/audit/checkpoint":
			return "/v1/audit/checkpoint", "", nil
		case "POST /v1/deletion-requests":
			return "/v1/deletion-requests", `{"subject":"customer:matrix","dry_run":true}`, nil
		case "GET /v1/deletion-requests/erased-subjects":
			return "/v1/deletion-requests/erased-subjects", "", nil
		case "GET /v1/deletion-requests/{id}":
			return "/v1/deletion-requests/" + gone.ID, "", nil
		case "POST /v1/access-requests":
			return "/v1/access-requests", `{"subject":"customer:4411"}`, nil
		case "POST /v1/evidence-packs":
			cp, err := admin.AuditCheckpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(wire.EvidenceIssueRequest{ManifestDigest: strings.Repeat("ab", 32), CheckpointSeq: cp.Seq, CheckpointHash: cp.Hash})
			return "/v1/evidence-packs", string(b), nil
		case "GET /v1/deletion-requests":
			return "/v1/deletion-requests", "", nil
		case "GET /v1/renewals":
			return "/v1/renewals", "", nil
		case "GET /v1/policy":
			return "/v1/policy", "", nil
		}
		t.Fatalf("route %q has no request in the role matrix: add one", p)
		return "", "", nil
	}

	var routes []string
	for _, p := range svc.Server.Routes() {
		if publicRoutes[p] {
			continue
		}
		if _, ok := routeNeeds[p]; !ok {
			t.Fatalf("route %q has no row in routeNeeds: decide which roles may call it", p)
		}
		routes = append(routes, p)
	}
	if len(routes) != len(routeNeeds) {
		t.Fatalf("%d authenticated routes, %d rows in routeNeeds: the table names a route the service does not serve", len(routes), len(routeNeeds))
	}

	trials, refused, succeeded := 0, 0, 0
	for _, p := range routes {
		need := routeNeeds[p]
		method, _, _ := strings.Cut(p, " ")
		for _, cr := range creds {
			for _, owner := range []string{ownerA, ownerB} {
				path, body, tok := request(p, owner)
				status, got, _ := rawDo(t, method, svc.URL+path, cr.secret, body)
				trials++
				what := fmt.Sprintf("%s by %s on a token of %s", p, cr.name, owner)
				allowed := false
				for _, r := range rolesAllowed[need] {
					allowed = allowed || r == cr.role
				}
				restricted := cr.owner != ""
				other := restricted && owner != cr.owner
				wantStatus, wantCode := 0, ""
				switch {
				case !allowed:
					wantStatus, wantCode = 403, "forbidden"
				case restricted && need == "read":
					wantStatus, wantCode = 403, "owner_restricted"
				case other && p == "POST /v1/tokens":
					wantStatus, wantCode = 403, "owner_restricted"
				case other && tok != nil:
					wantStatus, wantCode = 404, "not_found"
				}
				if wantStatus == 0 {
					if status < 200 || status > 299 {
						t.Errorf("%s: %d %s, want success", what, status, got)
						continue
					}
					succeeded++
					if p == "GET /v1/tokens" || p == "GET /v1/tokens/{id}" {
						checkOwnerView(t, what, got, cr.owner, owner, p == "GET /v1/tokens")
					}
					continue
				}
				refused++
				var eb wire.ErrorBody
				if status != wantStatus || decodeErrorBodyFor(path, got, &eb) != nil || eb.Error.Code != wantCode || eb.Error.Message == "" {
					t.Errorf("%s: %d %s, want %d %s with a message", what, status, got, wantStatus, wantCode)
				}
				if tok != nil {
					after, err := admin.GetToken(ctx, tok.ID)
					if err != nil || after.Status != "active" || after.SecretVersion != 1 || after.Purpose != tok.Purpose || !after.ExpiresAt.Equal(tok.ExpiresAt) {
						t.Errorf("%s: refused, yet the token is now %+v (%v)", what, after, err)
					}
				}
			}
		}
	}
	t.Logf("%d routes x %d credential kinds x 2 token owners = %d requests: %d succeeded, %d refused as the table says",
		len(routes), len(creds), trials, succeeded, refused)
	if trials != len(routes)*len(creds)*2 || succeeded == 0 || refused == 0 {
		t.Fatalf("%d trials (%d succeeded, %d refused): the matrix did not run", trials, succeeded, refused)
	}
}

// checkOwnerView checks what a token read answered: a credential restricted to restriction
// sees only that owner's tokens; asking for another owner's gets nothing.
func checkOwnerView(t *testing.T, what string, body []byte, restriction, owner string, list bool) {
	t.Helper()
	var tokens []wire.Token
	if list {
		var l wire.TokenList
		if err := json.Unmarshal(body, &l); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		tokens = l.Tokens
	} else {
		var tk wire.Token
		if err := json.Unmarshal(body, &tk); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		tokens = []wire.Token{tk}
	}
	if restriction != "" && owner != restriction && len(tokens) != 0 {
		t.Errorf("%s: %d tokens of another owner listed, want none", what, len(tokens))
	}
	if len(tokens) == 0 && (restriction == "" || owner == restriction) {
		t.Errorf("%s: no token, want the owner's", what)
	}
	for _, tk := range tokens {
		if tk.Owner != owner {
			t.Errorf("%s: token %s of owner %q answered", what, tk.ID, tk.Owner)
		}
	}
}

// TestOpenAPI_rolesOfEveryOperationMatchTheRoleMatrix: the x-tokenguard-roles the OpenAPI
// document names on each authenticated operation are the roles the role matrix proves.
func TestOpenAPI_rolesOfEveryOperationMatchTheRoleMatrix(t *testing.T) {
	svc := servertest.Start(t, servertest.Options{})
	status, body, _ := rawDo(t, "GET", svc.URL+"/v1/openapi.json", "", "")
	if status != 200 {
		t.Fatalf("GET /v1/openapi.json = %d", status)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	for p, need := range routeNeeds {
		method, path, _ := strings.Cut(p, " ")
		var op struct {
			Roles []string `json:"x-tokenguard-roles"`
		}
		if err := json.Unmarshal(doc.Paths[path][strings.ToLower(method)], &op); err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if strings.Join(op.Roles, ",") != strings.Join(rolesAllowed[need], ",") {
			t.Errorf("%s: the OpenAPI document names the roles %v, the matrix proves %v", p, op.Roles, rolesAllowed[need])
		}
	}
}

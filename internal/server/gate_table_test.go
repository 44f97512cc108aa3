package server_test

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/policy"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/testenv"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// gateBase is a compliant token at the limits of the non-sensitive caps: 90 days with a
// 30-day rotation. Dropping its rotation or adding a sensitive category breaks a rule.
func gateBase(name string) wire.CreateTokenRequest {
	r := compliantRequest(name)
	r.TTL = "90d"
	r.Rotation = &wire.Rotation{Interval: "30d", Overlap: "1h"}
	r.DataSubjects = []string{"customer:" + name}
	return r
}

// gateRow is one route x rule cell of the verdict table. Exactly one of body (a request
// that must be refused, or must carry the rule as a warning) and unreachable (why the
// route cannot bring the token to break the rule) is set.
type gateRow struct {
	route, rule string
	// token is the token the request is sent for: "" is a fresh compliant gateBase token,
	// otherwise the name of a token prepared in prepareGateTokens.
	token       string
	body        string
	status      int
	code        string // policy_violation: rule must be among the blocking findings
	warning     bool   // the rule is answered as a warning (warning severity)
	unreachable string
}

const (
	routeCreate = "POST /v1/tokens"
	routePatch  = "PATCH /v1/tokens/{id}"
	routeRotate = "POST /v1/tokens/{id}/rotate"
	routeRenew  = "POST /v1/tokens/{id}/renew"
)

// renewBody is a renewal with a proper review, for cells where the renewal itself is fine.
const renewBody = `{"ttl":"30d","reason":"the export still runs nightly","reviewed_by":"privacy-office@example.com"}`

// gateTable is every mutating token route x every token rule of the service gate.
var gateTable = []gateRow{
	{route: routeCreate, rule: "CPRA-MIN-001", body: `{"purpose":"tbd"}`, status: 422, code: "policy_violation"},
	{route: routeCreate, rule: "CPRA-MIN-002", body: `{"scopes":["invoices:*"]}`, status: 422, code: "policy_violation"},
	{route: routeCreate, rule: "CPRA-MIN-003", unreachable: "a token being created has not been idle"},
	{route: routeCreate, rule: "CPRA-MIN-004", body: `{"owner":""}`, status: 422, code: "policy_violation"},
	{route: routeCreate, rule: "CPRA-MIN-006", body: `{"data_categories":["identifiers","religious_beliefs"],"ttl":"7d","rotation":{"interval":"1d","overlap":"1h"}}`, status: 201, warning: true},
	{route: routeCreate, rule: "CPRA-MIN-005", body: `{"data_categories":null}`, status: 422, code: "policy_violation"},
	{route: routeCreate, rule: "CPRA-RET-001", body: `{"ttl":"0s"}`, status: 400, code: "invalid_request"},
	{route: routeCreate, rule: "CPRA-RET-002", body: `{"data_categories":["health"],"ttl":"60d","rotation":{"interval":"7d","overlap":"1h"}}`, status: 422, code: "policy_violation"},
	{route: routeCreate, rule: "CPRA-RET-003", unreachable: "a create is not a renewal"},
	{route: routeCreate, rule: "CPRA-ROT-001", body: `{"rotation":null}`, status: 422, code: "policy_violation"},
	{route: routeCreate, rule: "CPRA-ROT-002", body: `{"rotation":{"interval":"30d","overlap":"48h"}}`, status: 422, code: "policy_violation"},
	{route: routeCreate, rule: "CPRA-SPI-001", body: `{"data_categories":["health"],"ttl":"30d","rotation":{"interval":"7d","overlap":"1h"},"audiences":null}`, status: 422, code: "policy_violation"},
	{route: routeCreate, rule: "CPRA-DEL-001", body: `{"data_subjects":["customer:erased"]}`, status: 422, code: "CPRA-DEL-001"},

	{route: routePatch, rule: "CPRA-MIN-001", body: `{"purpose":"tbd"}`, status: 422, code: "policy_violation"},
	{route: routePatch, rule: "CPRA-MIN-002", body: `{"scopes":["invoices:*"]}`, status: 422, code: "policy_violation"},
	{route: routePatch, rule: "CPRA-MIN-003", token: "idle", body: `{"labels":{"touched":"yes"}}`, status: 200, warning: true},
	{route: routePatch, rule: "CPRA-MIN-004", body: `{"owner":""}`, status: 400, code: "invalid_request"},
	{route: routePatch, rule: "CPRA-MIN-006", token: "deprecated", body: `{"labels":{"touched":"yes"}}`, status: 200, warning: true},
	{route: routePatch, rule: "CPRA-MIN-005", unreachable: "data_categories cannot be unset: null leaves them, [] declares no personal information"},
	{route: routePatch, rule: "CPRA-RET-001", token: "expired", body: `{"labels":{"touched":"yes"}}`, status: 422, code: "policy_violation"},
	// Issue 13's second reported bypass: health added to a 90-day token.
	{route: routePatch, rule: "CPRA-RET-002", body: `{"data_categories":["commercial","health"]}`, status: 422, code: "policy_violation"},
	{route: routePatch, rule: "CPRA-RET-003", body: `{"ttl":"90d"}`, status: 400, code: "invalid_request"},
	// Issue 13's first reported bypass: the rotation of a 90-day token dropped.
	{route: routePatch, rule: "CPRA-ROT-001", body: `{"rotation":{}}`, status: 422, code: "policy_violation"},
	{route: routePatch, rule: "CPRA-ROT-002", body: `{"rotation":{"interval":"30d","overlap":"48h"}}`, status: 422, code: "policy_violation"},
	{route: routePatch, rule: "CPRA-SPI-001", token: "sensitive", body: `{"audiences":[]}`, status: 422, code: "policy_violation"},
	{route: routePatch, rule: "CPRA-DEL-001", body: `{"data_subjects":["customer:erased"]}`, status: 400, code: "invalid_request"},

	{route: routeRotate, rule: "CPRA-MIN-001", unreachable: "the purpose is validated by every write that sets it (create, patch); a rotation keeps it"},
	{route: routeRotate, rule: "CPRA-MIN-002", token: "wildcard", body: `{}`, status: 422, code: "policy_violation"},
	{route: routeRotate, rule: "CPRA-MIN-003", token: "idle", body: `{}`, status: 200, warning: true},
	{route: routeRotate, rule: "CPRA-MIN-004", unreachable: "the owner is required at create and never changes"},
	{route: routeRotate, rule: "CPRA-MIN-006", token: "deprecated", body: `{}`, status: 200, warning: true},
	{route: routeRotate, rule: "CPRA-MIN-005", unreachable: "data_categories are required at create and cannot be unset"},
	{route: routeRotate, rule: "CPRA-RET-001", token: "expired", body: `{}`, status: 409, code: "token_expired"},
	{route: routeRotate, rule: "CPRA-RET-002", token: "long-sensitive", body: `{}`, status: 422, code: "policy_violation"},
	{route: routeRotate, rule: "CPRA-RET-003", unreachable: "a rotation does not move the expiry"},
	{route: routeRotate, rule: "CPRA-ROT-001", token: "unrotated", body: `{}`, status: 422, code: "policy_violation"},
	{route: routeRotate, rule: "CPRA-ROT-002", body: `{"overlap":"48h"}`, status: 422, code: "policy_violation"},
	{route: routeRotate, rule: "CPRA-SPI-001", token: "no-audience", body: `{}`, status: 422, code: "policy_violation"},
	{route: routeRotate, rule: "CPRA-DEL-001", token: "erased", body: `{}`, status: 409, code: "token_revoked"},

	{route: routeRenew, rule: "CPRA-MIN-001", unreachable: "the purpose is validated by every write that sets it (create, patch); a renewal keeps it"},
	{route: routeRenew, rule: "CPRA-MIN-002", token: "wildcard", body: renewBody, status: 422, code: "policy_violation"},
	{route: routeRenew, rule: "CPRA-MIN-003", token: "idle", body: renewBody, status: 200, warning: true},
	{route: routeRenew, rule: "CPRA-MIN-004", unreachable: "the owner is required at create and never changes"},
	{route: routeRenew, rule: "CPRA-MIN-006", token: "deprecated", body: `{"ttl":"7d","reason":"the export still runs nightly","reviewed_by":"privacy-office@example.com"}`, status: 200, warning: true},
	{route: routeRenew, rule: "CPRA-MIN-005", unreachable: "data_categories are required at create and cannot be unset"},
	{route: routeRenew, rule: "CPRA-RET-001", body: `{"ttl":"0s","reason":"the export still runs nightly","reviewed_by":"privacy-office@example.com"}`, status: 400, code: "invalid_request"},
	{route: routeRenew, rule: "CPRA-RET-002", token: "sensitive", body: `{"ttl":"60d","reason":"claims backlog","reviewed_by":"privacy-office@example.com"}`, status: 422, code: "policy_violation"},
	{route: routeRenew, rule: "CPRA-RET-003", body: `{"ttl":"30d","reason":"the export still runs nightly","reviewed_by":"Team-Billing@Example.com"}`, status: 422, code: "reviewer_is_owner"},
	{route: routeRenew, rule: "CPRA-ROT-001", token: "short-unrotated", body: `{"ttl":"90d","reason":"the export still runs nightly","reviewed_by":"privacy-office@example.com"}`, status: 422, code: "policy_violation"},
	{route: routeRenew, rule: "CPRA-ROT-002", token: "long-overlap", body: renewBody, status: 422, code: "policy_violation"},
	{route: routeRenew, rule: "CPRA-SPI-001", token: "no-audience", body: renewBody, status: 422, code: "policy_violation"},
	{route: routeRenew, rule: "CPRA-DEL-001", token: "erased", body: renewBody, status: 409, code: "token_revoked"},
}

// notJudged are the other mutating routes, and why the policy gate has nothing to judge there.
var notJudged = map[string]string{ //nolint:gosec // G101: route patterns and reasons, no credential
	"DELETE /v1/tokens/{id}":           "revocation ends a token: no rule reads a revoked token",
	"POST /v1/tokens/{id}/revoke":      "revocation ends a token: no rule reads a revoked token",
	"POST /v1/credentials":             "credentials are not tokens: no token rule reads them",
	"POST /v1/credentials/{id}/revoke": "credentials are not tokens: no token rule reads them",
	"POST /v1/credentials/{id}/rotate": "credentials are not tokens: no token rule reads them",
	"POST /v1/deletion-requests":       "a deletion request only revokes tokens and removes a subject from them",
	"POST /v1/introspect":              "introspection changes no token field a rule reads (last_used_at only moves MIN-003 towards a warning)",
	"POST /v1/access-requests":         "an access request reads tokens and writes only its own audit record",
	"POST /v1/evidence-packs":          "recording an evidence pack changes no token: it writes only its own audit record",
	"POST /v1/revoke":                  "revocation by value ends a token: no rule reads a revoked token",
	"POST /v1/secret-scanning/reports": "a leaked-secret report only revokes tokens: no rule reads a revoked token",
}

// prepareGateTokens creates, with the policy gate off (as before a policy was tightened, or
// by an older release), the tokens that break a rule, and returns their ids by name.
func prepareGateTokens(t *testing.T, dir string, clock *servertest.Clock, wrap func(store.Store) store.Store) map[string]string {
	t.Helper()
	ctx := context.Background()
	svc := servertest.Start(t, servertest.Options{Dir: dir, Now: clock.Now, PolicyEnforcement: server.PolicyOff, WrapStore: wrap})
	admin := svc.Client(t)
	ids := map[string]string{}
	create := func(name string, edit func(*wire.CreateTokenRequest)) {
		req := gateBase(name)
		edit(&req)
		tok, err := admin.CreateToken(ctx, req, "")
		if err != nil {
			t.Fatalf("preparing %s: %v", name, err)
		}
		ids[name] = tok.ID
	}
	// Created 31 days before the table runs: idle (MIN-003) and, with a 1-day ttl, expired.
	clock.Set(t0.Add(-31 * 24 * time.Hour))
	create("idle", func(*wire.CreateTokenRequest) {})
	create("expired", func(r *wire.CreateTokenRequest) { r.TTL = "1d" })
	clock.Set(t0)
	create("wildcard", func(r *wire.CreateTokenRequest) { r.Scopes = []string{"invoices:*"} })
	create("sensitive", func(r *wire.CreateTokenRequest) { *r = sensitiveRequest("sensitive") })
	create("long-sensitive", func(r *wire.CreateTokenRequest) {
		*r = sensitiveRequest("long-sensitive")
		r.TTL = "60d"
	})
	create("unrotated", func(r *wire.CreateTokenRequest) { r.Rotation = nil })
	create("short-unrotated", func(r *wire.CreateTokenRequest) { r.TTL, r.Rotation = "30d", nil })
	create("long-overlap", func(r *wire.CreateTokenRequest) { r.Rotation.Overlap = "48h" })
	create("no-audience", func(r *wire.CreateTokenRequest) {
		*r = sensitiveRequest("no-audience")
		r.Audiences = nil
	})
	create("erased", func(r *wire.CreateTokenRequest) { r.DataSubjects = []string{"customer:erased"} })
	create("deprecated", func(r *wire.CreateTokenRequest) {
		*r = sensitiveRequest("deprecated")
		r.DataCategories = []string{"religious_beliefs"} // the old name of religious_philosophical_beliefs
	})
	if _, err := admin.CreateDeletionRequest(ctx, wire.DeletionRequest{Subject: "customer:erased"}, ""); err != nil {
		t.Fatal(err)
	}
	svc.Close()
	return ids
}

// TestPolicyGate_oneVerdictForEveryWrite runs the verdict table on SQLite.
func TestPolicyGate_oneVerdictForEveryWrite(t *testing.T) {
	runGateTable(t, nil)
}

// TestPolicyGate_oneVerdictForEveryWrite_PostgreSQL runs the verdict table on PostgreSQL.
func TestPolicyGate_oneVerdictForEveryWrite_PostgreSQL(t *testing.T) {
	runGateTable(t, postgresWrap(t))
}

// postgresWrap returns a WrapStore that serves a fresh PostgreSQL schema instead of the
// SQLite store (the same one to every service of the test), skipping without a server
// (failing under TOKENGUARD_REQUIRE_POSTGRES=1).
func postgresWrap(t *testing.T) func(store.Store) store.Store {
	t.Helper()
	serverURL := testenv.PostgresURL(t)
	pg := openPostgres(serverURL)(t)
	return func(store.Store) store.Store { return pg }
}

// runGateTable proves that every mutating token route is judged by the policy gate on the
// token as it would be after the change (issue 13, point 2): each cell of gateTable either
// sends a request that must be refused with the cell's rule (or, for a warning rule, carry it
// as a warning) and leave the token unchanged, or says why the route cannot break the rule.
// Every mutating route of the API is in the table or in notJudged, and every token rule of
// the service gate has a cell on every judged route.
func runGateTable(t *testing.T, wrap func(store.Store) store.Store) {
	ctx := context.Background()
	dir := t.TempDir()
	clock := servertest.NewClock(t0)
	ids := prepareGateTokens(t, dir, clock, wrap)
	svc := servertest.Start(t, servertest.Options{Dir: dir, Now: clock.Now, WrapStore: wrap})
	admin := svc.Client(t)

	engine, err := policy.NewEngine(ctx, policy.Options{Gate: policy.GateService})
	if err != nil {
		t.Fatal(err)
	}
	judged := map[string]bool{}
	for _, row := range gateTable {
		judged[row.route] = true
	}
	for _, route := range svc.Server.Routes() {
		if strings.HasPrefix(route, "GET ") || judged[route] {
			continue
		}
		if _, ok := notJudged[route]; !ok {
			t.Errorf("mutating route %q is neither in the verdict table nor in notJudged", route)
		}
	}
	for route := range judged {
		for _, r := range engine.Rules() {
			if r.Scope != policy.ScopeToken || !slices.Contains(r.Gates, policy.GateService) {
				continue
			}
			if !slices.ContainsFunc(gateTable, func(row gateRow) bool { return row.route == route && row.rule == r.ID }) {
				t.Errorf("the verdict table has no cell for %s x %s", route, r.ID)
			}
		}
	}

	attacks := 0
	for i, row := range gateTable {
		t.Run(row.route+" "+row.rule, func(t *testing.T) {
			if row.unreachable != "" {
				return
			}
			attacks++
			id := ids[row.token]
			if row.token == "" && row.route != routeCreate {
				tok, err := admin.CreateToken(ctx, gateBase("cell-"+string(rune('a'+i%26))+strings.Repeat("x", i/26)), "")
				if err != nil {
					t.Fatal(err)
				}
				id = tok.ID
			}
			body := row.body
			if row.route == routeCreate {
				var m map[string]any
				full, _ := json.Marshal(gateBase("created-" + strings.ToLower(row.rule)))
				_ = json.Unmarshal(full, &m)
				var over map[string]any
				if err := json.Unmarshal([]byte(row.body), &over); err != nil {
					t.Fatal(err)
				}
				for k, v := range over {
					if v == nil {
						delete(m, k)
					} else {
						m[k] = v
					}
				}
				b, _ := json.Marshal(m)
				body = string(b)
			}
			method, path, _ := strings.Cut(row.route, " ")
			path = strings.Replace(path, "{id}", id, 1)
			var before wire.Token
			if id != "" {
				if before, err = admin.GetToken(ctx, id); err != nil {
					t.Fatal(err)
				}
			}
			status, answer, _ := rawDo(t, method, svc.URL+path, svc.AdminToken, body)
			if status != row.status {
				t.Fatalf("%s %s %s = %d %s, want %d", method, path, body, status, answer, row.status)
			}
			if row.warning {
				var got wire.Token
				if err := json.Unmarshal(answer, &got); err != nil {
					t.Fatal(err)
				}
				if !slices.ContainsFunc(got.Warnings, func(f wire.Finding) bool { return f.RuleID == row.rule && !f.Blocking }) {
					t.Fatalf("answer %s lacks the warning %s", answer, row.rule)
				}
				return
			}
			var eb wire.ErrorBody
			if err := json.Unmarshal(answer, &eb); err != nil {
				t.Fatal(err)
			}
			if eb.Error.Code != row.code {
				t.Fatalf("answer %s, want code %s", answer, row.code)
			}
			if row.code == "policy_violation" && !slices.ContainsFunc(eb.Findings, func(f wire.Finding) bool { return f.RuleID == row.rule && f.Blocking }) {
				t.Fatalf("answer %s does not block on %s", answer, row.rule)
			}
			if id != "" {
				after, err := admin.GetToken(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(before, after) {
					t.Fatalf("a refused %s changed the token:\nbefore %+v\nafter  %+v", row.route, before, after)
				}
			}
		})
	}
	if attacks < 30 {
		t.Fatalf("only %d attacks ran", attacks)
	}
	t.Logf("verdict table: %d cells, %d attacks sent, %d unreachable with a reason", len(gateTable), attacks, len(gateTable)-attacks)
}

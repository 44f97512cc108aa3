package provider

import (
	"context"
	"regexp"
	"slices"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// inventory is three tokens created through the API: a (finance, used recently, bound to a
// subject), b (finance, reaches no personal information, never used) and c (marketing, revoked).
type inventory struct {
	a, b, c wire.Token
}

func seedInventory(t *testing.T, ts *testService) inventory {
	t.Helper()
	ctx := context.Background()
	create := func(req wire.CreateTokenRequest) wire.Token {
		tok, err := ts.Client.CreateToken(ctx, req, "")
		if err != nil {
			t.Fatalf("creating %s: %v", req.Name, err)
		}
		return tok
	}
	var inv inventory
	inv.a = create(wire.CreateTokenRequest{Name: "export", Owner: "team-finance@example.com",
		Purpose: "Nightly export of invoice totals to the finance warehouse", Scopes: []string{"invoices:read"},
		DataCategories: []string{"commercial", "identifiers"}, DataSubjects: []string{"customer:4411"},
		Audiences: []string{"warehouse"}, Labels: map[string]string{"env": "prod"}, TTL: "30d",
		Rotation: &wire.Rotation{Interval: "7d", Overlap: "1h"}})
	inv.b = create(wire.CreateTokenRequest{Name: "metrics", Owner: "team-finance@example.com",
		Purpose: "Reads aggregate job metrics for the finance dashboard", Scopes: []string{"metrics:read"},
		DataCategories: []string{}, TTL: "30d"})
	inv.c = create(wire.CreateTokenRequest{Name: "campaigns", Owner: "marketing@example.com",
		Purpose: "Syncs campaign click data to the marketing analytics tool", Scopes: []string{"clicks:read"},
		DataCategories: []string{"internet_activity"}, TTL: "30d"})
	if _, err := ts.Client.RevokeToken(ctx, inv.c.ID); err != nil {
		t.Fatalf("revoking %s: %v", inv.c.ID, err)
	}
	ts.Clock.Advance(10 * day)
	if err := ts.expectActive(inv.a.Secret, true); err != nil { // marks a as used now
		t.Fatal(err)
	}
	return inv
}

// idsExact checks a list of ids, in the service's order (by id).
func idsExact(ids ...string) knownvalue.Check {
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	checks := make([]knownvalue.Check, len(sorted))
	for i, id := range sorted {
		checks[i] = knownvalue.StringExact(id)
	}
	return knownvalue.ListExact(checks)
}

func TestAccAPITokenDataSource_byIDAndByOwnerAndName(t *testing.T) {
	ts := newTestService(t)
	inv := seedInventory(t, ts)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: ts.factories(),
		Steps: []resource.TestStep{
			{
				Config:      ts.config(`data "tokenguard_api_token" "x" { name = "metrics" }`),
				ExpectError: regexp.MustCompile(`Missing Token Lookup`),
			},
			{
				Config: ts.config(`data "tokenguard_api_token" "x" {
  id    = "tok_0000000000000000"
  owner = "team-finance@example.com"
}`),
				ExpectError: regexp.MustCompile(`Conflicting Token Lookup`),
			},
			{
				Config:      ts.config(`data "tokenguard_api_token" "x" { id = "tok_0000000000000000" }`),
				ExpectError: regexp.MustCompile(`Token Not Found`),
			},
			{
				Config: ts.config(`data "tokenguard_api_token" "x" {
  owner = "marketing@example.com"
  name  = "metrics"
}`),
				ExpectError: regexp.MustCompile(`Token Not Found[\s\S]*has no token named metrics`),
			},
			{
				Config: ts.config(`
data "tokenguard_api_token" "by_id" {
  id = "` + inv.a.ID + `"
}

data "tokenguard_api_token" "by_name" {
  owner = "TEAM-finance@example.com"
  name  = "metrics"
}
`),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.tokenguard_api_token.by_id", at("name"), knownvalue.StringExact("export")),
					statecheck.ExpectKnownValue("data.tokenguard_api_token.by_id", at("owner"), knownvalue.StringExact("team-finance@example.com")),
					statecheck.ExpectKnownValue("data.tokenguard_api_token.by_id", at("data_subjects"), knownvalue.SetExact([]knownvalue.Check{knownvalue.StringExact("customer:4411")})),
					statecheck.ExpectKnownValue("data.tokenguard_api_token.by_id", at("data_categories"), knownvalue.SetExact([]knownvalue.Check{
						knownvalue.StringExact("commercial"), knownvalue.StringExact("identifiers")})),
					statecheck.ExpectKnownValue("data.tokenguard_api_token.by_id", at("labels"), knownvalue.MapExact(map[string]knownvalue.Check{"env": knownvalue.StringExact("prod")})),
					statecheck.ExpectKnownValue("data.tokenguard_api_token.by_id", at("rotation_interval"), knownvalue.StringExact("7d")),
					statecheck.ExpectKnownValue("data.tokenguard_api_token.by_id", at("rotation_overlap"), knownvalue.StringExact("1h")),
					statecheck.ExpectKnownValue("data.tokenguard_api_token.by_id", at("last_used_at"), knownvalue.StringExact(rfc3339(ts.Clock.Now()))),
					statecheck.ExpectKnownValue("data.tokenguard_api_token.by_id", at("fingerprint"), knownvalue.StringExact(inv.a.Fingerprint)),
					statecheck.ExpectKnownValue("data.tokenguard_api_token.by_name", at("id"), knownvalue.StringExact(inv.b.ID)),
					statecheck.ExpectKnownValue("data.tokenguard_api_token.by_name", at("data_categories"), knownvalue.SetSizeExact(0)),
					statecheck.ExpectKnownValue("data.tokenguard_api_token.by_name", at("last_used_at"), knownvalue.Null()),
					statecheck.ExpectKnownValue("data.tokenguard_api_token.by_name", at("status"), knownvalue.StringExact("active")),
				},
			},
		},
	})
}

func TestAccAPITokensDataSource_filters(t *testing.T) {
	ts := newTestService(t)
	inv := seedInventory(t, ts)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: ts.factories(),
		Steps: []resource.TestStep{
			{
				Config:      ts.config(`data "tokenguard_api_tokens" "x" { data_category = "shoe_size" }`),
				ExpectError: regexp.MustCompile(`Unknown Data Category`),
			},
			{
				Config:      ts.config(`data "tokenguard_api_tokens" "x" { status = "paused" }`),
				ExpectError: regexp.MustCompile(`status value must be one of`),
			},
			{
				Config: ts.config(`
data "tokenguard_api_tokens" "all" {}
data "tokenguard_api_tokens" "finance" { owner = "team-finance@example.com" }
data "tokenguard_api_tokens" "revoked" { status = "revoked" }
data "tokenguard_api_tokens" "active" { status = "active" }
data "tokenguard_api_tokens" "commercial" { data_category = "commercial" }
data "tokenguard_api_tokens" "subject" { subject = "customer:4411" }
data "tokenguard_api_tokens" "unused" { unused_for = "5d" }
data "tokenguard_api_tokens" "unused_revoked" {
  unused_for = "5d"
  status     = "revoked"
}
data "tokenguard_api_tokens" "none" {
  owner  = "team-finance@example.com"
  status = "revoked"
}
`),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.tokenguard_api_tokens.all", at("ids"), idsExact(inv.a.ID, inv.b.ID, inv.c.ID)),
					statecheck.ExpectKnownValue("data.tokenguard_api_tokens.finance", at("ids"), idsExact(inv.a.ID, inv.b.ID)),
					statecheck.ExpectKnownValue("data.tokenguard_api_tokens.revoked", at("ids"), idsExact(inv.c.ID)),
					statecheck.ExpectKnownValue("data.tokenguard_api_tokens.active", at("ids"), idsExact(inv.a.ID, inv.b.ID)),
					statecheck.ExpectKnownValue("data.tokenguard_api_tokens.commercial", at("ids"), idsExact(inv.a.ID)),
					statecheck.ExpectKnownValue("data.tokenguard_api_tokens.subject", at("ids"), idsExact(inv.a.ID)),
					// Unused means active tokens: the revoked one is listed only when status asks for it.
					statecheck.ExpectKnownValue("data.tokenguard_api_tokens.unused", at("ids"), idsExact(inv.b.ID)),
					statecheck.ExpectKnownValue("data.tokenguard_api_tokens.unused_revoked", at("ids"), idsExact(inv.c.ID)),
					statecheck.ExpectKnownValue("data.tokenguard_api_tokens.none", at("ids"), knownvalue.ListSizeExact(0)),
					statecheck.ExpectKnownValue("data.tokenguard_api_tokens.revoked", at("tokens"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.ObjectPartial(map[string]knownvalue.Check{
							"id":              knownvalue.StringExact(inv.c.ID),
							"name":            knownvalue.StringExact("campaigns"),
							"owner":           knownvalue.StringExact("marketing@example.com"),
							"status":          knownvalue.StringExact("revoked"),
							"data_categories": knownvalue.SetExact([]knownvalue.Check{knownvalue.StringExact("internet_activity")}),
							"secret_version":  knownvalue.Int64Exact(1),
						}),
					})),
				},
			},
		},
	})
}

// TestFindByOwnerAndName_prefersTheTokenNotRevokedElseTheNewestRevoked: a name reused by
// replacements leaves revoked tokens of that name behind; the lookup by owner and name (the
// data source's) returns the newest revoked one while no other exists, and the one not
// revoked once there is one, whatever the id order.
func TestFindByOwnerAndName_prefersTheTokenNotRevokedElseTheNewestRevoked(t *testing.T) {
	ts := newTestService(t)
	ctx := context.Background()
	create := func() wire.Token {
		t.Helper()
		ts.Clock.Advance(day)
		tok, err := ts.Client.CreateToken(ctx, wire.CreateTokenRequest{Name: "replaced", Owner: "team-ops@example.com",
			Purpose: "Pushes deployment events to the incident tracker", Scopes: []string{"events:write"},
			DataCategories: []string{}, TTL: "30d"}, "")
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	var revoked []wire.Token
	for range 3 {
		tok := create()
		if _, err := ts.Client.RevokeToken(ctx, tok.ID); err != nil {
			t.Fatal(err)
		}
		revoked = append(revoked, tok)
		got, ok, err := findByOwnerAndName(ctx, ts.Client, "TEAM-OPS@example.com", "replaced")
		if err != nil || !ok || got.ID != tok.ID || got.Status != "revoked" {
			t.Fatalf("with %d revoked tokens: found %s (%s), %v, %v; want the newest revoked %s", len(revoked), got.ID, got.Status, ok, err, tok.ID)
		}
	}
	live := create()
	got, ok, err := findByOwnerAndName(ctx, ts.Client, "team-ops@example.com", "replaced")
	if err != nil || !ok || got.ID != live.ID || got.Status != "active" {
		t.Fatalf("found %s (%s), %v, %v; want the active %s over %d revoked", got.ID, got.Status, ok, err, live.ID, len(revoked))
	}
	// Expired is not revoked: it is still the token of that name.
	ts.Clock.Advance(31 * day)
	if got, _, err := findByOwnerAndName(ctx, ts.Client, "team-ops@example.com", "replaced"); err != nil || got.ID != live.ID || got.Status != "expired" {
		t.Fatalf("after expiry found %s (%s), %v; want the expired %s", got.ID, got.Status, err, live.ID)
	}
	if _, ok, err := findByOwnerAndName(ctx, ts.Client, "team-ops@example.com", "other"); ok || err != nil {
		t.Fatalf("an unknown name: found %v, %v; want nothing", ok, err)
	}
}

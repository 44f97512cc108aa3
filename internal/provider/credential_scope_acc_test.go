package provider

import (
	"context"
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// configAs prefixes hcl with a provider block using credential secret instead of the admin.
func (ts *testService) configAs(secret, hcl string) string {
	return fmt.Sprintf("provider \"tokenguard\" {\n  endpoint = %q\n  token    = %q\n}\n\n%s", ts.URL, secret, hcl)
}

// TestAccProvider_ownerScopedIssuerManagesItsOwnersTokensOnly proves issue 16 point 5 for the
// provider: with an issuer credential restricted to the configuration's owner, a plan (which
// reads the erased subjects for the policy gate), an apply, a refresh, an in-place update, a
// list data source and the destroy all work; a token for another owner fails with an error
// naming the restriction; another owner's token is invisible to the data source; and a
// reader or introspect credential fails with a clear permission error, not a crash.
func TestAccProvider_ownerScopedIssuerManagesItsOwnersTokensOnly(t *testing.T) {
	ts := newTestService(t)
	ctx := context.Background()
	mk := func(role, owner string) wire.Credential {
		t.Helper()
		c, err := ts.Client.CreateCredential(ctx, wire.CreateCredentialRequest{Name: "terraform-" + role, Role: role, Owner: owner}, "")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	issuer := mk("issuer", testOwner)
	reader := mk("reader", "")
	introspect := mk("introspect", "")
	foreign, err := ts.Client.CreateToken(ctx, wire.CreateTokenRequest{Name: "growth-export", Owner: "team-growth@example.com",
		Purpose: "Weekly export of signups to the growth dashboard", Scopes: []string{"signups:read"},
		DataCategories: []string{"identifiers"}, TTL: "30d", Rotation: &wire.Rotation{Interval: "7d", Overlap: "1h"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	const rotation = `  rotation = { interval = "7d", overlap = "1h" }`
	mine := tokenHCL("30d", rotation) + `
data "tokenguard_api_tokens" "visible" {
  depends_on = [tokenguard_api_token.test]
}
`
	otherOwner := `resource "tokenguard_api_token" "other" {
  name            = "growth-import"
  owner           = "team-growth@example.com"
  purpose         = "Weekly import of signups into the growth dashboard"
  scopes          = ["signups:read"]
  data_categories = ["identifiers"]
  ttl             = "30d"
  rotation        = { interval = "7d", overlap = "1h" }
}
`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: ts.factories(),
		CheckDestroy:             ts.checkAllRevoked(t, testOwner, 1),
		Steps: []resource.TestStep{
			{
				Config: ts.configAs(issuer.Secret, mine),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(testAddr, at("owner"), knownvalue.StringExact(testOwner)),
					statecheck.ExpectKnownValue(testAddr, at("status"), knownvalue.StringExact("active")),
					statecheck.ExpectKnownValue("data.tokenguard_api_tokens.visible", at("tokens"), knownvalue.ListSizeExact(1)),
				},
				Check: resource.TestCheckResourceAttr("data.tokenguard_api_tokens.visible", "tokens.0.owner", testOwner),
			},
			{
				// An in-place update and a refresh with the same credential.
				Config: ts.configAs(issuer.Secret, tokenHCL("30d", rotation+"\n  labels = { env = \"prod\" }")),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(testAddr, at("labels"), knownvalue.MapExact(map[string]knownvalue.Check{"env": knownvalue.StringExact("prod")})),
				},
			},
			{
				Config:      ts.configAs(issuer.Secret, tokenHCL("30d", rotation+"\n  labels = { env = \"prod\" }")+otherOwner),
				ExpectError: regexp.MustCompile(`(?s)Permission denied.*owner_restricted.*restricted\s+to\s+the\s+tokens\s+of\s+one\s+owner`),
			},
			{
				// A reader may plan (it reads the erased subjects) but not create.
				Config:      ts.configAs(reader.Secret, otherOwner),
				ExpectError: regexp.MustCompile(`(?s)Permission denied.*forbidden.*role\s+"reader"`),
			},
			{
				// An introspect credential cannot even read what the policy gate needs.
				Config:      ts.configAs(introspect.Secret, otherOwner),
				ExpectError: regexp.MustCompile(`(?s)Unable To Read Erased Data Subjects.*Permission denied.*role\s+"introspect"`),
			},
			{
				// Back to the issuer's own configuration, so the destroy runs with it.
				Config: ts.configAs(issuer.Secret, tokenHCL("30d", rotation+"\n  labels = { env = \"prod\" }")),
			},
		},
	})
	// The other owner's token was never touched, and the refused plans created nothing.
	got, err := ts.Client.GetToken(ctx, foreign.ID)
	if err != nil || got.Status != "active" || got.SecretVersion != 1 {
		t.Fatalf("the other owner's token after the run: %+v, %v", got, err)
	}
	if toks := ts.tokensOf(t, "team-growth@example.com"); len(toks) != 1 {
		t.Fatalf("the other owner holds %d tokens, want only the one made outside Terraform", len(toks))
	}
}

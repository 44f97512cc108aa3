package server_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// TestOwnerRestriction_lookalikeFoldedAndInvisibleOwners attacks an issuer restricted to
// team-billing@example.com with owners that look like it. The restriction compares the
// owner's keyed blind index exactly as two tokens' owners are compared: case and surrounding
// whitespace are folded (the same owner, also a dotted capital I that Go lower-cases to i), invisible and control characters are refused
// (400) as in a token's owner, and every other look-alike (homoglyphs, fullwidth forms,
// another hyphen, a trailing dot) is another owner: creating for it is 403, its tokens made
// by an admin answer 404 and are never listed.
func TestOwnerRestriction_lookalikeFoldedAndInvisibleOwners(t *testing.T) {
	ctx := context.Background()
	svc := servertest.Start(t, servertest.Options{AuthFailuresPerMinute: -1})
	admin := svc.Client(t)
	cred, err := admin.CreateCredential(ctx, wire.CreateCredentialRequest{Name: "billing-pipeline", Role: "issuer", Owner: ownerA}, "")
	if err != nil {
		t.Fatal(err)
	}
	issuer := svc.ClientWithToken(t, cred.Secret)

	same := []string{"Team-Billing@Example.COM", "  team-billing@example.com\t", "TEAM-BILLING@EXAMPLE.COM",
		// Go's lower-casing maps the dotted capital I (U+0130) to a plain i: the token owner
		// comparison counts this as the same owner, so the restriction does too.
		"TEAM-B\u0130LL\u0130NG@EXAMPLE.COM"}
	refused := []string{"team-billing@example.com\u200b", "\u2060team-billing@example.com", "team-billing@exam\u00adple.com",
		"team-billing@example.com\ufe0f", "team-billing@example.com\u202e", "team-billing@example.com\x00"}
	others := []string{
		"team-billing@\u0435xample.com",         // Cyrillic e
		"\uff54eam-billing@example.com",         // fullwidth t
		"team\u2010billing@example.com",         // Unicode hyphen
		"team-billing@example.com.",             // trailing dot
		"team-billing@example.co",               // one letter short
		"\u03a4EAM-BILLING@EXAMPLE.COM",         // Greek capital tau
		"team-billing@example.com team-billing", // a suffix
	}
	cases := 0
	for i, owner := range same {
		req := compliantRequest("same-" + string(rune('a'+i)))
		req.Owner = owner
		if _, err := issuer.CreateToken(ctx, req, ""); err != nil {
			t.Errorf("creating for the folded owner %q: %v, want success", owner, err)
		}
		cases++
	}
	for i, owner := range refused {
		req := compliantRequest("invisible-" + string(rune('a'+i)))
		req.Owner = owner
		_, err := issuer.CreateToken(ctx, req, "")
		var re *client.ResponseError
		if !errors.As(err, &re) || re.StatusCode != 400 || re.Field != "owner" {
			t.Errorf("creating for the owner %q: %v, want 400 naming owner", owner, err)
		}
		// And no credential can be restricted to it.
		_, err = admin.CreateCredential(ctx, wire.CreateCredentialRequest{Name: "x", Role: "issuer", Owner: owner}, "")
		if !errors.As(err, &re) || re.StatusCode != 400 || re.Field != "owner" {
			t.Errorf("a credential restricted to %q: %v, want 400 naming owner", owner, err)
		}
		cases += 2
	}
	var foreign []wire.Token
	for i, owner := range others {
		req := compliantRequest("other-" + string(rune('a'+i)))
		req.Owner = owner
		_, err := issuer.CreateToken(ctx, req, "")
		var re *client.ResponseError
		if !errors.As(err, &re) || re.StatusCode != 403 || re.Code != "owner_restricted" || !strings.Contains(re.Message, cred.ID) {
			t.Errorf("creating for the look-alike %q: %v, want 403 owner_restricted naming the credential", owner, err)
		}
		tok, err := admin.CreateToken(ctx, req, "")
		if err != nil {
			t.Fatalf("admin creating for %q: %v", owner, err)
		}
		foreign = append(foreign, tok)
		for _, call := range []func() error{
			func() error { _, err := issuer.GetToken(ctx, tok.ID); return err },
			func() error { _, err := issuer.RevokeToken(ctx, tok.ID); return err },
			func() error { _, err := issuer.RotateToken(ctx, tok.ID, wire.RotateRequest{}, ""); return err },
		} {
			if err := call(); !errors.Is(err, client.ErrNotFound) {
				t.Errorf("the look-alike %q's token: %v, want 404 as if absent", owner, err)
			}
		}
		list, err := issuer.ListTokens(ctx, wire.ListTokensOptions{Owner: owner})
		if err != nil || len(list.Tokens) != 0 {
			t.Errorf("listing the look-alike %q: %d tokens, %v; want none", owner, len(list.Tokens), err)
		}
		cases += 5
	}
	list, err := issuer.ListTokens(ctx, wire.ListTokensOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Tokens) != len(same) {
		t.Errorf("the issuer lists %d tokens, want its owner's %d", len(list.Tokens), len(same))
	}
	for _, tk := range list.Tokens {
		if strings.ToLower(strings.TrimSpace(tk.Owner)) != ownerA {
			t.Errorf("the issuer lists a token of %q", tk.Owner)
		}
	}
	for _, tk := range foreign {
		got, err := admin.GetToken(ctx, tk.ID)
		if err != nil || got.Status != "active" || got.SecretVersion != 1 {
			t.Errorf("a look-alike's token after the refused calls: %+v, %v", got, err)
		}
	}
	// The credential list shows the restriction as it was given, never a secret.
	creds, err := admin.ListCredentials(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range creds {
		if c.Secret != "" {
			t.Fatalf("the credential list holds the secret of %s", c.ID)
		}
		if c.ID == cred.ID && c.Owner != ownerA {
			t.Errorf("the issuer is listed with owner %q, want %q", c.Owner, ownerA)
		}
	}
	t.Logf("%d look-alike cases: %d folded owners accepted, %d invisible-character owners refused 400, %d other owners refused 403/404",
		cases, len(same), len(refused), len(others))
}

// TestCredentialCreate_refusesRolesAndRestrictionsItCannotHonour: an unknown role, an owner
// restriction on an admin or introspect credential, and rights beside a role are refused
// with 400 naming the field, and create nothing.
func TestCredentialCreate_refusesRolesAndRestrictionsItCannotHonour(t *testing.T) {
	ctx := context.Background()
	svc := servertest.Start(t, servertest.Options{})
	admin := svc.Client(t)
	for _, tc := range []struct {
		req   wire.CreateCredentialRequest
		field string
	}{
		{wire.CreateCredentialRequest{Name: "x", Role: "superuser"}, "role"},
		{wire.CreateCredentialRequest{Name: "x", Role: "Admin"}, "role"},
		{wire.CreateCredentialRequest{Name: "x", Role: "admin", Owner: ownerA}, "owner"},
		{wire.CreateCredentialRequest{Name: "x", Role: "introspect", Owner: ownerA}, "owner"},
		{wire.CreateCredentialRequest{Name: "x", Role: "issuer", Rights: []string{"introspect"}}, "rights"},
		{wire.CreateCredentialRequest{Name: "x", Rights: []string{"admin"}}, "rights"},
		{wire.CreateCredentialRequest{Name: "", Role: "reader"}, "name"},
	} {
		_, err := admin.CreateCredential(ctx, tc.req, "")
		var re *client.ResponseError
		if !errors.As(err, &re) || re.StatusCode != 400 || re.Field != tc.field {
			t.Errorf("CreateCredential(%+v) = %v, want 400 naming %s", tc.req, err, tc.field)
		}
	}
	list, err := admin.ListCredentials(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("after refused creations %d credentials (%v), want only the bootstrap admin", len(list), err)
	}
}

// TestAudit_everyRecordNamesTheCredentialThatActed: after work by an admin, an issuer, a
// reader and an introspect credential, every audit record's actor is the id of a listed
// credential, or one of the actors that are no credential: "system" (bootstrap and the
// service's own jobs), "token-holder" (a secret revoking itself) and "secret-scanning:<id>".
// Each credential's own actions are recorded under its id, also after it was rotated.
func TestAudit_everyRecordNamesTheCredentialThatActed(t *testing.T) {
	ctx := context.Background()
	svc := servertest.Start(t, servertest.Options{})
	admin := svc.Client(t)
	mk := func(role string) (wire.Credential, *client.Client) {
		c, err := admin.CreateCredential(ctx, wire.CreateCredentialRequest{Name: role + "-a", Role: role}, "")
		if err != nil {
			t.Fatal(err)
		}
		return c, svc.ClientWithToken(t, c.Secret)
	}
	issuerCred, issuer := mk("issuer")
	readerCred, reader := mk("reader")
	introCred, intro := mk("introspect")
	tok, err := issuer.CreateToken(ctx, compliantRequest("audited"), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := intro.Introspect(ctx, tok.Secret); err != nil {
		t.Fatal(err)
	}
	if _, err := reader.CreateAccessRequest(ctx, wire.AccessRequest{Subject: "customer:4411"}); err != nil {
		t.Fatal(err)
	}
	rotated, err := admin.RotateCredential(ctx, issuerCred.ID, wire.RotateCredentialRequest{Overlap: "0s"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ClientWithToken(t, rotated.Secret).RotateToken(ctx, tok.ID, wire.RotateRequest{}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ClientWithToken(t, rotated.Secret).RevokeToken(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	creds, err := admin.ListCredentials(ctx)
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, c := range creds {
		known[c.ID] = true
	}
	page, err := admin.ListAudit(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	byAction := map[string]string{}
	for _, r := range page.Records {
		if !known[r.Actor] && r.Actor != "system" && r.Actor != "token-holder" && !strings.HasPrefix(r.Actor, "secret-scanning:") {
			t.Errorf("audit record %d (%s) names actor %q, which is no credential", r.Seq, r.Action, r.Actor)
		}
		byAction[r.Action] = r.Actor
	}
	for action, want := range map[string]string{"token.create": issuerCred.ID, "token.introspect": introCred.ID,
		"access.request": readerCred.ID, "token.rotate": issuerCred.ID, "token.revoke": issuerCred.ID,
		"credential.rotate": bootstrapAdminID(t, admin)} {
		if byAction[action] != want {
			t.Errorf("the last %s record names %q, want %q", action, byAction[action], want)
		}
	}
}

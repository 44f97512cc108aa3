package cli

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/evidencepack"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

func TestCredentialRevoke_revokesThroughTheAPIAndTheNextRequestIsRefused(t *testing.T) {
	ctx := context.Background()
	svc := servertest.Start(t, servertest.Options{})
	cred, err := svc.Client(t).CreateCredential(ctx, wire.CreateCredentialRequest{Name: "orders-gateway"}, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("TOKENGUARD_TOKEN", svc.AdminToken)
	code, out, errs := run(t, "", "credential", "revoke", cred.ID, "--endpoint", svc.URL)
	if code != 0 || out != "revoked credential "+cred.ID+" (orders-gateway)\n" {
		t.Fatalf("credential revoke = %d %q %q", code, out, errs)
	}
	_, err = svc.ClientWithToken(t, cred.Secret).Introspect(ctx, "tg_live_x")
	var re *client.ResponseError
	if !errors.As(err, &re) || re.StatusCode != 401 {
		t.Fatalf("request with the revoked credential = %v, want 401", err)
	}
	// Again: idempotent. An unknown id: a usage error naming not_found.
	if code, out, errs := run(t, "", "credential", "revoke", cred.ID, "--endpoint", svc.URL); code != 0 || !strings.HasPrefix(out, "revoked credential") {
		t.Fatalf("second credential revoke = %d %q %q", code, out, errs)
	}
	if code, _, errs := run(t, "", "credential", "revoke", "cred_doesnotexist", "--endpoint", svc.URL); code != ExitUsage || !strings.Contains(errs, "not_found") {
		t.Fatalf("revoking an unknown credential = %d %q, want exit %d naming not_found", code, errs, ExitUsage)
	}
}

// TestCredential_createListRotateAndWorkAsAnOwnerScopedIssuer drives issue 16 point 5 through
// the CLI: an admin creates an issuer restricted to one owner, lists it (role and owner, no
// secret), rotates it with an overlap during which both secrets work; the issuer then creates
// a token for its owner, is refused clearly for another owner, and lists only its owner's
// tokens.
func TestCredential_createListRotateAndWorkAsAnOwnerScopedIssuer(t *testing.T) {
	ctx := context.Background()
	svc := servertest.Start(t, servertest.Options{})
	t.Setenv("TOKENGUARD_TOKEN", svc.AdminToken)
	code, out, errs := run(t, "", "credential", "create", "--name", "billing-pipeline", "--role", "issuer",
		"--owner", "team-billing@example.com", "--json", "--endpoint", svc.URL)
	if code != 0 {
		t.Fatalf("credential create = %d %q %q", code, out, errs)
	}
	var cred wire.Credential
	if err := json.Unmarshal([]byte(out), &cred); err != nil || cred.Role != "issuer" || cred.Owner != "team-billing@example.com" || cred.Secret == "" {
		t.Fatalf("credential create answered %q (%v)", out, err)
	}
	code, out, errs = run(t, "", "credential", "list", "--endpoint", svc.URL)
	if code != 0 || !strings.Contains(out, cred.ID) || !strings.Contains(out, "issuer") || !strings.Contains(out, "team-billing@example.com") ||
		!strings.Contains(out, "bootstrap admin") || strings.Contains(out, cred.Secret) || strings.Contains(out, svc.AdminToken) {
		t.Fatalf("credential list = %d %q %q", code, out, errs)
	}
	code, out, errs = run(t, "", "credential", "rotate", cred.ID, "--overlap", "1h", "--json", "--endpoint", svc.URL)
	var rotated wire.Credential
	if code != 0 || json.Unmarshal([]byte(out), &rotated) != nil || rotated.Secret == "" || rotated.Secret == cred.Secret || rotated.PreviousValidUntil == nil {
		t.Fatalf("credential rotate = %d %q %q", code, out, errs)
	}
	for _, secret := range []string{cred.Secret, rotated.Secret} {
		if _, err := svc.ClientWithToken(t, secret).ListTokens(ctx, wire.ListTokensOptions{}); err != nil {
			t.Fatalf("a secret inside the overlap: %v", err)
		}
	}
	if _, err := svc.Client(t).CreateToken(ctx, wire.CreateTokenRequest{Name: "growth-export", Owner: "team-growth@example.com",
		Purpose: "weekly export of signups to the growth dashboard", Scopes: []string{"signups:read"}, DataCategories: []string{"identifiers"},
		TTL: "30d", Rotation: &wire.Rotation{Interval: "7d", Overlap: "1h"}}, ""); err != nil {
		t.Fatal(err)
	}

	t.Setenv("TOKENGUARD_TOKEN", rotated.Secret)
	create := func(owner string) (int, string, string) {
		return run(t, "", "token", "create", "--name", "invoices-export", "--owner", owner,
			"--purpose", "nightly export of invoices to the accounting system", "--scope", "invoices:read",
			"--data-category", "commercial", "--ttl", "30d", "--rotation-interval", "7d", "--rotation-overlap", "1h", "--endpoint", svc.URL)
	}
	if code, out, errs := create("team-billing@example.com"); code != 0 || !strings.Contains(out, "tg_") {
		t.Fatalf("the issuer creating for its owner = %d %q %q", code, out, errs)
	}
	code, out, errs = create("team-growth@example.com")
	if code != ExitUsage || !strings.Contains(errs, "owner_restricted") || !strings.Contains(errs, cred.ID) || out != "" {
		t.Fatalf("the issuer creating for another owner = %d %q %q, want exit %d naming owner_restricted and the credential", code, out, errs, ExitUsage)
	}
	code, out, errs = run(t, "", "token", "list", "--endpoint", svc.URL)
	if code != 0 || !strings.Contains(out, "invoices-export") || strings.Contains(out, "growth-export") {
		t.Fatalf("the issuer's token list = %d %q %q, want its owner's token only", code, out, errs)
	}
	// Managing credentials needs an admin credential.
	code, _, errs = run(t, "", "credential", "list", "--endpoint", svc.URL)
	if code != ExitUsage || !strings.Contains(errs, "forbidden") {
		t.Fatalf("credential list by an issuer = %d %q, want exit %d naming forbidden", code, errs, ExitUsage)
	}
}

// TestCredential_readerProducesTheEvidencePackAndAnAccessAnswer: issue 19's reads work with a
// reader credential (issue 16 point 5): the evidence pack with every part and an access
// answer; a reader restricted to one owner is refused both with a clear error, since they
// answer about every owner.
func TestCredential_readerProducesTheEvidencePackAndAnAccessAnswer(t *testing.T) {
	ctx := context.Background()
	w := newPackWorld(t)
	admin := w.svc.Client(t)
	reader, err := admin.CreateCredential(ctx, wire.CreateCredentialRequest{Name: "auditor", Role: "reader"}, "")
	if err != nil {
		t.Fatal(err)
	}
	restricted, err := admin.CreateCredential(ctx, wire.CreateCredentialRequest{Name: "orders-auditor", Role: "reader", Owner: "team-orders@example.com"}, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("TOKENGUARD_TOKEN", reader.Secret)
	p := w.writePack(t, filepath.Join(t.TempDir(), "pack"))
	// 11: the 10 parts and evidence-issued.json, the record of its issue the reader made.
	if len(p) != 11 || p[evidencepack.IssuanceName] == nil {
		t.Fatalf("the reader's pack holds %d parts, want 11 with %s", len(p), evidencepack.IssuanceName)
	}
	if code, out, errs := run(t, "", "access", "--subject", "customer:8101", "--format", "json"); code != ExitOK || !strings.Contains(out, w.rotated) {
		t.Fatalf("access by a reader = %d %q %q", code, out, errs)
	}
	t.Setenv("TOKENGUARD_TOKEN", restricted.Secret)
	if code, _, errs := runSubcommand(t, w.report(), "report", "evidence", "--output", filepath.Join(t.TempDir(), "pack2")); code == ExitOK || !strings.Contains(errs, "owner_restricted") {
		t.Fatalf("report evidence by an owner-restricted reader = %d %q, want a failure naming owner_restricted", code, errs)
	}
	if code, _, errs := run(t, "", "access", "--subject", "customer:8101"); code != ExitUsage || !strings.Contains(errs, "owner_restricted") {
		t.Fatalf("access by an owner-restricted reader = %d %q, want exit %d naming owner_restricted", code, errs, ExitUsage)
	}
}

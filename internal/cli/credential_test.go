package cli

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
)

func TestCredentialRevoke_revokesThroughTheAPIAndTheNextRequestIsRefused(t *testing.T) {
	ctx := context.Background()
	svc := servertest.Start(t, servertest.Options{})
	cred, err := svc.Client(t).CreateCredential(ctx, client.CreateCredentialRequest{Name: "orders-gateway"}, "")
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

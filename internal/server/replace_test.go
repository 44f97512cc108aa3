package server_test

import (
	"testing"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
)

// A replacement (revoke, then create under the same name) must work: Terraform replaces an
// expired or revoked token by destroying it and creating one with the same name.
func TestCreate_reusesTheNameOfARevokedToken(t *testing.T) {
	svc := servertest.Start(t, servertest.Options{})
	admin := svc.Client(t)
	ctx := t.Context()
	first, err := admin.CreateToken(ctx, compliantRequest("replaced"), "")
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if _, err := admin.RevokeToken(ctx, first.ID); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	second, err := admin.CreateToken(ctx, compliantRequest("replaced"), "")
	if err != nil {
		t.Fatalf("create with the revoked token's name: %v, want success\nservice log:\n%s", err, svc.Logs.String())
	}
	if second.ID == first.ID {
		t.Fatalf("replacement reused id %s", first.ID)
	}
}

package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/policy"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
)

// TestPolicyGate_existingWarnJudgesUnchangedAttributesAsWarnings proves issue 21, point 4 at
// the service (serve --existing warn): after the policy is tightened (ttl_max_days 90 -> 45),
// a patch and a rotation of an untouched 60-day token are admitted with CPRA-RET-002 as a
// warning marked existing, while a create of a new 60-day token and a renewal that sets a
// 60-day ttl are refused; under the default (block) the same patch is refused.
func TestPolicyGate_existingWarnJudgesUnchangedAttributesAsWarnings(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clock := servertest.NewClock(t0)
	first := servertest.Start(t, servertest.Options{Dir: dir, Now: clock.Now})
	req := compliantRequest("legacy-export")
	req.TTL = "60d"
	tok, err := first.Client(t).CreateToken(ctx, req, "")
	if err != nil {
		t.Fatal(err)
	}
	first.Close()

	tight := filepath.Join(t.TempDir(), "tight.json")
	if err := os.WriteFile(tight, []byte(`{"tokenguard": {"thresholds": {"ttl_max_days": 45}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	purpose := "nightly export of invoice totals to the accounting system"
	clock.Advance(2 * time.Hour)

	strict := servertest.Start(t, servertest.Options{Dir: dir, Now: clock.Now, PolicyDataFiles: []string{tight}})
	_, err = strict.Client(t).UpdateToken(ctx, tok.ID, client.UpdateTokenRequest{Purpose: &purpose})
	wantRefusedRules(t, "patch under block", err, "CPRA-RET-002")
	strict.Close()

	svc := servertest.Start(t, servertest.Options{Dir: dir, Now: clock.Now, PolicyDataFiles: []string{tight}, PolicyExisting: policy.ExistingWarn})
	admin := svc.Client(t)
	wantExisting := func(step string, got []client.Finding) {
		t.Helper()
		for _, f := range got {
			if f.RuleID == "CPRA-RET-002" && !f.Blocking && f.Severity == policy.SeverityWarning && strings.HasPrefix(f.Message, policy.ExistingNote) {
				return
			}
		}
		t.Fatalf("%s: warnings %+v, want CPRA-RET-002 as an existing warning", step, got)
	}
	patched, err := admin.UpdateToken(ctx, tok.ID, client.UpdateTokenRequest{Purpose: &purpose})
	if err != nil {
		t.Fatalf("patch of the untouched 60-day token under --existing warn: %v", err)
	}
	wantExisting("patch", patched.Warnings)
	rotated, err := admin.RotateToken(ctx, tok.ID, client.RotateRequest{}, "")
	if err != nil {
		t.Fatalf("rotation of the untouched 60-day token under --existing warn: %v", err)
	}
	wantExisting("rotate", rotated.Warnings)

	_, err = admin.CreateToken(ctx, compliantRequestWithTTL("new-export", "60d"), "")
	wantRefusedRules(t, "create of a new 60-day token", err, "CPRA-RET-002")
	_, err = admin.RenewToken(ctx, tok.ID, client.RenewRequest{TTL: "60d", Reason: "quarter-end close", ReviewedBy: "security@example.com"}, "")
	wantRefusedRules(t, "renewal to 60 days", err, "CPRA-RET-002")
}

func compliantRequestWithTTL(name, ttl string) client.CreateTokenRequest {
	r := compliantRequest(name)
	r.TTL = ttl
	return r
}

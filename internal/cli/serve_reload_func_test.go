package cli

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/server"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
)

// TestReloadServePolicy_replacesOnSuccessAndKeepsOnError calls the function serve's SIGHUP
// handler calls: a good waivers file is put in force with the digest logged; a bad one, a
// missing policy directory, and a gate that is off are logged and change nothing.
func TestReloadServePolicy_replacesOnSuccessAndKeepsOnError(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	waivers := filepath.Join(dir, "waivers.yaml")
	if err := os.WriteFile(waivers, []byte("waivers:\n  - rule: CPRA-MIN-002\n    address: tokenguard_api_token.legacy\n    reason: vendor scope\n    approved_by: privacy-office@example.com\n    expires: 2030-06-30\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	svc := servertest.Start(t, servertest.Options{})
	var logs servertest.SafeBuffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	policyNow := func() int {
		p, err := svc.Client(t).Policy(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return len(p.Waivers)
	}
	o := serveOptions{policyEnforcement: server.PolicyMandatory, waivers: waivers}
	if !reloadServePolicy(ctx, o, svc.Server, log) || policyNow() != 1 || !strings.Contains(logs.String(), `"bundle_digest":"`) {
		t.Fatalf("a good reload: %d waivers in force, log %s", policyNow(), logs.String())
	}
	bad := []serveOptions{
		{policyEnforcement: server.PolicyMandatory, waivers: filepath.Join(dir, "missing.yaml")},
		{policyEnforcement: server.PolicyMandatory, policyDirs: []string{filepath.Join(dir, "nope")}},
		{policyEnforcement: server.PolicyOff},
	}
	for i, o := range bad {
		if reloadServePolicy(ctx, o, svc.Server, log) || policyNow() != 1 || strings.Count(logs.String(), "policy reload failed") != i+1 {
			t.Errorf("bad reload %+v: %d waivers in force (want the 1 kept), log %s", o, policyNow(), logs.String())
		}
	}
	off := servertest.Start(t, servertest.Options{PolicyEnforcement: server.PolicyOff})
	if reloadServePolicy(ctx, o, off.Server, log) || !strings.Contains(logs.String(), "the policy gate is off") {
		t.Errorf("reload on a service whose gate is off succeeded, log %s", logs.String())
	}
}

//go:build unix

package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

const reloadWaiver = "  - rule: CPRA-MIN-002\n    address: tokenguard_api_token.legacy_%d\n    reason: vendor scope\n    approved_by: privacy-office@example.com\n    expires: 2030-06-30\n"

func writeReloadFiles(t *testing.T, data, waivers string, ttlMaxDays, nWaivers int) {
	t.Helper()
	d := `{"tokenguard": {"thresholds": {"ttl_max_days": ` + itoa(ttlMaxDays) + `}}}`
	if err := os.WriteFile(data, []byte(d), 0o600); err != nil {
		t.Fatal(err)
	}
	w := "waivers:\n"
	for i := range nWaivers {
		w += strings.ReplaceAll(reloadWaiver, "%d", itoa(i))
	}
	if err := os.WriteFile(waivers, []byte(w), 0o600); err != nil {
		t.Fatal(err)
	}
}

// waitForLog waits until logs holds want n times: the service logs it when it has handled
// the signal. The deadline is a hang guard, not a timing assertion.
func waitForLog(t *testing.T, logs *servertest.SafeBuffer, want string, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for strings.Count(logs.String(), want) < n {
		if time.Now().After(deadline) {
			t.Fatalf("the service did not log %q %d times:\n%s", want, n, logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestServe_sighupReloadsPoliciesDataAndWaiversAndKeepsThemOnError sends SIGHUP to a real
// tokenguard serve: the changed policy data file and waivers file are in force afterwards
// (GET /v1/policy answers the new digest, the one the log names, and the new waivers; a ttl
// the new threshold forbids is refused), and a broken data file or policy module is logged
// while the bundle and waivers in force stay.
func TestServe_sighupReloadsPoliciesDataAndWaiversAndKeepsThemOnError(t *testing.T) {
	const admin = "tgc_reload-test-admin-credential-0123456789abcdef"
	t.Setenv("TOKENGUARD_ADMIN_TOKEN", admin)
	ctx := context.Background()
	dir := t.TempDir()
	data, waivers, extra := filepath.Join(dir, "cpra.json"), filepath.Join(dir, "waivers.yaml"), filepath.Join(dir, "extra")
	if err := os.Mkdir(extra, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(extra, "ok.rego"), []byte("package extra.ok\n\nok := true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	writeReloadFiles(t, data, waivers, 60, 1)
	url, logs, stop := startServe(t, "--db", filepath.Join(dir, "tg.db"), "--policy-data", data, "--waivers", waivers, "--policy", extra)
	c, err := client.New(client.Config{Endpoint: url, Token: admin, RetryMax: -1})
	if err != nil {
		t.Fatal(err)
	}
	first, err := c.Policy(ctx)
	if err != nil || first.Bundle == nil || len(first.Waivers) != 1 {
		t.Fatalf("policy at start = %+v, %v", first, err)
	}
	create := func(name string) error {
		_, err := c.CreateToken(ctx, wire.CreateTokenRequest{Name: name, Owner: "team-reload", Purpose: "prove that SIGHUP reloads the policy gate",
			Scopes: []string{"orders:read"}, DataCategories: []string{"identifiers"}, TTL: "30d"}, "")
		return err
	}
	if err := create("before-reload"); err != nil {
		t.Fatalf("a 30d token under a 60-day cap: %v", err)
	}

	writeReloadFiles(t, data, waivers, 20, 2)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitForLog(t, logs, `"msg":"policy reloaded"`, 1)
	second, err := c.Policy(ctx)
	if err != nil || second.Bundle == nil {
		t.Fatalf("policy after reload = %+v, %v", second, err)
	}
	if second.Bundle.Digest == first.Bundle.Digest || len(second.Waivers) != 2 {
		t.Errorf("after SIGHUP: digest %s (was %s), %d waivers; want a new digest and 2 waivers", second.Bundle.Digest, first.Bundle.Digest, len(second.Waivers))
	}
	if !strings.Contains(logs.String(), `"bundle_digest":"`+second.Bundle.Digest+`"`) {
		t.Errorf("the reload log does not name the digest in force %s:\n%s", second.Bundle.Digest, logs.String())
	}
	if err := create("after-reload"); err == nil || !strings.Contains(err.Error(), "policy_violation") {
		t.Errorf("a 30d token under the reloaded 20-day cap = %v, want a policy_violation", err)
	}

	// Broken inputs: a data file that is not JSON, then a module that does not compile.
	if err := os.WriteFile(data, []byte(`{"tokenguard": `), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitForLog(t, logs, `"msg":"policy reload failed: the policies and waivers in force stay"`, 1)
	writeReloadFiles(t, data, waivers, 60, 0)
	if err := os.WriteFile(filepath.Join(extra, "broken.rego"), []byte("package extra.broken\n\ndeny contains msg if {\n  msg := \n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitForLog(t, logs, `"msg":"policy reload failed: the policies and waivers in force stay"`, 2)
	third, err := c.Policy(ctx)
	if err != nil || third.Bundle == nil || third.Bundle.Digest != second.Bundle.Digest || len(third.Waivers) != 2 {
		t.Errorf("after failed reloads = %+v, %v; want digest %s and 2 waivers still in force", third, err, second.Bundle.Digest)
	}
	if err := create("after-failed-reload"); err == nil || !strings.Contains(err.Error(), "policy_violation") {
		t.Errorf("a 30d token after failed reloads = %v, want the 20-day cap still in force", err)
	}
	if code := stop(); code != 0 {
		t.Fatalf("serve exited %d after the signals:\n%s", code, logs.String())
	}
}

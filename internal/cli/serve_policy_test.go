package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/server"
)

// TestServePolicy_flagsBuildTheGate: --policy-enforcement defaults to mandatory and compiles
// the bundle for the service gate; off compiles nothing; --waivers is loaded with the
// checker's format; bad values are usage errors naming the flag.
func TestServePolicy_flagsBuildTheGate(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	waivers := filepath.Join(dir, "waivers.yaml")
	if err := os.WriteFile(waivers, []byte("waivers:\n  - rule: CPRA-MIN-002\n    address: tokenguard_api_token.legacy_*\n    reason: vendor scope\n    approved_by: privacy-office@example.com\n    expires: 2030-06-30\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	badWaivers := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(badWaivers, []byte("waivers:\n  - rule: CPRA-MIN-002\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "cpra.json")
	if err := os.WriteFile(data, []byte(`{"tokenguard": {"thresholds": {"ttl_max_days": 60}}}`), 0o600); err != nil {
		t.Fatal(err)
	}

	// The flag's default is mandatory.
	var o serveOptions
	if f := newServeCommand(&streams{}).Flags().Lookup("policy-enforcement"); f == nil || f.DefValue != server.PolicyMandatory {
		t.Fatalf("--policy-enforcement default = %v, want mandatory", f)
	}
	o.policyEnforcement = server.PolicyMandatory
	o.policyData = []string{data}
	o.waivers = waivers
	cfg, err := servePolicy(ctx, o, time.Now)
	if err != nil {
		t.Fatalf("mandatory: %v", err)
	}
	if cfg.Policy == nil || cfg.PolicyEnforcement != server.PolicyMandatory || len(cfg.Waivers) != 1 || cfg.WaiversFile != waivers {
		t.Fatalf("mandatory config = %+v", cfg)
	}

	cfg, err = servePolicy(ctx, serveOptions{policyEnforcement: server.PolicyOff, waivers: badWaivers}, time.Now)
	if err != nil || cfg.Policy != nil || cfg.PolicyEnforcement != server.PolicyOff {
		t.Fatalf("off = %+v, %v; want no engine and no error (nothing is loaded when off)", cfg, err)
	}

	for _, tc := range []struct {
		name string
		o    serveOptions
		want string
	}{
		{"unknown mode", serveOptions{policyEnforcement: "strict"}, `--policy-enforcement "strict": use mandatory, advisory or off`},
		{"bad waivers", serveOptions{policyEnforcement: server.PolicyAdvisory, waivers: badWaivers}, "--waivers: waivers file " + badWaivers + ": waiver 0: address is required"},
		{"missing waivers", serveOptions{policyEnforcement: server.PolicyMandatory, waivers: filepath.Join(dir, "none.yaml")}, "--waivers: waivers file"},
		{"missing policy dir", serveOptions{policyEnforcement: server.PolicyMandatory, policyDirs: []string{filepath.Join(dir, "nope")}}, "loading the CPRA policies (--policy, --policy-data)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := servePolicy(ctx, tc.o, time.Now)
			var ee *exitError
			if !errors.As(err, &ee) || ee.code != ExitUsage || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want a usage error containing %q", err, tc.want)
			}
		})
	}
}

// TestServe_policyEnforcementFromFlagAndEnvironment: tokenguard serve refuses an unknown
// enforcement mode, from the flag or from TOKENGUARD_POLICY_ENFORCEMENT, with exit code 2
// before it opens the database.
func TestServe_policyEnforcementFromFlagAndEnvironment(t *testing.T) {
	db := filepath.Join(t.TempDir(), "tokens.db")
	var out, errb bytes.Buffer
	code := Run([]string{"serve", "--db", db, "--listen", "127.0.0.1:0", "--policy-enforcement", "strict"}, strings.NewReader(""), &out, &errb)
	if code != ExitUsage || !strings.Contains(errb.String(), `--policy-enforcement "strict"`) {
		t.Fatalf("serve --policy-enforcement strict = %d: %s", code, errb.String())
	}
	t.Setenv("TOKENGUARD_POLICY_ENFORCEMENT", "lenient")
	errb.Reset()
	code = Run([]string{"serve", "--db", db, "--listen", "127.0.0.1:0"}, strings.NewReader(""), &out, &errb)
	if code != ExitUsage || !strings.Contains(errb.String(), `--policy-enforcement "lenient"`) {
		t.Fatalf("serve with TOKENGUARD_POLICY_ENFORCEMENT=lenient = %d: %s", code, errb.String())
	}
	if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the refused serve created the database: %v", err)
	}
}

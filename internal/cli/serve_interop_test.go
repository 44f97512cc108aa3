package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServe_refusesBadIssuerAndSecretScanningKeys checks that serve refuses, with a usage
// error naming the flag, an --issuer that is not a base URL and a --secret-scanning-keys file
// that is missing or not in the shape GitHub publishes, before it serves anything.
func TestServe_refusesBadIssuerAndSecretScanningKeys(t *testing.T) {
	t.Setenv("TOKENGUARD_ADMIN_TOKEN", "")
	dir := t.TempDir()
	notKeys := filepath.Join(dir, "keys.json")
	if err := os.WriteFile(notKeys, []byte(`{"public_keys":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ flag, value, want string }{
		{"--issuer", "tokens.example.com", "issuer"},
		{"--issuer", "https://tokens.example.com/?a=b", "issuer"},
		{"--secret-scanning-keys", filepath.Join(dir, "missing.json"), "--secret-scanning-keys"},
		{"--secret-scanning-keys", notKeys, "public_keys is empty"},
	} {
		code, _, stderr := runCLI(t, "", "serve", "--db", filepath.Join(t.TempDir(), "x.db"), "--listen", "127.0.0.1:0", tc.flag, tc.value)
		if code != ExitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("serve %s %s: exit %d, stderr %q; want a usage error naming %s", tc.flag, tc.value, code, stderr, tc.want)
		}
	}
}

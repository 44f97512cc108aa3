package provider

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// sealedToken is a tokenguard_api_token "t" reaching a sensitive category, with the given
// recipient line (empty: none), and an output of its sealed_secret.
func sealedToken(recipient string) string {
	line := ""
	if recipient != "" {
		line = fmt.Sprintf("  recipient       = %q\n", recipient)
	}
	return fmt.Sprintf(`resource "tokenguard_api_token" "t" {
  name            = "claims-reader"
  owner           = %q
  purpose         = "Reads claim records for the monthly fraud review in the claims warehouse"
  scopes          = ["claims:read"]
  data_categories = ["health"]
  audiences       = ["claims-warehouse"]
  ttl             = "30d"
  rotation        = { interval = "2h", overlap = "1h" }
%s}

output "sealed" {
  value = tokenguard_api_token.t.sealed_secret
}
`, testOwner, line)
}

// noClearSecret fails the test when text holds a tokenguard secret (the tg_<env>_ prefix).
func noClearSecret(t *testing.T, what, text string) {
	t.Helper()
	if strings.Contains(text, "tg_test_") {
		t.Fatalf("%s holds a secret in clear", what)
	}
}

// decryptSealed decrypts an armored age file with id.
func decryptSealed(t *testing.T, sealed any, id age.Identity) string {
	t.Helper()
	s, _ := sealed.(string)
	if !strings.HasPrefix(s, "-----BEGIN AGE ENCRYPTED FILE-----") {
		t.Fatalf("sealed_secret is not an armored age file: %d characters", len(s))
	}
	rd, err := age.Decrypt(armor.NewReader(strings.NewReader(s)), id)
	if err != nil {
		t.Fatalf("decrypting sealed_secret: %v", err)
	}
	b, err := io.ReadAll(rd)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAccAPIToken_sealedSecretNeverInPlanOrState proves issue 21, point 2 with the real
// Terraform CLI and service: a token with recipient leaves no tg_ secret in the plan JSON,
// the state file or `terraform show -json` of either; secret is null and sealed_secret
// decrypts, with the recipient's identity, to a secret that introspects active. A scheduled
// rotation re-seals (the new secret decrypts and is active, and again nothing is in clear),
// a new recipient rotates the secret sealed to it alone, and a rotation made outside
// Terraform is caught up with a re-sealing rotation. Without recipient the same
// token plans with a CPRA-SEC-003 warning; with it, without.
func TestAccAPIToken_sealedSecretNeverInPlanOrState(t *testing.T) {
	skipUnlessAcc(t)
	ts := newTestService(t)
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	w := newGateWorkdir(t, ts, ts.serveForCLI(t), "", sealedToken(id.String())) // the identity, pasted by mistake
	// Terraform's own snippet of the configuration shows the line; the diagnostic must not.
	diags, ok := w.diagnostics("plan", "-no-color")
	if ok || !hasDiag(diags, "error", "age identity (a private key)") {
		t.Fatalf("an identity as recipient planned (ok=%v) without an error naming the mistake: %v", ok, diags)
	}
	for _, d := range diags {
		if strings.Contains(d.Summary+d.Detail, id.String()) {
			t.Fatalf("the diagnostic repeats the identity: %s", d)
		}
	}
	w.write(ts, "", sealedToken(""))
	diags, ok = w.diagnostics("plan", "-no-color")
	if !ok || !hasDiag(diags, "warning", "CPRA-SEC-003") {
		t.Fatalf("a sensitive token without recipient planned ok=%v without a CPRA-SEC-003 warning: %v", ok, diags)
	}

	w.write(ts, "", sealedToken(id.Recipient().String()))
	diags, ok = w.diagnostics("plan", "-no-color", "-out=create.tfplan")
	if !ok || hasDiag(diags, "warning", "CPRA-SEC-003") {
		t.Fatalf("the sealed token planned ok=%v, or still with CPRA-SEC-003: %v", ok, diags)
	}
	noClearSecret(t, "the create plan JSON", w.mustRun("show", "-json", "create.tfplan"))
	w.mustRun("apply", "-input=false", "-no-color", "create.tfplan")
	first := w.sealedState(t, id)
	if err := ts.expectActive(first, true); err != nil {
		t.Fatalf("the secret sealed at create: %v", err)
	}
	out, _, err := w.execSplit("output", "-raw", "sealed")
	if err != nil || decryptSealed(t, out, id) != first {
		t.Fatal("terraform output -raw sealed does not decrypt to the secret of state's sealed_secret")
	}

	ts.Clock.Advance(3 * time.Hour) // rotation.interval (2h) has elapsed
	w.mustRun("plan", "-input=false", "-no-color", "-out=rotate.tfplan")
	if got := w.planActions("rotate.tfplan", "tokenguard_api_token.t"); got != "update" {
		t.Fatalf("the due rotation planned %q, want update", got)
	}
	noClearSecret(t, "the rotation plan JSON", w.mustRun("show", "-json", "rotate.tfplan"))
	w.mustRun("apply", "-input=false", "-no-color", "rotate.tfplan")
	second := w.sealedState(t, id)
	if second == first {
		t.Fatal("the scheduled rotation kept the secret")
	}
	if err := ts.expectActive(second, true); err != nil {
		t.Fatalf("the secret re-sealed at rotation: %v", err)
	}

	other, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	ts.Clock.Advance(time.Hour) // the overlap of the last rotation has ended
	w.write(ts, "", sealedToken(other.Recipient().String()))
	w.mustRun("plan", "-input=false", "-no-color", "-out=recipient.tfplan")
	if got := w.planActions("recipient.tfplan", "tokenguard_api_token.t"); got != "update" {
		t.Fatalf("a new recipient planned %q, want an in-place rotation (update)", got)
	}
	w.mustRun("apply", "-input=false", "-no-color", "recipient.tfplan")
	third := w.sealedState(t, other)
	if err := ts.expectActive(third, true); err != nil {
		t.Fatalf("the secret sealed to the new recipient: %v", err)
	}
	if _, err := age.Decrypt(armor.NewReader(strings.NewReader(w.stateAttrs("tokenguard_api_token.t")["sealed_secret"].(string))), id); err == nil {
		t.Fatal("the old recipient's identity decrypts the secret sealed to the new one")
	}

	// Someone rotates outside Terraform, without a recipient: the next plan catches up with a
	// rotation that seals again, and no clear secret reaches state.
	tokID, _ := w.stateAttrs("tokenguard_api_token.t")["id"].(string)
	ts.Clock.Advance(time.Hour)
	if _, err := ts.Client.RotateToken(context.Background(), tokID, wire.RotateRequest{Overlap: "1s"}, ""); err != nil {
		t.Fatal(err)
	}
	ts.Clock.Advance(time.Minute) // the out-of-band rotation's overlap has ended
	w.mustRun("plan", "-input=false", "-no-color", "-out=catchup.tfplan")
	if got := w.planActions("catchup.tfplan", "tokenguard_api_token.t"); got != "update" {
		t.Fatalf("the stale secret planned %q, want an in-place rotation (update)", got)
	}
	w.mustRun("apply", "-input=false", "-no-color", "catchup.tfplan")
	fourth := w.sealedState(t, other)
	if fourth == third {
		t.Fatal("the catch-up rotation kept the stale secret")
	}
	if err := ts.expectActive(fourth, true); err != nil {
		t.Fatalf("the secret re-sealed by the catch-up rotation: %v", err)
	}
}

// sealedState checks the state after an apply: secret null, no secret in clear in the
// state file or in `terraform show -json`; it returns sealed_secret decrypted with id.
func (w gateWorkdir) sealedState(t *testing.T, id age.Identity) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(w.dir, "terraform.tfstate")) //nolint:gosec // G304: the test's state file
	if err != nil {
		t.Fatal(err)
	}
	noClearSecret(t, "the state file", string(raw))
	noClearSecret(t, "terraform show -json", w.mustRun("show", "-json"))
	attrs := w.stateAttrs("tokenguard_api_token.t")
	if attrs["secret"] != nil {
		t.Fatal("secret is not null in state although recipient is set")
	}
	secret := decryptSealed(t, attrs["sealed_secret"], id)
	if !strings.HasPrefix(secret, "tg_test_") {
		t.Fatalf("sealed_secret decrypts to %d characters that are not a tokenguard secret", len(secret))
	}
	return secret
}

// hasDiag reports whether a diagnostic of the severity mentions text in its summary or detail.
func hasDiag(diags []tfDiagnostic, severity, text string) bool {
	for _, d := range diags {
		if d.Severity == severity && (strings.Contains(d.Summary, text) || strings.Contains(d.Detail, text)) {
			return true
		}
	}
	return false
}

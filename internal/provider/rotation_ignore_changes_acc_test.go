package provider

import (
	"strings"
	"testing"
	"time"
)

// TestAccAPIToken_ignoreChangesCannotHoldBackScheduledRotation pins down what the rotation
// guide says about lifecycle ignore_changes. Terraform hands the provider a configuration in
// which every ignored attribute already holds its value from state, so no provider can tell
// "ignored" from "unchanged": with ignore_changes = all a due rotation is still planned, and
// says why. What does pause scheduled rotation is removing rotation.interval: once applied,
// no later plan rotates, however much time passes.
func TestAccAPIToken_ignoreChangesCannotHoldBackScheduledRotation(t *testing.T) {
	skipUnlessAcc(t)
	ts := newTestService(t)
	ignored := "  rotation = { interval = \"2h\" }\n  lifecycle {\n    ignore_changes = all\n  }"
	w := newGateWorkdir(t, ts, ts.serveForCLI(t), "", surpriseToken("30d", ignored))
	w.mustRun("apply", "-input=false", "-no-color", "-auto-approve")

	ts.Clock.Advance(3 * time.Hour)
	planned := w.mustRun("plan", "-input=false", "-no-color", "-out=due.tfplan")
	if got := w.planActions("due.tfplan", "tokenguard_api_token.t"); got != "update" {
		t.Fatalf("a due rotation under ignore_changes = all planned %q; the guide says it still plans an update", got)
	}
	if !strings.Contains(flat(planned), "scheduled rotation: rotation.interval (2h) elapsed") {
		t.Fatalf("the plan does not say why it rotates:\n%s", planned)
	}

	// Pausing: remove the interval (with ignore_changes no longer hiding the change) and apply.
	w.write(ts, "", surpriseToken("30d", ""))
	w.mustRun("apply", "-input=false", "-no-color", "-auto-approve")
	version := w.stateAttrs("tokenguard_api_token.t")["secret_version"]
	ts.Clock.Advance(30 * time.Hour)
	out, err := w.exec("plan", "-input=false", "-no-color", "-detailed-exitcode")
	if err != nil {
		t.Fatalf("with rotation.interval removed a later plan still changes something: %v\n%s", err, out)
	}
	if v := w.stateAttrs("tokenguard_api_token.t")["secret_version"]; v != version {
		t.Fatalf("secret_version moved from %v to %v with no interval", version, v)
	}
	w.mustRun("destroy", "-input=false", "-no-color", "-auto-approve")
}

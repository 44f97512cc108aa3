package server

import (
	"testing"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/policy"
)

// The gate's findings never carry a file or line: a waiver finding names the server's
// waivers file in File, which is the server's business, not the caller's.
func TestClientFindings_noFileOrLineEvenForWaiverFindings(t *testing.T) {
	in := []policy.Finding{
		{RuleID: "CPRA-RET-002", Severity: policy.SeverityError, File: "/etc/tokenguard/waivers.yaml", Line: 4},
		{RuleID: "CPRA-MIN-003", Severity: policy.SeverityWarning},
	}
	for _, mode := range []string{PolicyMandatory, PolicyAdvisory} {
		out := clientFindings(in, mode)
		if len(out) != len(in) {
			t.Fatalf("%s: %d findings, want %d", mode, len(out), len(in))
		}
		for i, f := range out {
			if f.File != nil || f.Line != nil {
				t.Errorf("%s: finding %d answers file %v line %v, want both null", mode, i, f.File, f.Line)
			}
		}
		if want := mode == PolicyMandatory; out[0].Blocking != want {
			t.Errorf("%s: error finding blocking = %v, want %v", mode, out[0].Blocking, want)
		}
		if out[1].Blocking {
			t.Errorf("%s: warning finding blocking", mode)
		}
	}
	if in[0].File == "" {
		t.Error("clientFindings changed its input")
	}
}

package policy

import "github.com/tokenguard/terraform-provider-tokenguard/internal/wire"

// Wire returns f in the one wire shape of a finding: the findings of `tokenguard check
// --format json` and of the service gate's answers. blocking says whether f fails the check
// or the request, which only the caller knows (its fail-on level or enforcement mode). File
// and Line are null when f has no configuration location, as at the service gate.
func (f Finding) Wire(blocking bool) wire.Finding {
	out := wire.Finding{
		RuleID: f.RuleID, Severity: f.Severity, Title: f.Title, Address: f.Address,
		Message: f.Message, Citation: f.Citation, Basis: f.Basis, Remediation: f.Remediation, Field: f.Field,
		Waived: f.Waived, WaiverReason: f.WaiverReason, WaiverApprovedBy: f.WaiverApprovedBy,
		Blocking: blocking,
	}
	if f.File != "" {
		file := f.File
		out.File = &file
	}
	if f.Line > 0 {
		line := f.Line
		out.Line = &line
	}
	return out
}

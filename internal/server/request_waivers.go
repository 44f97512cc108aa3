// Waivers sent with a request (issue 21, one verdict across gates): the provider sends the
// waivers it applied at plan, and the service gate honours them under its own waiver policy,
// so that a waived finding gets the same verdict at plan and at apply.

package server

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/policy"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// maxRequestWaivers bounds the waivers of one request.
const maxRequestWaivers = 50

// auditRequestWaivers is the audit detail listing the waivers a request carried, as
// "RULE until YYYY-MM-DD" (the approver and reason are in the answer's warnings, not here).
const auditRequestWaivers = "request_waivers"

// requestWaiverSource names the request's waivers in the messages of the findings about them.
const requestWaiverSource = "the request's waivers"

// requestWaivers checks the waivers of a request: each field present and bounded, expires a
// date, and no waiver that could cover the findings waivers themselves produce
// (TOKENGUARD-WAIVER-*): those judge waivers and are never waived. A problem is a 400 naming
// waivers[i] and the field.
func requestWaivers(ws []wire.Waiver) ([]policy.Waiver, error) {
	if len(ws) > maxRequestWaivers {
		return nil, invalid("waivers", "a request carries at most %d waivers", maxRequestWaivers)
	}
	out := make([]policy.Waiver, 0, len(ws))
	for i, w := range ws {
		field := fmt.Sprintf("waivers[%d]", i)
		for _, v := range []string{w.Rule, w.Address, w.Reason, w.ApprovedBy, w.Expires} {
			if len(v) > maxPurposeLength {
				return nil, invalid(field, "%s has a field longer than %d characters", field, maxPurposeLength)
			}
		}
		pw, err := policy.NewWaiver(w.Rule, w.Address, w.Reason, w.ApprovedBy, w.Expires, i)
		if err != nil {
			return nil, invalid(field, "%s", err.Error())
		}
		for _, id := range []string{policy.RuleWaiverExpired, policy.RuleWaiverRefused, policy.RuleWaiverUnused} {
			if policy.WaiverMatchesRule(pw, id) {
				return nil, invalid(field, "%s: rule %s covers %s, a finding about waivers themselves, which no waiver covers: name the CPRA rule it waives", field, pw.Rule, id)
			}
		}
		out = append(out, pw)
	}
	return out, nil
}

// applyRequestWaivers applies the request's waivers ws to findings (the file's waivers
// already applied) under the waiver policy wp, as ApplyGovernedWaiversToToken applies the
// file's. When wp refuses waivers sent with requests, each one naming the token is a blocking
// TOKENGUARD-WAIVER-REFUSED finding instead, and it waives nothing.
func applyRequestWaivers(findings []policy.Finding, ws []policy.Waiver, in gateInput, now time.Time, wp policy.WaiverPolicy, addrs []string) []policy.Finding {
	if len(ws) == 0 {
		return findings
	}
	if !wp.RefuseRequestWaivers {
		return policy.ApplyGovernedWaiversToToken(findings, ws, now, requestWaiverSource, addrs, wp, policy.TokenOwner(in.after))
	}
	out := slices.Clone(findings)
	for _, w := range ws {
		out = append(out, policy.Finding{
			RuleID: policy.RuleWaiverRefused, Severity: policy.SeverityError, Title: "Waiver is refused by the waiver policy",
			Address: addrs[0],
			Message: fmt.Sprintf("waiver %d (%s on %s) sent with the request is refused: the service's waiver policy does not accept "+
				"waivers sent with requests (data.tokenguard.waivers.request_waivers is \"refuse\"), only those of its --waivers file",
				w.Index, w.Rule, w.Address),
			Remediation: "Ask the service's operators to add the waiver to the service's --waivers file, or fix the finding.",
		})
	}
	policy.SortFindings(out)
	return out
}

// withRequestWaivers records the waivers a request carried in the details of its audit record.
func withRequestWaivers(details map[string]string, ws []policy.Waiver) map[string]string {
	if len(ws) == 0 {
		return details
	}
	parts := make([]string, 0, len(ws))
	for _, w := range ws {
		parts = append(parts, w.Rule+" until "+w.Expires.Format("2006-01-02"))
	}
	details[auditRequestWaivers] = strings.Join(parts, ",")
	return details
}

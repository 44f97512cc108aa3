package policy

import (
	"strings"
	"time"
)

// The provider and service gates evaluate one token at a time and never see its Terraform
// resource address: Terraform does not send it to providers, and the service receives API
// requests. They name the token by its type and its name instead, so that waivers written
// for the check gate's addresses still match when the resource label follows the token name.

// TokenAddresses are the addresses a single-token gate (provider, service) knows a
// tokenguard token by, most specific first: tokenguard_api_token.<name> with every character
// that is not a letter, digit, '_' or '-' replaced by '_', and the same with '-' replaced by
// '_' as well (the usual spelling of a resource label for a name such as "billing-export").
// An empty name (unknown until apply) gives only the type.
func TokenAddresses(name string) []string {
	if name == "" {
		return []string{TokenguardType}
	}
	label := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
			return r
		}
		return '_'
	}, name)
	out := []string{TokenguardType + "." + strings.ReplaceAll(label, "-", "_")}
	if strings.Contains(label, "-") {
		out = append(out, TokenguardType+"."+label)
	}
	return out
}

// ApplyWaiversToToken applies waivers to the findings of one token at a single-token gate,
// where addresses are the names the gate knows the token by (TokenAddresses) and every
// finding carries addresses[0]. A current waiver whose rule matches and whose address
// pattern matches any of the addresses waives the finding (the first such waiver is
// reported). An expired waiver whose address pattern matches any of the addresses adds the
// blocking TOKENGUARD-WAIVER-EXPIRED finding, as at the check gate; waivers for other
// resources are not this token's concern, so no TOKENGUARD-WAIVER-UNUSED warning is added.
// The result is sorted.
func ApplyWaiversToToken(findings []Finding, waivers []Waiver, now time.Time, source string, addresses []string) []Finding {
	out := make([]Finding, len(findings), len(findings)+len(waivers))
	copy(out, findings)
	names := func(w Waiver) bool {
		for _, a := range addresses {
			if globMatch(w.Address, a) {
				return true
			}
		}
		return false
	}
	for _, w := range waivers {
		if !names(w) {
			continue
		}
		if w.Expired(now) {
			expired := ApplyWaivers(nil, []Waiver{w}, now, source)
			for _, f := range expired {
				f.Address = addresses[0]
				out = append(out, f)
			}
			continue
		}
		for i := range findings {
			f := &out[i]
			if !f.Waived && globMatch(w.Rule, f.RuleID) {
				f.Waived, f.WaiverReason, f.WaiverApprovedBy = true, w.Reason, w.ApprovedBy
			}
		}
	}
	SortFindings(out)
	return out
}

package policy

import (
	"fmt"
	"io/fs"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"sigs.k8s.io/yaml"

	"github.com/tokenguard/terraform-provider-tokenguard/policies"
)

// Provision is one provision a rule supports: its exact pinpoint ("Cal. Civ. Code
// 1798.100(e)", "11 CCR 7123(c)(3)") and a one-line paraphrase.
type Provision struct {
	Cite       string `json:"cite"`
	Paraphrase string `json:"paraphrase"`
}

// Threshold is one number a rule compares against, and where it comes from.
type Threshold struct {
	// Name names the data.tokenguard.thresholds keys (or the fixed number) it is.
	Name string `json:"name"`
	// Basis is BasisStatute, BasisRegulation or BasisDefault.
	Basis string `json:"basis"`
}

// Threshold bases (METADATA custom.thresholds[].basis) and the hygiene basis of a rule that
// supports no provision (custom.basis).
const (
	BasisStatute    = "statute"
	BasisRegulation = "regulation"
	BasisDefault    = "tokenguard default"
	BasisHygiene    = "configuration hygiene"
)

// readCitation reads custom.provisions, custom.thresholds, custom.basis and custom.adds into
// r, and derives the flat Citation and the ThresholdBasis sentence from them. A rule without
// provisions keeps its custom.citation (custom policies written before provisions existed).
func readCitation(a *ast.Annotations, r *Rule, file string) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("policy %s: rule %s: "+format, append([]any{file, r.ID}, args...)...)
	}
	if raw, ok := a.Custom["provisions"]; ok {
		l, ok := raw.([]any)
		if !ok {
			return bad("custom.provisions must be a list of {cite, paraphrase}")
		}
		for i, e := range l {
			m, _ := e.(map[string]any)
			cite, _ := m["cite"].(string)
			para, _ := m["paraphrase"].(string)
			if strings.TrimSpace(cite) == "" || strings.TrimSpace(para) == "" {
				return bad("custom.provisions[%d] needs a cite (the exact pinpoint) and a one-line paraphrase", i)
			}
			r.Provisions = append(r.Provisions, Provision{Cite: strings.TrimSpace(cite), Paraphrase: strings.TrimSpace(para)})
		}
	}
	if raw, ok := a.Custom["thresholds"]; ok {
		l, ok := raw.([]any)
		if !ok {
			return bad("custom.thresholds must be a list of {name, basis}")
		}
		for i, e := range l {
			m, _ := e.(map[string]any)
			name, _ := m["name"].(string)
			basis, _ := m["basis"].(string)
			switch basis {
			case BasisStatute, BasisRegulation, BasisDefault:
			default:
				return bad("custom.thresholds[%d] has basis %q: use statute, regulation or tokenguard default", i, basis)
			}
			if strings.TrimSpace(name) == "" {
				return bad("custom.thresholds[%d] needs a name", i)
			}
			r.Thresholds = append(r.Thresholds, Threshold{Name: strings.TrimSpace(name), Basis: basis})
		}
	}
	r.Basis = customString(a, "basis")
	if r.Basis != "" && r.Basis != BasisHygiene {
		return bad("custom.basis is %q: use %q for a rule that supports no provision, or leave it out", r.Basis, BasisHygiene)
	}
	if r.Basis == BasisHygiene && len(r.Provisions) > 0 {
		return bad("custom.basis says configuration hygiene but the rule lists provisions: keep one")
	}
	r.Adds = customString(a, "adds")
	switch {
	case len(r.Provisions) > 0:
		r.Citation = FlatCitation(r.Provisions, "; ")
	case r.Basis == BasisHygiene:
		r.Citation = "none: " + BasisHygiene
	default:
		r.Citation = customString(a, "citation")
	}
	r.ThresholdBasis = thresholdBasis(r.Thresholds, r.Provisions)
	return nil
}

// FlatCitation joins the pinpoints of ps with sep, naming each code once: "Cal. Civ. Code
// 1798.100(e); 1798.81.5(b); 11 CCR 7123(c)(1)".
func FlatCitation(ps []Provision, sep string) string {
	parts := make([]string, 0, len(ps))
	code := ""
	for _, p := range ps {
		c, section := splitCite(p.Cite)
		if c == code {
			parts = append(parts, section)
			continue
		}
		code = c
		parts = append(parts, p.Cite)
	}
	return strings.Join(parts, sep)
}

// splitCite splits "Cal. Civ. Code 1798.100(e)" into its code and its section.
func splitCite(cite string) (code, section string) {
	i := strings.LastIndex(cite, " ")
	if i < 0 {
		return "", cite
	}
	return cite[:i], cite[i+1:]
}

// thresholdBasis is the sentence a finding carries about its numbers: "tokenguard default
// ttl_max_days, ttl_max_days_sensitive, configurable in data.tokenguard.thresholds; supports
// Cal. Civ. Code 1798.100(e), 1798.81.5(b)". "" when the rule has no threshold.
func thresholdBasis(ts []Threshold, ps []Provision) string {
	if len(ts) == 0 {
		return ""
	}
	parts := make([]string, 0, len(ts))
	for _, t := range ts {
		if t.Basis == BasisDefault {
			parts = append(parts, fmt.Sprintf("%s %s, configurable in data.tokenguard.thresholds", t.Basis, t.Name))
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %s", t.Basis, t.Name))
	}
	s := strings.Join(parts, "; ")
	if len(ps) > 0 {
		s += "; supports " + FlatCitation(ps, ", ")
	}
	return s
}

// ProvisionEntry is one row of the bundle's table of provisions (policies/provisions.yaml).
type ProvisionEntry struct {
	Cite       string `json:"cite"`
	Source     string `json:"source"`
	Paraphrase string `json:"paraphrase"`
	// Applies notes who the provision binds when that is narrower than every business.
	Applies string `json:"applies,omitempty"`
}

// ProvisionTable reads the table of provisions the shipped bundle cites, in its order.
func ProvisionTable() ([]ProvisionEntry, error) {
	src, err := fs.ReadFile(policies.FS, "provisions.yaml")
	if err != nil {
		return nil, fmt.Errorf("reading the table of provisions: %w", err)
	}
	var doc struct {
		Provisions []ProvisionEntry `json:"provisions"`
	}
	if err := yaml.UnmarshalStrict(src, &doc); err != nil {
		return nil, fmt.Errorf("policies/provisions.yaml: %w", err)
	}
	return doc.Provisions, nil
}

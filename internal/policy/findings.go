package policy

import (
	"fmt"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Finding is one violation of a rule by one resource (or by the plan).
type Finding struct {
	RuleID   string `json:"rule_id"`
	Severity string `json:"severity"`
	Title    string `json:"title"`
	Address  string `json:"address"`
	Message  string `json:"message"`
	Citation string `json:"citation"`
	// Basis says where the numbers of the message come from ("tokenguard default ...,
	// configurable; supports Cal. Civ. Code 1798.100(e), 1798.81.5(b)"); "" when the rule
	// compares against no threshold.
	Basis       string `json:"basis,omitempty"`
	Remediation string `json:"remediation"`
	Field       string `json:"field"`
	// File and Line locate the resource in the configuration when a config directory is given.
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	// Waived findings are shown but never block.
	Waived           bool   `json:"waived"`
	WaiverReason     string `json:"waiver_reason,omitempty"`
	WaiverApprovedBy string `json:"waiver_approved_by,omitempty"`
}

// withholdMessages replaces the messages of findings of a rule that could see a value
// derived from t's sensitive values other than its secret (t.tainted): rules judged them, and
// a message may quote them ("ttl of 400 days"), so the message says which attributes were
// withheld and nothing of their values.
func withholdMessages(fs []Finding, t Token) {
	if len(t.withheld) == 0 {
		return
	}
	for i := range fs {
		fs[i].Message = fmt.Sprintf("%s (details withheld: %s marked sensitive in the plan, and was judged without being shown)",
			fs[i].Title, strings.Join(t.withheld, ", ")+map[bool]string{true: " is", false: " are"}[len(t.withheld) == 1])
	}
}

// stringAt is the string at key in a finding object, "" when absent or not a string.
func stringAt(o ast.Object, key string) string {
	if t := o.Get(ast.InternedTerm(key)); t != nil {
		if s, ok := t.Value.(ast.String); ok {
			return string(s)
		}
	}
	return ""
}

// SortFindings orders findings by address, rule id and message, then field.
func SortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Address != b.Address {
			return a.Address < b.Address
		}
		if a.RuleID != b.RuleID {
			return a.RuleID < b.RuleID
		}
		if a.Message != b.Message {
			return a.Message < b.Message
		}
		return a.Field < b.Field
	})
}

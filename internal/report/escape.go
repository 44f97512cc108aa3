package report

import (
	"fmt"
	"io"
	"strings"
	"unicode"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/policy"
)

// jsonSyntax marks the formats written as JSON (json, sarif): JSON escapes every control
// character itself, and their readers are programs that must get the values exactly.
type jsonSyntax interface{ writesJSON() }

func (jsonFormat) writesJSON() {}
func (sarif) writesJSON()      {}

// escaped is a Format that renders the report with every control character made visible
// first, so that no format has to remember it: a resource address, file name or waiver text
// holding a line break, an ANSI escape or a bidirectional override cannot start a line of its
// own (a GitHub Actions workflow command such as ::error, a forged report line) or repaint a
// terminal, in any format.
type escaped struct{ Format }

func (e escaped) Write(w io.Writer, r Report) error { return e.Format.Write(w, r.escaped()) }

// escaped returns a copy of r with every text field escaped.
func (r Report) escaped() Report {
	out := r
	out.Findings = make([]policy.Finding, len(r.Findings))
	for i, f := range r.Findings {
		f.RuleID, f.Severity, f.Title = escapeName(f.RuleID), escapeName(f.Severity), escapeName(f.Title)
		f.Address, f.File, f.Field = escapeName(f.Address), escapeName(f.File), escapeName(f.Field)
		f.WaiverReason, f.WaiverApprovedBy = escapeName(f.WaiverReason), escapeName(f.WaiverApprovedBy)
		f.Message, f.Citation, f.Remediation = escapeText(f.Message), escapeText(f.Citation), escapeText(f.Remediation)
		f.Basis = escapeText(f.Basis)
		out.Findings[i] = f
	}
	out.Resources = make([]string, len(r.Resources))
	for i, a := range r.Resources {
		out.Resources[i] = escapeName(a)
	}
	out.Rules = make([]policy.Rule, len(r.Rules))
	for i, rule := range r.Rules {
		rule.ID, rule.Title, rule.Severity = escapeName(rule.ID), escapeName(rule.Title), escapeName(rule.Severity)
		rule.Description, rule.Citation, rule.Remediation = escapeText(rule.Description), escapeText(rule.Citation), escapeText(rule.Remediation)
		out.Rules[i] = rule
	}
	return out
}

// escapeName escapes every control character of a name (address, file, rule id) as a
// visible Go-style escape: a line feed becomes the two characters \n.
func escapeName(s string) string { return escapeControls(s, false) }

// escapeText is escapeName for prose (messages, remediation): line breaks and tabs, which
// rules may write, become one space; every other control character is escaped.
func escapeText(s string) string { return escapeControls(s, true) }

func escapeControls(s string, fold bool) string {
	if strings.IndexFunc(s, needsEscape) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case !needsEscape(r):
			b.WriteRune(r)
		case fold && (r == '\n' || r == '\r' || r == '\t'):
			b.WriteByte(' ')
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x80:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}

// needsEscape: C0 and C1 controls and DEL, the line and paragraph separators, and the
// bidirectional embeddings, overrides and isolates (Trojan Source, CVE-2021-42574).
func needsEscape(r rune) bool {
	switch {
	case unicode.IsControl(r), r == '\u2028', r == '\u2029':
		return true
	case r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069', r == '\u200e', r == '\u200f', r == '\u061c':
		return true
	}
	return false
}

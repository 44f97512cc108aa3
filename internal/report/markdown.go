package report

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

// markdown is a pull request comment: a verdict, the summary and a table of findings.
type markdown struct{}

func (markdown) Name() string { return "markdown" }

func (markdown) Write(w io.Writer, r Report) error {
	// Built in memory and written once, so the one write error is the only one to check.
	var b bytes.Buffer
	s := r.Summary()
	fmt.Fprintln(&b, "## tokenguard CPRA policy check")
	fmt.Fprintln(&b)
	switch {
	case s.Blocking > 0:
		fmt.Fprintf(&b, "**Failed:** %s.\n", plural(s.Blocking, "blocking finding", "blocking findings"))
	case s.Total > 0:
		fmt.Fprintln(&b, "**Passed** with findings that do not block.")
	default:
		fmt.Fprintln(&b, "**Passed.**")
	}
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, escapeCell(summaryLine(s)))
	if len(r.Findings) > 0 {
		fmt.Fprintln(&b)
		fmt.Fprintln(&b, "| Severity | Rule | Resource | Finding | Fix |")
		fmt.Fprintln(&b, "|---|---|---|---|---|")
		for _, f := range r.Findings {
			sev := f.Severity
			switch {
			case f.Waived:
				sev = "waived"
			case r.Blocking(f):
				sev = "**" + f.Severity + "**"
			}
			resource := code(f.Address)
			if loc := location(f); loc != "" {
				resource += " (" + code(loc) + ")"
			}
			finding := escapeCell(f.Message)
			if f.Citation != "" {
				finding += "<br>" + escapeCell(f.Citation)
			}
			if f.Basis != "" {
				finding += "<br>" + escapeCell("Threshold basis: "+f.Basis)
			}
			fix := escapeCell(f.Remediation)
			if f.Waived {
				fix = escapeCell("Waived: " + f.WaiverReason + " (approved by " + f.WaiverApprovedBy + ")")
			}
			fmt.Fprintf(&b, "| %s | %s %s | %s | %s | %s |\n", sev, code(f.RuleID), escapeCell(f.Title), resource, finding, fix)
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// escapeCell keeps text inside one table cell and inert: no pipes, HTML or line breaks.
func escapeCell(s string) string {
	s = oneLineText(s)
	return strings.NewReplacer("\\", "\\\\", "|", "\\|", "<", "&lt;", ">", "&gt;", "`", "\\`", "*", "\\*", "_", "\\_", "[", "\\[", "]", "\\]").Replace(s)
}

// code renders s as an inline code span, with a fence longer than any backtick run inside.
func code(s string) string {
	if s == "" {
		return "(plan)"
	}
	s = strings.ReplaceAll(oneLineText(s), "|", "\\|")
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}

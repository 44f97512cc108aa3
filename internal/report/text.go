package report

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/policy"
)

// text is the default format, for people: findings grouped by resource, then a summary line.
type text struct{}

func (text) Name() string { return "text" }

const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiYellow = "\x1b[33m"
	ansiDim    = "\x1b[2m"
)

func (text) Write(w io.Writer, r Report) error {
	// Built in memory and written once, so the one write error is the only one to check.
	var b bytes.Buffer
	paint := func(code, s string) string {
		if !r.Color {
			return s
		}
		return code + s + ansiReset
	}
	addresses, groups := byAddress(r.Findings)
	for _, addr := range addresses {
		fs := groups[addr]
		head := addr
		if head == "" {
			head = "(plan)"
		}
		if loc := location(fs[0]); loc != "" {
			head += "  " + paint(ansiDim, loc)
		}
		fmt.Fprintln(&b, paint(ansiBold, head))
		for _, f := range fs {
			label, colour := "WARNING", ansiYellow
			switch {
			case f.Waived:
				label, colour = "WAIVED", ansiDim
			case f.Severity == policy.SeverityError:
				label, colour = "ERROR", ansiRed
			}
			fmt.Fprintf(&b, "  %s %s  %s\n", paint(colour, fmt.Sprintf("%-7s", label)), f.RuleID, oneLineText(f.Message))
			detail := f.Title
			if f.Citation != "" {
				detail += " (" + f.Citation + ")"
			}
			if f.Basis != "" {
				detail += "; threshold basis: " + f.Basis
			}
			fmt.Fprintf(&b, "          %s\n", oneLineText(detail))
			if f.Remediation != "" {
				fmt.Fprintf(&b, "          fix: %s\n", oneLineText(f.Remediation))
			}
			if f.Waived {
				fmt.Fprintf(&b, "          waived: %s (approved by %s)\n", oneLineText(f.WaiverReason), oneLineText(f.WaiverApprovedBy))
			}
		}
		fmt.Fprintln(&b)
	}
	s := r.Summary()
	line := summaryLine(s)
	switch {
	case s.Blocking > 0:
		line = paint(ansiRed, line)
	case s.Total > 0:
		line = paint(ansiYellow, line)
	}
	fmt.Fprintln(&b, line)
	_, err := w.Write(b.Bytes())
	return err
}

// oneLineText keeps a value on one line so a message cannot forge report lines.
func oneLineText(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

package report

import (
	"bufio"
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
	bw := bufio.NewWriter(w)
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
		fmt.Fprintln(bw, paint(ansiBold, head))
		for _, f := range fs {
			label, colour := "WARNING", ansiYellow
			switch {
			case f.Waived:
				label, colour = "WAIVED", ansiDim
			case f.Severity == policy.SeverityError:
				label, colour = "ERROR", ansiRed
			}
			fmt.Fprintf(bw, "  %s %s  %s\n", paint(colour, fmt.Sprintf("%-7s", label)), f.RuleID, oneLineText(f.Message))
			detail := f.Title
			if f.Citation != "" {
				detail += " (" + f.Citation + ")"
			}
			fmt.Fprintf(bw, "          %s\n", oneLineText(detail))
			if f.Remediation != "" {
				fmt.Fprintf(bw, "          fix: %s\n", oneLineText(f.Remediation))
			}
			if f.Waived {
				fmt.Fprintf(bw, "          waived: %s (approved by %s)\n", oneLineText(f.WaiverReason), oneLineText(f.WaiverApprovedBy))
			}
		}
		fmt.Fprintln(bw)
	}
	s := r.Summary()
	line := summaryLine(s)
	switch {
	case s.Blocking > 0:
		line = paint(ansiRed, line)
	case s.Total > 0:
		line = paint(ansiYellow, line)
	}
	fmt.Fprintln(bw, line)
	return bw.Flush()
}

// oneLineText keeps a value on one line so a message cannot forge report lines.
func oneLineText(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

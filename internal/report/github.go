package report

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

// github writes GitHub Actions workflow commands: one ::error, ::warning or ::notice
// annotation per finding, attached to the file and line when known.
type github struct{}

func (github) Name() string { return "github" }

func (github) Write(w io.Writer, r Report) error {
	// Built in memory and written once, so the one write error is the only one to check.
	var b bytes.Buffer
	for _, f := range r.Findings {
		cmd := "warning"
		switch {
		case f.Waived:
			cmd = "notice"
		case r.Blocking(f):
			cmd = "error"
		}
		var props []string
		if f.File != "" {
			props = append(props, "file="+escapeProperty(f.File))
			if f.Line > 0 {
				props = append(props, fmt.Sprintf("line=%d", f.Line))
			}
		}
		props = append(props, "title="+escapeProperty(f.RuleID+" "+f.Title))
		msg := f.Message
		if f.Address != "" {
			msg = f.Address + ": " + msg
		}
		if f.Waived {
			msg += " (waived: " + f.WaiverReason + ", approved by " + f.WaiverApprovedBy + ")"
		} else if f.Remediation != "" {
			msg += "\nFix: " + f.Remediation
		}
		if f.Citation != "" {
			msg += "\n" + f.Citation
		}
		if f.Basis != "" {
			msg += "\nThreshold basis: " + f.Basis
		}
		fmt.Fprintf(&b, "::%s %s::%s\n", cmd, strings.Join(props, ","), escapeData(msg))
	}
	s := r.Summary()
	fmt.Fprintf(&b, "::notice title=tokenguard::%s\n", escapeData(summaryLine(s)))
	_, err := w.Write(b.Bytes())
	return err
}

// escapeData escapes a workflow command message (percent, carriage return, line feed).
func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// escapeProperty escapes a workflow command property value (also colon and comma).
func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

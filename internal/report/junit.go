package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/policy"
)

// junit is JUnit XML for CI test views: one testcase per resource, one failure per blocking
// finding; findings that do not block are listed in the testcase's system-out.
type junit struct{}

func (junit) Name() string { return "junit" }

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string         `xml:"name,attr"`
	Classname string         `xml:"classname,attr"`
	Failures  []junitFailure `xml:"failure"`
	SystemOut string         `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

func (junit) Write(w io.Writer, r Report) error {
	addresses, groups := byAddress(r.Findings)
	seen := map[string]bool{}
	var all []string
	for _, a := range r.Resources {
		if !seen[a] {
			seen[a] = true
			all = append(all, a)
		}
	}
	for _, a := range addresses {
		if !seen[a] {
			seen[a] = true
			all = append(all, a)
		}
	}
	suite := junitSuite{Name: "tokenguard check"}
	for _, addr := range all {
		name := addr
		if name == "" {
			name = "(plan)"
		}
		c := junitCase{Name: name, Classname: classname(addr)}
		var out []string
		for _, f := range groups[addr] {
			detail := fmt.Sprintf("%s %s: %s\n%s", f.RuleID, f.Title, f.Message, f.Remediation)
			if f.Citation != "" {
				detail += "\n" + f.Citation
			}
			if loc := location(f); loc != "" {
				detail += "\n" + loc
			}
			if r.Blocking(f) {
				c.Failures = append(c.Failures, junitFailure{Message: f.RuleID + ": " + oneLineText(f.Message), Type: f.RuleID, Text: detail})
				continue
			}
			state := f.Severity
			if f.Waived {
				state = "waived: " + f.WaiverReason + " (approved by " + f.WaiverApprovedBy + ")"
			}
			out = append(out, fmt.Sprintf("[%s] %s: %s", state, f.RuleID, oneLineText(f.Message)))
		}
		c.SystemOut = strings.Join(out, "\n")
		suite.Tests++
		if len(c.Failures) > 0 {
			suite.Failures++
		}
		suite.Cases = append(suite.Cases, c)
	}
	doc := junitSuites{Name: "tokenguard", Tests: suite.Tests, Failures: suite.Failures, Suites: []junitSuite{suite}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// classname is the resource type of an address ("tokenguard_api_token"), or its first part.
func classname(addr string) string {
	parts := strings.Split(policy.StripInstanceKeys(addr), ".")
	for i := 0; i+1 < len(parts); i += 2 {
		if parts[i] != "module" {
			return parts[i]
		}
	}
	if addr == "" {
		return "plan"
	}
	return parts[0]
}

package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/policy"
)

// junit is JUnit XML for CI test views: one testcase per finding (failed when it blocks,
// skipped when waived, passed with its text in system-out when it only warns) and one passing
// testcase per checked resource without findings, so the tests and failures counts are the
// counts of findings a reader sees.
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
	File      string         `xml:"file,attr,omitempty"`
	Line      int            `xml:"line,attr,omitempty"`
	Failures  []junitFailure `xml:"failure"`
	Skipped   *junitSkipped  `xml:"skipped"`
	SystemOut string         `xml:"system-out,omitempty"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

func (junit) Write(w io.Writer, r Report) error {
	_, groups := byAddress(r.Findings)
	suite := junitSuite{Name: "tokenguard check"}
	for _, f := range r.Findings {
		where := f.Address
		if where == "" {
			where = "(plan)"
		}
		c := junitCase{Name: f.RuleID + " " + where, Classname: classname(f.Address), File: f.File, Line: max(f.Line, 0)}
		detail := fmt.Sprintf("%s %s: %s\n%s", f.RuleID, f.Title, f.Message, f.Remediation)
		if f.Citation != "" {
			detail += "\n" + f.Citation
		}
		if f.Basis != "" {
			detail += "\nThreshold basis: " + f.Basis
		}
		if loc := location(f); loc != "" {
			detail += "\n" + loc
		}
		switch {
		case r.Blocking(f):
			c.Failures = []junitFailure{{Message: f.RuleID + ": " + oneLineText(f.Message), Type: f.RuleID, Text: detail}}
			suite.Failures++
		case f.Waived:
			c.Skipped = &junitSkipped{Message: "waived: " + oneLineText(f.WaiverReason) + " (approved by " + oneLineText(f.WaiverApprovedBy) + ")"}
			c.SystemOut = detail
			suite.Skipped++
		default:
			c.SystemOut = "[" + f.Severity + "] " + detail
		}
		suite.Tests++
		suite.Cases = append(suite.Cases, c)
	}
	seen := map[string]bool{}
	for _, a := range r.Resources {
		if seen[a] || len(groups[a]) > 0 {
			continue
		}
		seen[a] = true
		suite.Tests++
		suite.Cases = append(suite.Cases, junitCase{Name: a, Classname: classname(a)})
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

// Package report renders policy findings in the output formats of `tokenguard check`: text
// for people, json, sarif, junit, github workflow annotations and markdown for pull requests.
package report

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/policy"
)

// Format writes a Report in one output format.
type Format interface {
	// Name is the value of --format that selects the format.
	Name() string
	// Write renders r to w.
	Write(w io.Writer, r Report) error
}

// Report is everything a format may render about one check.
type Report struct {
	Findings []policy.Finding
	// Rules are the loaded policy rules (SARIF lists one rule per id).
	Rules []policy.Rule
	// Resources are the addresses of the resources checked.
	Resources []string
	// FailOn is the lowest severity that blocks: policy.SeverityError (default) or
	// policy.SeverityWarning.
	FailOn string
	// Color enables ANSI colours in the text format (the writer is a terminal).
	Color bool
}

// Summary counts findings by kind.
type Summary struct {
	Total            int `json:"total"`
	Errors           int `json:"errors"`
	Warnings         int `json:"warnings"`
	Waived           int `json:"waived"`
	Blocking         int `json:"blocking"`
	ResourcesChecked int `json:"resources_checked"`
}

// Blocking reports whether f fails the check: not waived, and at or above FailOn.
func (r Report) Blocking(f policy.Finding) bool {
	if f.Waived {
		return false
	}
	return f.Severity == policy.SeverityError || r.FailOn == policy.SeverityWarning
}

// Summary counts the report's findings. Errors and warnings count unwaived findings only.
func (r Report) Summary() Summary {
	s := Summary{Total: len(r.Findings), ResourcesChecked: len(r.Resources)}
	for _, f := range r.Findings {
		switch {
		case f.Waived:
			s.Waived++
		case f.Severity == policy.SeverityError:
			s.Errors++
		default:
			s.Warnings++
		}
		if r.Blocking(f) {
			s.Blocking++
		}
	}
	return s
}

var formats = map[string]Format{}

func register(f Format) { formats[f.Name()] = f }

func init() {
	for _, f := range []Format{text{}, jsonFormat{}, sarif{}, junit{}, github{}, markdown{}} {
		register(f)
	}
}

// Get returns the format called name.
func Get(name string) (Format, error) {
	if f, ok := formats[name]; ok {
		if _, ok := f.(jsonSyntax); ok {
			return f, nil
		}
		return escaped{f}, nil
	}
	return nil, fmt.Errorf("unknown format %q: use one of %s", name, strings.Join(Names(), ", "))
}

// Names lists the format names, sorted.
func Names() []string {
	out := make([]string, 0, len(formats))
	for n := range formats {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// byAddress groups findings by address, keeping their order.
func byAddress(fs []policy.Finding) (addresses []string, groups map[string][]policy.Finding) {
	groups = map[string][]policy.Finding{}
	for _, f := range fs {
		if _, ok := groups[f.Address]; !ok {
			addresses = append(addresses, f.Address)
		}
		groups[f.Address] = append(groups[f.Address], f)
	}
	return addresses, groups
}

// location renders "file:line" or "file", or "" when the file is unknown.
func location(f policy.Finding) string {
	switch {
	case f.File == "":
		return ""
	case f.Line > 0:
		return fmt.Sprintf("%s:%d", f.File, f.Line)
	}
	return f.File
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// summaryLine is the one-line summary shared by text and markdown.
func summaryLine(s Summary) string {
	if s.Total == 0 {
		return plural(s.ResourcesChecked, "resource", "resources") + " checked: no findings"
	}
	return fmt.Sprintf("%s checked: %s (%s, %s, %s waived); %s",
		plural(s.ResourcesChecked, "resource", "resources"),
		plural(s.Total, "finding", "findings"),
		plural(s.Errors, "error", "errors"),
		plural(s.Warnings, "warning", "warnings"),
		fmt.Sprint(s.Waived),
		plural(s.Blocking, "blocking", "blocking"))
}

package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/policy"
)

// FuzzFormats renders a report whose findings carry arbitrary strings in every format and
// checks that each output is still valid in its own syntax: the JSON parses and round-trips
// valid UTF-8, the SARIF parses with one result per finding, the JUnit is well-formed XML,
// the GitHub workflow commands are one line per finding (no raw newline can start a forged
// command), and the Markdown table has one row per finding.
func FuzzFormats(f *testing.F) {
	f.Add("CPRA-MIN-001", "purpose \"test\" is generic:\nit does not say <which> data", `module.app.tokenguard_api_token.generic["eu"]`, "modules/app/main.tf", "Vendor | migration", false, 5)
	f.Add("X", "::error::forged\r\n::warning file=a::b", "a,b:c", "", "", true, 0)
	f.Add("]]>", "<![CDATA[ x ]]> & \x00\x01\x1b[31m", "`tick`", "a\nb", "%0A%25", false, -1)
	f.Add("", "", "", "", "", false, 0)
	f.Add("\u2028", "\xff\xfe invalid utf-8 \ud7ff", "\u202e rtl", "*_[x]_*", "\\|", true, 1<<30)
	f.Fuzz(func(t *testing.T, rule, message, address, file, reason string, waived bool, line int) {
		findings := []policy.Finding{
			{RuleID: rule, Severity: policy.SeverityError, Title: message, Address: address, Message: message,
				Citation: reason, Remediation: message, Field: rule, File: file, Line: line,
				Waived: waived, WaiverReason: reason, WaiverApprovedBy: address},
			{RuleID: "CPRA-SEC-002", Severity: policy.SeverityWarning, Title: rule, Address: "provider.tokenguard",
				Message: reason, File: file},
		}
		r := Report{
			Findings:  findings,
			Rules:     []policy.Rule{{ID: rule, Title: message, Description: reason, Severity: policy.SeverityError, Citation: address, Remediation: message}},
			Resources: []string{address, file},
			FailOn:    policy.SeverityError,
		}
		out := map[string]string{}
		for _, name := range Names() {
			format, err := Get(name)
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			if err := format.Write(&b, r); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			out[name] = b.String()
		}

		var doc struct {
			Findings []struct {
				RuleID  string `json:"rule_id"`
				Message string `json:"message"`
				Address string `json:"address"`
			} `json:"findings"`
		}
		if err := json.Unmarshal([]byte(out["json"]), &doc); err != nil {
			t.Fatalf("json does not parse: %v\n%s", err, out["json"])
		}
		if len(doc.Findings) != len(findings) {
			t.Fatalf("json has %d findings, want %d", len(doc.Findings), len(findings))
		}
		if utf8.ValidString(message) && utf8.ValidString(rule) && utf8.ValidString(address) &&
			(doc.Findings[0].Message != message || doc.Findings[0].RuleID != rule || doc.Findings[0].Address != address) {
			t.Fatalf("json changed valid UTF-8 strings: %+v", doc.Findings[0])
		}

		var sarifDoc struct {
			Runs []struct {
				Results []json.RawMessage `json:"results"`
			} `json:"runs"`
		}
		if err := json.Unmarshal([]byte(out["sarif"]), &sarifDoc); err != nil {
			t.Fatalf("sarif does not parse: %v", err)
		}
		if len(sarifDoc.Runs) != 1 || len(sarifDoc.Runs[0].Results) != len(findings) {
			t.Fatalf("sarif has %d runs, want 1 with %d results", len(sarifDoc.Runs), len(findings))
		}

		dec := xml.NewDecoder(strings.NewReader(out["junit"]))
		for {
			_, err := dec.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("junit is not well-formed XML: %v\n%q", err, out["junit"])
			}
		}

		gh := strings.Split(strings.TrimSuffix(out["github"], "\n"), "\n")
		if len(gh) != len(findings)+1 {
			t.Fatalf("github output has %d lines, want one per finding plus the summary (%d): %q", len(gh), len(findings)+1, out["github"])
		}
		for _, l := range gh {
			if !strings.HasPrefix(l, "::error ") && !strings.HasPrefix(l, "::warning ") && !strings.HasPrefix(l, "::notice ") {
				t.Fatalf("github line is not a workflow command: %q", l)
			}
			if strings.Contains(l, "\r") {
				t.Fatalf("github line holds a raw carriage return: %q", l)
			}
		}

		rows := 0
		for _, l := range strings.Split(out["markdown"], "\n") {
			if strings.HasPrefix(l, "| ") {
				rows++
			}
		}
		if rows != len(findings)+1 { // the header row, then one per finding
			t.Fatalf("markdown table has %d rows, want %d:\n%s", rows, len(findings)+1, out["markdown"])
		}
	})
}

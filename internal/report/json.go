package report

import (
	"encoding/json"
	"io"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
)

// jsonFormat is a machine-readable document: {"findings": [...], "summary": {...}}.
type jsonFormat struct{}

func (jsonFormat) Name() string { return "json" }

type jsonDocument struct {
	// The findings have one wire shape, shared with the service gate's 422 answers.
	Findings []client.Finding `json:"findings"`
	Summary  Summary          `json:"summary"`
}

func (jsonFormat) Write(w io.Writer, r Report) error {
	doc := jsonDocument{Findings: []client.Finding{}, Summary: r.Summary()}
	for _, f := range r.Findings {
		jf := client.Finding{
			RuleID: f.RuleID, Severity: f.Severity, Title: f.Title, Address: f.Address,
			Message: f.Message, Citation: f.Citation, Basis: f.Basis, Remediation: f.Remediation, Field: f.Field,
			Waived: f.Waived, WaiverReason: f.WaiverReason, WaiverApprovedBy: f.WaiverApprovedBy,
			Blocking: r.Blocking(f),
		}
		if f.File != "" {
			file := f.File
			jf.File = &file
		}
		if f.Line > 0 {
			line := f.Line
			jf.Line = &line
		}
		doc.Findings = append(doc.Findings, jf)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

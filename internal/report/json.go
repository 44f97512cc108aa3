package report

import (
	"encoding/json"
	"io"
)

// jsonFormat is a machine-readable document: {"findings": [...], "summary": {...}}.
type jsonFormat struct{}

func (jsonFormat) Name() string { return "json" }

type jsonFinding struct {
	RuleID           string  `json:"rule_id"`
	Severity         string  `json:"severity"`
	Title            string  `json:"title"`
	Address          string  `json:"address"`
	Message          string  `json:"message"`
	Citation         string  `json:"citation"`
	Remediation      string  `json:"remediation"`
	Field            string  `json:"field"`
	File             *string `json:"file"`
	Line             *int    `json:"line"`
	Waived           bool    `json:"waived"`
	WaiverReason     string  `json:"waiver_reason,omitempty"`
	WaiverApprovedBy string  `json:"waiver_approved_by,omitempty"`
	Blocking         bool    `json:"blocking"`
}

type jsonDocument struct {
	Findings []jsonFinding `json:"findings"`
	Summary  Summary       `json:"summary"`
}

func (jsonFormat) Write(w io.Writer, r Report) error {
	doc := jsonDocument{Findings: []jsonFinding{}, Summary: r.Summary()}
	for _, f := range r.Findings {
		jf := jsonFinding{
			RuleID: f.RuleID, Severity: f.Severity, Title: f.Title, Address: f.Address,
			Message: f.Message, Citation: f.Citation, Remediation: f.Remediation, Field: f.Field,
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

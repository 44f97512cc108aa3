package report

import (
	"encoding/json"
	"io"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// jsonFormat is a machine-readable document: {"findings": [...], "summary": {...}}.
type jsonFormat struct{}

func (jsonFormat) Name() string { return "json" }

type jsonDocument struct {
	// The findings have one wire shape, shared with the service gate's 422 answers.
	Findings []wire.Finding `json:"findings"`
	Summary  Summary        `json:"summary"`
}

func (jsonFormat) Write(w io.Writer, r Report) error {
	doc := jsonDocument{Findings: []wire.Finding{}, Summary: r.Summary()}
	for _, f := range r.Findings {
		doc.Findings = append(doc.Findings, f.Wire(r.Blocking(f)))
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

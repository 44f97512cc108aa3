package report

import (
	"encoding/json"
	"io"
	"strings"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/policy"
)

// sarif is SARIF 2.1.0 for code scanning: one reportingDescriptor per policy rule id.
type sarif struct{}

func (sarif) Name() string { return "sarif" }

const (
	sarifVersion = "2.1.0"
	sarifSchema  = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
	toolURI      = "https://github.com/tokenguard/terraform-provider-tokenguard"
)

type sarifLog struct {
	Version string     `json:"version"`
	Schema  string     `json:"$schema"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown,omitempty"`
}

type sarifRule struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name"`
	ShortDescription     sarifText      `json:"shortDescription"`
	FullDescription      sarifText      `json:"fullDescription"`
	Help                 sarifText      `json:"help"`
	DefaultConfiguration sarifLevel     `json:"defaultConfiguration"`
	Properties           map[string]any `json:"properties"`
}

type sarifLevel struct {
	Level string `json:"level"`
}

type sarifResult struct {
	RuleID       string             `json:"ruleId"`
	RuleIndex    int                `json:"ruleIndex"`
	Level        string             `json:"level"`
	Message      sarifText          `json:"message"`
	Locations    []sarifLocation    `json:"locations"`
	Suppressions []sarifSuppression `json:"suppressions,omitempty"`
	Properties   map[string]any     `json:"properties"`
}

type sarifLocation struct {
	PhysicalLocation *sarifPhysical `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation struct {
		URI string `json:"uri"`
	} `json:"artifactLocation"`
	Region *struct {
		StartLine int `json:"startLine"`
	} `json:"region,omitempty"`
}

type sarifLogical struct {
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
}

type sarifSuppression struct {
	Kind          string `json:"kind"`
	Justification string `json:"justification"`
}

// waiverRules describe the findings that waivers produce, which no policy module declares.
var waiverRules = []policy.Rule{
	{ID: policy.RuleWaiverExpired, Title: "Waiver has expired", Severity: policy.SeverityError,
		Description: "A waiver past its expiry date waives nothing and is itself a blocking finding.",
		Remediation: "Fix the findings it covered, or renew the waiver with a new review and a new expiry date."},
	{ID: policy.RuleWaiverUnused, Title: "Waiver matches no finding", Severity: policy.SeverityWarning,
		Description: "A waiver that matches no finding is stale or mistyped.",
		Remediation: "Remove the waiver, or correct its rule id or address pattern."},
}

func (sarif) Write(w io.Writer, r Report) error {
	rules := append([]policy.Rule{}, r.Rules...)
	index := map[string]int{}
	for i, rule := range rules {
		index[rule.ID] = i
	}
	for _, f := range r.Findings {
		if _, ok := index[f.RuleID]; ok {
			continue
		}
		rule := policy.Rule{ID: f.RuleID, Title: f.Title, Severity: f.Severity, Citation: f.Citation, Remediation: f.Remediation}
		for _, wr := range waiverRules {
			if wr.ID == f.RuleID {
				rule = wr
			}
		}
		index[f.RuleID] = len(rules)
		rules = append(rules, rule)
	}
	run := sarifRun{
		Tool:    sarifTool{Driver: sarifDriver{Name: "tokenguard", InformationURI: toolURI, Rules: []sarifRule{}}},
		Results: []sarifResult{},
	}
	for _, rule := range rules {
		desc := rule.Description
		if desc == "" {
			desc = rule.Title
		}
		help := rule.Remediation
		if rule.Citation != "" {
			help += " (" + rule.Citation + ")"
		}
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRule{
			ID: rule.ID, Name: ruleName(rule.Title),
			ShortDescription:     sarifText{Text: rule.Title},
			FullDescription:      sarifText{Text: oneLineText(desc)},
			Help:                 sarifText{Text: strings.TrimSpace(help)},
			DefaultConfiguration: sarifLevel{Level: level(rule.Severity)},
			Properties: map[string]any{
				"severity": rule.Severity, "citation": rule.Citation, "scope": rule.Scope,
				"gates": nonNilStrings(rule.Gates), "tags": []string{"cpra", "privacy", "security"},
			},
		})
	}
	for _, f := range r.Findings {
		res := sarifResult{
			RuleID: f.RuleID, RuleIndex: index[f.RuleID], Level: level(f.Severity),
			Message:    sarifText{Text: f.Message},
			Properties: map[string]any{"address": f.Address, "field": f.Field, "blocking": r.Blocking(f)},
		}
		if f.Basis != "" {
			res.Properties["threshold_basis"] = f.Basis
		}
		loc := sarifLocation{}
		if f.Address != "" {
			loc.LogicalLocations = []sarifLogical{{FullyQualifiedName: f.Address, Kind: "resource"}}
		}
		if f.File != "" {
			p := &sarifPhysical{}
			p.ArtifactLocation.URI = f.File
			if f.Line > 0 {
				p.Region = &struct {
					StartLine int `json:"startLine"`
				}{StartLine: f.Line}
			}
			loc.PhysicalLocation = p
		}
		if loc.PhysicalLocation != nil || loc.LogicalLocations != nil {
			res.Locations = []sarifLocation{loc}
		} else {
			res.Locations = []sarifLocation{}
		}
		if f.Waived {
			res.Suppressions = []sarifSuppression{{Kind: "external", Justification: f.WaiverReason + " (approved by " + f.WaiverApprovedBy + ")"}}
		}
		run.Results = append(run.Results, res)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{Version: sarifVersion, Schema: sarifSchema, Runs: []sarifRun{run}})
}

func level(severity string) string {
	if severity == policy.SeverityError {
		return "error"
	}
	return "warning"
}

// ruleName turns a title into the PascalCase name SARIF viewers show.
func ruleName(title string) string {
	var b strings.Builder
	for _, w := range strings.FieldsFunc(title, func(r rune) bool {
		return (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9')
	}) {
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return b.String()
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Command mappingguide renders the CPRA mapping guide's template
// (templates/guides/cpra-mapping.md.tmpl, which tfplugindocs renders into
// docs/guides/) from the shipped bundle's METADATA and policies/provisions.yaml,
// so the guide never keeps a hand-written copy of a citation. Run by
// `go generate` from main.go: go run ./internal/policy/mappingguide OUT.
package main

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"os"
	"strings"
	"text/template"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/policy"
	"github.com/tokenguard/terraform-provider-tokenguard/policies"
)

//go:embed guide.md.tmpl
var skeleton string

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: mappingguide OUT.md.tmpl")
		os.Exit(2)
	}
	out, err := render(context.Background())
	if err == nil {
		err = os.WriteFile(os.Args[1], out, 0o644) //nolint:gosec // G306: a committed documentation source
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mappingguide:", err)
		os.Exit(1)
	}
}

// render returns the guide: the skeleton with its rule tables and applicability note filled
// from the bundle.
func render(ctx context.Context) ([]byte, error) {
	e, err := policy.NewEngine(ctx, policy.Options{Bundle: policies.FS})
	if err != nil {
		return nil, err
	}
	table, err := policy.ProvisionTable()
	if err != nil {
		return nil, err
	}
	byID := map[string]policy.Rule{}
	for _, r := range e.Rules() {
		byID[r.ID] = r
	}
	used := map[string]bool{}
	funcs := template.FuncMap{
		"rules": func(ids ...string) (string, error) {
			var b strings.Builder
			b.WriteString("| rule | what the law says | what tokenguard adds | severity | gates |\n|---|---|---|---|---|\n")
			for _, id := range ids {
				r, ok := byID[id]
				if !ok {
					return "", fmt.Errorf("the guide names %s, which the bundle does not have", id)
				}
				used[id] = true
				fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", r.ID, lawCell(r), addsCell(r), r.Severity, strings.Join(r.Gates, ", "))
			}
			return strings.TrimSuffix(b.String(), "\n"), nil
		},
		"applicability": func() string {
			var cites []string
			note := ""
			for _, p := range table {
				if p.Applies != "" {
					cites = append(cites, p.Cite)
					note = p.Applies
				}
			}
			return fmt.Sprintf("The rules citing %s cite the cybersecurity-audit regulations. %s", policy.FlatCitation(provisionsOf(cites), ", "), note)
		},
	}
	t, err := template.New("guide").Funcs(funcs).Parse(skeleton)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, nil); err != nil {
		return nil, err
	}
	for id := range byID {
		if !used[id] {
			return nil, fmt.Errorf("rule %s has no row in the guide: add it to internal/policy/mappingguide/guide.md.tmpl", id)
		}
	}
	return b.Bytes(), nil
}

func provisionsOf(cites []string) []policy.Provision {
	ps := make([]policy.Provision, len(cites))
	for i, c := range cites {
		ps[i] = policy.Provision{Cite: c}
	}
	return ps
}

// lawCell lists the provisions with their paraphrases, or says the rule is hygiene.
func lawCell(r policy.Rule) string {
	if len(r.Provisions) == 0 {
		return "none: " + r.Basis
	}
	parts := make([]string, len(r.Provisions))
	for i, p := range r.Provisions {
		parts[i] = "**" + p.Cite + "**: " + p.Paraphrase
	}
	return strings.Join(parts, "<br>")
}

// addsCell says what tokenguard adds and the basis of each threshold.
func addsCell(r policy.Rule) string {
	s := r.Adds
	for _, t := range r.Thresholds {
		s += "<br>Threshold `" + t.Name + "`: " + t.Basis
		if t.Basis == policy.BasisDefault {
			s += ", configurable"
		}
	}
	return s
}

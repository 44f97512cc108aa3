package policies

import (
	"io/fs"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// mappingGuide is the CPRA mapping guide rendered by tfplugindocs from
// templates/guides/cpra-mapping.md.tmpl, which go generate renders from METADATA.
const mappingGuide = "../docs/guides/cpra-mapping.md"

// ruleMetadata is what the mapping guide must state about one rule.
type ruleMetadata struct {
	id, severity, citation, file string
	gates                        []string
}

// bundleRules reads the rule id, severity, citation and gates of every rule module in FS
// from its package METADATA.
func bundleRules(t *testing.T) []ruleMetadata {
	t.Helper()
	files, err := fs.Glob(FS, "*.rego")
	if err != nil {
		t.Fatal(err)
	}
	var rules []ruleMetadata
	for _, file := range files {
		if strings.HasSuffix(file, "_test.rego") {
			continue
		}
		src, err := fs.ReadFile(FS, file)
		if err != nil {
			t.Fatal(err)
		}
		mod, err := ast.ParseModuleWithOpts(file, string(src), ast.ParserOptions{ProcessAnnotation: true, RegoVersion: ast.RegoV1})
		if err != nil {
			t.Fatalf("parsing %s: %v", file, err)
		}
		for _, a := range mod.Annotations {
			id, _ := a.Custom["id"].(string)
			if id == "" {
				continue
			}
			r := ruleMetadata{id: id, file: file}
			r.severity, _ = a.Custom["severity"].(string)
			provs, _ := a.Custom["provisions"].([]any)
			var cites []string
			for _, p := range provs {
				m, _ := p.(map[string]any)
				c, _ := m["cite"].(string)
				cites = append(cites, c)
			}
			r.citation = strings.Join(cites, "; ")
			gates, _ := a.Custom["gates"].([]any)
			for _, g := range gates {
				s, _ := g.(string)
				r.gates = append(r.gates, s)
			}
			rules = append(rules, r)
		}
	}
	return rules
}

// sectionPattern matches a statute or regulation section with its first subdivisions, e.g.
// "1798.100(a)(1)", "1798.140(ae)" or "7002(d)(1)".
var sectionPattern = regexp.MustCompile(`\b\d{4}(?:\.\d+)?(?:\([a-z0-9]+\))*`)

func TestCPRAMappingGuide_statesEveryRule(t *testing.T) {
	guide, err := os.ReadFile(mappingGuide)
	if err != nil {
		t.Fatalf("reading the CPRA mapping guide: %v (render it with `make generate`)", err)
	}
	rows := map[string]string{} // rule id -> its table row
	for line := range strings.SplitSeq(string(guide), "\n") {
		if id, ok := strings.CutPrefix(line, "| "); ok {
			id, _, _ = strings.Cut(id, " ")
			rows[id] = line
		}
	}
	rules := bundleRules(t)
	if len(rules) < len(catalogue) {
		t.Fatalf("found %d rule ids in the bundle, want at least the %d of the catalogue", len(rules), len(catalogue))
	}
	for _, r := range rules {
		row, ok := rows[r.id]
		if !ok {
			t.Errorf("%s (%s) has no row in %s: add it to internal/policy/mappingguide/guide.md.tmpl and run `make generate`", r.id, r.file, mappingGuide)
			continue
		}
		cells := strings.Split(strings.Trim(row, "| "), " | ")
		if len(cells) != 5 {
			t.Errorf("%s: row %q has %d cells, want rule | what the law says | what tokenguard adds | severity | gates", r.id, row, len(cells))
			continue
		}
		for _, section := range sectionPattern.FindAllString(r.citation, -1) {
			if !strings.Contains(cells[1], section) {
				t.Errorf("%s: legal basis %q does not cite %s (METADATA citation %q)", r.id, cells[1], section, r.citation)
			}
		}
		if cells[3] != r.severity {
			t.Errorf("%s: severity %q in the guide, %q in METADATA", r.id, cells[3], r.severity)
		}
		if want := strings.Join(r.gates, ", "); cells[4] != want {
			t.Errorf("%s: gates %q in the guide, %q in METADATA", r.id, cells[4], want)
		}
	}
}

package policy

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tokenguard/terraform-provider-tokenguard/policies"
)

// shippedEngine compiles the shipped bundle.
func shippedEngine(t *testing.T) *Engine {
	t.Helper()
	e, err := NewEngine(context.Background(), Options{Bundle: policies.FS, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// citePattern is an exact pinpoint: a Civil Code section or a CCR section, with its
// subdivisions.
var citePattern = regexp.MustCompile(`^(Cal\. Civ\. Code 1798\.\d+(\.\d+)?|11 CCR 7\d{3})(\([a-zA-Z0-9]+\))*$`)

// TestCitations_everyProvisionIsInTheTable: every provision a rule cites is an exact
// pinpoint listed in policies/provisions.yaml with a source, and the rule paraphrases it as
// the table does; every rule cites at least one provision or says it is configuration
// hygiene; the flat citation is derived from the provisions.
func TestCitations_everyProvisionIsInTheTable(t *testing.T) {
	table, err := ProvisionTable()
	if err != nil {
		t.Fatal(err)
	}
	byCite := map[string]ProvisionEntry{}
	for _, p := range table {
		if !citePattern.MatchString(p.Cite) {
			t.Errorf("table: %q is not an exact pinpoint", p.Cite)
		}
		if !strings.HasPrefix(p.Source, "statute: ") && !strings.HasPrefix(p.Source, "regulation: ") || p.Paraphrase == "" {
			t.Errorf("table: %s needs a source (statute: or regulation:) and a paraphrase", p.Cite)
		}
		if _, dup := byCite[p.Cite]; dup {
			t.Errorf("table: %s is listed twice", p.Cite)
		}
		byCite[p.Cite] = p
	}
	rules := shippedEngine(t).Rules()
	if len(rules) < 19 {
		t.Fatalf("%d rules in the shipped bundle, want at least 19", len(rules))
	}
	cited := 0
	for _, r := range rules {
		if len(r.Provisions) == 0 && r.Basis != BasisHygiene {
			t.Errorf("%s cites no provision and is not marked configuration hygiene", r.ID)
		}
		for _, p := range r.Provisions {
			cited++
			e, ok := byCite[p.Cite]
			switch {
			case !ok:
				t.Errorf("%s cites %q, which is not in policies/provisions.yaml", r.ID, p.Cite)
			case e.Paraphrase != p.Paraphrase:
				t.Errorf("%s paraphrases %s as %q, the table as %q", r.ID, p.Cite, p.Paraphrase, e.Paraphrase)
			}
		}
		if len(r.Provisions) > 0 && r.Citation != FlatCitation(r.Provisions, "; ") {
			t.Errorf("%s: citation %q is not derived from its provisions", r.ID, r.Citation)
		}
		if r.Adds == "" {
			t.Errorf("%s: METADATA custom.adds (what tokenguard adds) is missing", r.ID)
		}
	}
	t.Logf("%d rules, %d citations, %d provisions in the table", len(rules), cited, len(table))
}

// TestCitations_noRuleCitesTheRulemakingDirective: 1798.185 directs the agency to write
// regulations and puts no duty on a business, so no rule, and no provision of the table,
// cites it.
func TestCitations_noRuleCitesTheRulemakingDirective(t *testing.T) {
	table, err := ProvisionTable()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range table {
		if strings.Contains(p.Cite, "1798.185") {
			t.Errorf("table lists %s", p.Cite)
		}
	}
	for _, r := range shippedEngine(t).Rules() {
		if strings.Contains(r.Citation, "1798.185") {
			t.Errorf("%s cites %s", r.ID, r.Citation)
		}
	}
}

// thresholdUse finds where a rule module reads a threshold: lib.threshold("key"), or the
// cap helpers that read two.
var thresholdUse = regexp.MustCompile(`lib\.(threshold\("([a-z_]+)"\)|ttl_cap\(|rotation_cap\()`)

// TestThresholds_everyNumberHasItsBasis: every threshold a rule module reads is declared in
// its METADATA thresholds with a basis; every finding of the fixture plans from a rule with
// thresholds carries the basis; and no finding message names a cap, threshold or minimum
// without saying it is a tokenguard default.
func TestThresholds_everyNumberHasItsBasis(t *testing.T) {
	e := shippedEngine(t)
	declared := map[string][]string{} // rule id -> threshold keys
	byFile := map[string]Rule{}
	for _, r := range e.Rules() {
		byFile[filepath.Base(r.File)] = r
		for _, th := range r.Thresholds {
			declared[r.ID] = append(declared[r.ID], strings.Split(th.Name, ", ")...)
		}
	}
	files, err := fs.Glob(policies.FS, "*.rego")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		r, ok := byFile[file]
		if !ok {
			continue // tests and the library
		}
		src, _ := fs.ReadFile(policies.FS, file)
		for _, m := range thresholdUse.FindAllStringSubmatch(string(src), -1) {
			var keys []string
			switch {
			case m[2] != "":
				keys = []string{m[2]}
			case m[1] == "ttl_cap(":
				keys = []string{"ttl_max_days", "ttl_max_days_sensitive"}
			default:
				keys = []string{"rotation_interval_max_days", "rotation_interval_max_days_sensitive"}
			}
			for _, k := range keys {
				if !slices.Contains(declared[r.ID], k) {
					t.Errorf("%s (%s) reads threshold %s but its METADATA thresholds do not declare it with a basis", r.ID, file, k)
				}
			}
		}
	}

	bound := regexp.MustCompile(`\b(cap|threshold|minimum|maximum|limit) of (more than )?\d`)
	seen := map[string]bool{}
	for _, plan := range []string{"tokenguard.json", "types_create.json", "types_noop.json"} {
		src, err := os.ReadFile(filepath.Join("testdata", "plans", plan)) //nolint:gosec // G304: a fixture of testdata/
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.EvaluatePlan(context.Background(), bytes.NewReader(src))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range res.Findings {
			hasThresholds := len(declared[f.RuleID]) > 0
			if hasThresholds && f.Basis == "" {
				t.Errorf("%s on %s: a rule with thresholds gave a finding without its basis", f.RuleID, f.Address)
			}
			for _, loc := range bound.FindAllStringIndex(f.Message, -1) {
				if !strings.HasSuffix(f.Message[:loc[0]], "tokenguard default ") {
					t.Errorf("%s: message %q states a bound without its basis", f.RuleID, f.Message)
				}
			}
			if hasThresholds && bound.MatchString(f.Message) {
				seen[f.RuleID] = true
			}
		}
	}
	// The fixtures must exercise the rules whose messages name a bound, or this test proves little.
	t.Logf("rules whose fixture findings name a bound: %v", seen)
	for _, id := range []string{"CPRA-RET-002", "CPRA-XPR-002"} {
		if !seen[id] {
			t.Errorf("no fixture finding of %s named its bound: extend the fixtures", id)
		}
	}
}

package policy

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// planTime is the timestamp of every fixture plan.
var planTime = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return planTime }

// testEngine compiles the fixture bundle of testdata/bundle.
func testEngine(t *testing.T, o Options) *Engine {
	t.Helper()
	if o.Bundle == nil {
		o.Bundle = os.DirFS("testdata/bundle")
	}
	if o.Now == nil {
		o.Now = fixedNow
	}
	e, err := NewEngine(context.Background(), o)
	if err != nil {
		t.Fatalf("NewEngine: %v", err)
	}
	return e
}

// idsByAddress renders findings as "address: RULE, RULE" lines for exact comparison.
func idsByAddress(fs []Finding) []string {
	m := map[string][]string{}
	for _, f := range fs {
		m[f.Address] = append(m[f.Address], f.RuleID)
	}
	var out []string
	for a, ids := range m {
		sort.Strings(ids)
		out = append(out, a+": "+strings.Join(ids, ", "))
	}
	sort.Strings(out)
	return out
}

// planJSON builds a terraform show -json document with the given resource changes.
func planJSON(t testing.TB, changes ...map[string]any) []byte {
	t.Helper()
	p := map[string]any{
		"format_version":    "1.2",
		"terraform_version": "1.14.0",
		"planned_values":    map[string]any{"root_module": map[string]any{}},
		"resource_changes":  changes,
		"configuration":     map[string]any{"root_module": map[string]any{}},
		"timestamp":         planTime.Format(time.RFC3339),
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func change(typ, name string, actions []string, before, after, afterUnknown map[string]any) map[string]any {
	as := map[string]any{}
	for _, secret := range secretAttributes[typ] {
		if after != nil {
			if _, ok := after[secret]; ok {
				as[secret] = true
			}
		}
	}
	var bs any = false
	if before != nil {
		bs = as
	}
	if afterUnknown == nil {
		afterUnknown = map[string]any{}
	}
	return map[string]any{
		"address": typ + "." + name, "mode": "managed", "type": typ, "name": name,
		"provider_name": "registry.terraform.io/example/" + strings.SplitN(typ, "_", 2)[0],
		"change": map[string]any{
			"actions": actions, "before": before, "after": after, "after_unknown": afterUnknown,
			"before_sensitive": bs, "after_sensitive": as,
		},
	}
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "plans", name)) //nolint:gosec // G304: a fixture under testdata/
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// value is the Go form of the fields' term, for comparisons with golden JSON.
func (f Fields) value() map[string]any {
	v, err := ast.JSON(f.term().Value)
	if err != nil {
		panic(err) // the fields' term holds only strings, numbers, booleans and null
	}
	return v.(map[string]any)
}

package policies

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"
)

// catalogue lists the rule ids the bundle must ship (shared/DESIGN.md).
var catalogue = []string{
	"CPRA-MIN-001", "CPRA-MIN-002", "CPRA-MIN-003", "CPRA-MIN-004", "CPRA-MIN-005", "CPRA-MIN-006",
	"CPRA-RET-001", "CPRA-RET-002", "CPRA-RET-003", "CPRA-RET-004",
	"CPRA-ROT-001", "CPRA-ROT-002",
	"CPRA-SPI-001",
	"CPRA-SEC-001", "CPRA-SEC-002", "CPRA-SEC-003",
	"CPRA-DEL-001",
	"CPRA-XPR-001", "CPRA-XPR-002", "CPRA-XPR-003", "CPRA-XPR-004",
}

const libPackage = "data.tokenguard.lib"

// bundleModule is one parsed .rego file of FS.
type bundleModule struct {
	file   string
	test   bool
	module *ast.Module
}

func loadModules(t *testing.T) []bundleModule {
	t.Helper()
	files, err := fs.Glob(FS, "*.rego")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no .rego files embedded in FS")
	}
	var mods []bundleModule
	for _, f := range files {
		src, err := fs.ReadFile(FS, f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := ast.ParseModuleWithOpts(f, string(src), ast.ParserOptions{ProcessAnnotation: true, RegoVersion: ast.RegoV1})
		if err != nil {
			t.Fatalf("parsing %s: %v", f, err)
		}
		mods = append(mods, bundleModule{file: f, test: strings.HasSuffix(f, "_test.rego"), module: m})
	}
	return mods
}

func loadData(t *testing.T) map[string]any {
	t.Helper()
	src, err := fs.ReadFile(FS, "data.json")
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("data.json: %v", err)
	}
	return doc
}

// TestRegoTests runs every bundled test_ rule through OPA's tester, with the
// bundled data.json as data, as `opa test policies/` would.
func TestRegoTests(t *testing.T) {
	ctx := context.Background()
	mods := loadModules(t)
	modules := map[string]*ast.Module{}
	want := 0
	for _, m := range mods {
		modules[m.file] = m.module
		for _, r := range m.module.Rules {
			if strings.HasPrefix(r.Head.Name.String(), "test_") {
				want++
			}
		}
	}
	if want == 0 {
		t.Fatal("no test_ rules found in the bundle")
	}

	store := inmem.NewFromObject(loadData(t))
	txn := storage.NewTransactionOrDie(ctx, store)
	defer store.Abort(ctx, txn)

	ch, err := tester.NewRunner().
		SetStore(store).
		SetModules(modules).
		SetDefaultRegoVersion(ast.RegoV1).
		RunTests(ctx, txn)
	if err != nil {
		t.Fatalf("compiling the bundle: %v", err)
	}
	ran := 0
	for r := range ch {
		ran++
		switch {
		case r.Error != nil:
			t.Errorf("%s.%s (%s): error: %v", r.Package, r.Name, r.Location, r.Error)
		case r.Skip:
			t.Errorf("%s.%s (%s): skipped; the bundle must not skip tests", r.Package, r.Name, r.Location)
		case r.Fail:
			t.Errorf("%s.%s (%s): FAIL", r.Package, r.Name, r.Location)
		}
	}
	if ran != want {
		t.Errorf("ran %d Rego tests, want %d (the number of test_ rules)", ran, want)
	}
	t.Logf("ran %d Rego tests", ran)
}

var idPattern = regexp.MustCompile(`^CPRA-[A-Z]{3}-\d{3}$`)

// TestMetadata checks the package-scoped METADATA every rule package must
// carry, as the policy engine reads it.
func TestMetadata(t *testing.T) {
	seen := map[string]string{}
	for _, m := range loadModules(t) {
		if m.test {
			continue
		}
		pkg := m.module.Package.Path.String()
		hasDeny := slices.ContainsFunc(m.module.Rules, func(r *ast.Rule) bool { return r.Head.Name.String() == "deny" })
		var ann *ast.Annotations
		for _, a := range m.module.Annotations {
			if a.Scope == "package" {
				ann = a
			}
		}
		if pkg == libPackage {
			if hasDeny || (ann != nil && ann.Custom["id"] != nil) {
				t.Errorf("%s: the library package must have no deny rule and no rule id", m.file)
			}
			continue
		}

		wantPkg := "data.tokenguard.cpra." + strings.TrimSuffix(m.file, ".rego")
		if pkg != wantPkg {
			t.Errorf("%s: package %s, want %s (one rule per package, named after the file)", m.file, pkg, wantPkg)
		}
		if !hasDeny {
			t.Errorf("%s: no deny rule", m.file)
		}
		if ann == nil {
			t.Errorf("%s: no package-scoped METADATA block", m.file)
			continue
		}
		if strings.TrimSpace(ann.Title) == "" || strings.TrimSpace(ann.Description) == "" {
			t.Errorf("%s: METADATA needs a title and a description", m.file)
		}
		str := func(key string) string {
			s, _ := ann.Custom[key].(string)
			if strings.TrimSpace(s) == "" {
				t.Errorf("%s: METADATA custom.%s is missing or not a string", m.file, key)
			}
			return s
		}
		list := func(key string, allowed ...string) {
			l, ok := ann.Custom[key].([]any)
			if !ok || len(l) == 0 {
				t.Errorf("%s: METADATA custom.%s must be a non-empty list", m.file, key)
				return
			}
			for _, v := range l {
				if s, _ := v.(string); !slices.Contains(allowed, s) {
					t.Errorf("%s: METADATA custom.%s has %v, want one of %v", m.file, key, v, allowed)
				}
			}
		}

		id := str("id")
		if !idPattern.MatchString(id) {
			t.Errorf("%s: id %q does not match %s", m.file, id, idPattern)
		}
		if other, dup := seen[id]; dup {
			t.Errorf("%s: id %s already used by %s", m.file, id, other)
		}
		seen[id] = m.file
		if s := str("severity"); s != "error" && s != "warning" {
			t.Errorf("%s: severity %q, want error or warning", m.file, s)
		}
		if provs, _ := ann.Custom["provisions"].([]any); len(provs) == 0 && ann.Custom["basis"] != "configuration hygiene" {
			t.Errorf("%s: METADATA custom.provisions must list the provisions the rule supports (or custom.basis: configuration hygiene)", m.file)
		}
		str("remediation")
		scope := str("scope")
		if scope != "token" && scope != "plan" {
			t.Errorf("%s: scope %q, want token or plan", m.file, scope)
		}
		list("applies_to", "tokenguard", "external")
		list("gates", "provider", "check", "service")
		if scope == "plan" {
			gates, _ := ann.Custom["gates"].([]any)
			if slices.Contains(gates, any("provider")) || slices.Contains(gates, any("service")) {
				t.Errorf("%s: a plan-scope rule can only run in the check gate", m.file)
			}
		}
	}

	for _, id := range catalogue {
		if _, ok := seen[id]; !ok {
			t.Errorf("catalogue rule %s has no package", id)
		}
	}
}

// TestDataDefaults checks data.json: its thresholds equal the fallbacks of
// tokenguard.lib, and its vocabulary is the CPRA one of shared/DESIGN.md.
func TestDataDefaults(t *testing.T) {
	ctx := context.Background()
	doc := loadData(t)
	tg, _ := doc["tokenguard"].(map[string]any)
	if tg == nil {
		t.Fatal(`data.json has no "tokenguard" object`)
	}

	src, err := fs.ReadFile(FS, "lib.rego")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rego.New(
		rego.Query("data.tokenguard.lib.default_thresholds"),
		rego.Module("lib.rego", string(src)),
		rego.SetRegoVersion(ast.RegoV1),
	).Eval(ctx)
	if err != nil || len(rs) != 1 {
		t.Fatalf("evaluating default_thresholds: %v (%d results)", err, len(rs))
	}
	got := map[string]string{}
	for k, v := range rs[0].Expressions[0].Value.(map[string]any) {
		got[k] = jsonText(t, v)
	}
	want := map[string]string{}
	thresholds, _ := tg["thresholds"].(map[string]any)
	for k, v := range thresholds {
		want[k] = jsonText(t, v)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("lib.default_thresholds = %v, data.json thresholds = %v; keep them equal", got, want)
	}

	vocab, _ := tg["vocabulary"].(map[string]any)
	personal := strings.Fields("identifiers customer_records protected_classifications commercial internet_activity " +
		"geolocation sensory employment education inferences biometric_information")
	sensitive := strings.Fields("government_id account_credentials precise_geolocation racial_ethnic_origin " +
		"citizenship_immigration religious_philosophical_beliefs union_membership communications_content genetic neural " +
		"biometric_identification health sex_life_orientation")
	for kind, wantList := range map[string][]string{"personal": personal, "sensitive": sensitive} {
		var gotList []string
		l, _ := vocab[kind].([]any)
		for _, v := range l {
			s, _ := v.(string)
			gotList = append(gotList, s)
		}
		sort.Strings(gotList)
		sort.Strings(wantList)
		if !slices.Equal(gotList, wantList) {
			t.Errorf("vocabulary.%s = %v, want %v", kind, gotList, wantList)
		}
	}

	if g, _ := tg["generic_purposes"].([]any); len(g) == 0 {
		t.Error("generic_purposes is empty")
	}
	if e, ok := tg["erased_subjects"].([]any); !ok || len(e) != 0 {
		t.Errorf("erased_subjects = %v, want an empty list by default", tg["erased_subjects"])
	}
}

func jsonText(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

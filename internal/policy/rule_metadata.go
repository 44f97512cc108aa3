package policy

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Gates where the policy bundle runs (METADATA custom.gates).
const (
	GateProvider = "provider" // inside the provider, one resource at plan time
	GateCheck    = "check"    // tokenguard check, the whole plan in CI
	GateService  = "service"  // admission control in the token service
)

// Rule scopes (METADATA custom.scope).
const (
	ScopeToken = "token" // evaluated once per normalised token
	ScopePlan  = "plan"  // evaluated once per plan
)

// Severities (METADATA custom.severity).
const (
	SeverityError   = "error"
	SeverityWarning = "warning"
)

// Rule describes one policy rule: one Rego package with package-scoped METADATA.
type Rule struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description"`
	Severity    string `json:"severity"`
	// Citation is the flat citation, derived from Provisions ("Cal. Civ. Code 1798.100(e);
	// 1798.81.5(b)"), or custom.citation for a rule that declares no provisions.
	Citation string `json:"citation"`
	// Provisions are the provisions the rule supports (custom.provisions), each with its exact
	// pinpoint; empty for a configuration-hygiene rule.
	Provisions []Provision `json:"provisions,omitempty"`
	// Thresholds are the numbers the rule compares against, each with its basis.
	Thresholds []Threshold `json:"thresholds,omitempty"`
	// Basis is "configuration hygiene" for a rule that supports no provision, else "".
	Basis string `json:"basis,omitempty"`
	// Adds says what tokenguard adds beyond what the provisions say (custom.adds).
	Adds string `json:"adds,omitempty"`
	// ThresholdBasis is the sentence findings carry: which numbers are tokenguard's and which
	// provisions they support (see ThresholdBasis).
	ThresholdBasis string   `json:"threshold_basis,omitempty"`
	Remediation    string   `json:"remediation"`
	Scope          string   `json:"scope"`
	AppliesTo      []string `json:"applies_to"`
	Gates          []string `json:"gates"`
	// Package is the Rego package path, e.g. "data.tokenguard.cpra.min_purpose".
	Package string `json:"package"`
	// File is the module that declares the METADATA.
	File string `json:"file"`
	// Reads are the token paths a token rule declares it reads (custom.reads); nil when it
	// does not declare them and sees the whole token.
	Reads []string `json:"reads,omitempty"`
	reads *readSet
}

func compile(modules map[string]*ast.Module) (*ast.Compiler, error) {
	c := ast.NewCompiler().WithDefaultRegoVersion(ast.RegoV1).WithEnablePrintStatements(false)
	c.Compile(modules)
	if c.Failed() {
		return nil, compileError(c.Errors)
	}
	return c, nil
}

func compileError(errs ast.Errors) error {
	if len(errs) == 0 {
		return errors.New("policies do not compile")
	}
	first := errs[0]
	msg := strings.ReplaceAll(first.Message, "\n", " ")
	loc := ""
	if first.Location != nil {
		loc = first.Location.File + ":" + strconv.Itoa(first.Location.Row) + ": "
	}
	more := ""
	if len(errs) > 1 {
		more = fmt.Sprintf(" (and %d more errors)", len(errs)-1)
	}
	return fmt.Errorf("policies do not compile: %s%s%s", loc, msg, more)
}

// rulesOf reads the package-scoped METADATA of every module that declares a deny rule.
func rulesOf(c *ast.Compiler, modules map[string]*ast.Module) ([]Rule, error) {
	annotations := c.GetAnnotationSet()
	byPkg := map[string]*Rule{}
	hasDeny := map[string]string{}
	files := make([]string, 0, len(modules))
	for f := range modules {
		files = append(files, f)
	}
	sort.Strings(files)
	for _, file := range files {
		m := c.Modules[file]
		if m == nil {
			continue
		}
		pkg := m.Package.Path.String()
		for _, r := range m.Rules {
			if r.Head.Name.String() == "deny" || len(r.Head.Ref()) > 0 && r.Head.Ref()[0].Value.Compare(ast.Var("deny")) == 0 {
				hasDeny[pkg] = file
			}
		}
		a := annotations.GetPackageScope(m.Package)
		if a == nil || a.Custom == nil || byPkg[pkg] != nil {
			continue
		}
		r, err := ruleFromAnnotations(a, pkg, file)
		if err != nil {
			return nil, err
		}
		if r != nil {
			byPkg[pkg] = r
		}
	}
	ids := map[string]string{}
	var rules []Rule
	pkgs := make([]string, 0, len(hasDeny))
	for pkg := range hasDeny {
		pkgs = append(pkgs, pkg)
	}
	sort.Strings(pkgs)
	for _, pkg := range pkgs {
		file := hasDeny[pkg]
		r := byPkg[pkg]
		if r == nil {
			return nil, fmt.Errorf("policy %s: package %s has deny rules but no METADATA custom.id: add a package-scoped # METADATA block with id, severity and scope", file, strings.TrimPrefix(pkg, "data."))
		}
		if other, dup := ids[r.ID]; dup {
			return nil, fmt.Errorf("policy %s: rule id %s is already used by %s: each package needs its own id", r.File, r.ID, other)
		}
		ids[r.ID] = r.File
		rules = append(rules, *r)
	}
	sort.Slice(rules, func(i, j int) bool { return rules[i].ID < rules[j].ID })
	return rules, nil
}

func ruleFromAnnotations(a *ast.Annotations, pkg, file string) (*Rule, error) {
	id, _ := a.Custom["id"].(string)
	if id == "" {
		return nil, nil
	}
	r := &Rule{
		ID: id, Title: a.Title, Description: strings.TrimSpace(a.Description), Package: pkg, File: file,
		Severity: customString(a, "severity"), Citation: customString(a, "citation"),
		Remediation: customString(a, "remediation"), Scope: customString(a, "scope"),
		AppliesTo: customList(a, "applies_to"), Gates: customList(a, "gates"),
	}
	if err := readCitation(a, r, file); err != nil {
		return nil, err
	}
	if r.Title == "" {
		r.Title = id
	}
	if r.Scope == "" {
		r.Scope = ScopeToken
	}
	if r.Severity == "" {
		r.Severity = SeverityError
	}
	switch {
	case r.Severity != SeverityError && r.Severity != SeverityWarning:
		return nil, fmt.Errorf("policy %s: rule %s has severity %q: use error or warning", file, id, r.Severity)
	case r.Scope != ScopeToken && r.Scope != ScopePlan:
		return nil, fmt.Errorf("policy %s: rule %s has scope %q: use token or plan", file, id, r.Scope)
	}
	for _, g := range r.Gates {
		if g != GateProvider && g != GateCheck && g != GateService {
			return nil, fmt.Errorf("policy %s: rule %s has gate %q: use provider, check or service", file, id, g)
		}
	}
	for _, m := range r.AppliesTo {
		if m != "tokenguard" && m != "external" {
			return nil, fmt.Errorf("policy %s: rule %s applies_to %q: use tokenguard or external", file, id, m)
		}
	}
	if _, declared := a.Custom["reads"]; declared {
		if r.Scope != ScopeToken {
			return nil, fmt.Errorf("policy %s: rule %s declares reads but has scope %s: reads applies to token rules only", file, id, r.Scope)
		}
		r.Reads = customList(a, "reads")
		if r.Reads == nil {
			r.Reads = []string{}
		}
		reads, err := parseReads(file, id, r.Reads)
		if err != nil {
			return nil, err
		}
		r.reads = reads
	}
	return r, nil
}

func customString(a *ast.Annotations, key string) string {
	switch v := a.Custom[key].(type) {
	case string:
		return strings.TrimSpace(v)
	case nil:
		return ""
	default:
		return strings.TrimSpace(fmt.Sprint(v))
	}
}

func customList(a *ast.Annotations, key string) []string {
	switch v := a.Custom[key].(type) {
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			out = append(out, fmt.Sprint(e))
		}
		return out
	case string:
		return []string{v}
	}
	return nil
}

package policy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/tokenguard/terraform-provider-tokenguard/policies"
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

// Options configure an Engine.
type Options struct {
	// Bundle holds the policy modules and their data.json; nil means the embedded policies.FS.
	Bundle fs.FS
	// ExtraPolicyDirs are directories of user policies with the same METADATA and their own ids.
	ExtraPolicyDirs []string
	// DataFiles are JSON or YAML documents merged, in order, over the bundle's data.json
	// (objects merge key by key, e.g. {"tokenguard": {"thresholds": {"ttl_max_days": 60}}}).
	DataFiles []string
	// Now is the clock used when a plan has no timestamp; nil means time.Now.
	Now func() time.Time
	// Gate selects the rules that declare this gate; "" means GateCheck.
	Gate string
}

// Rule describes one policy rule: one Rego package with package-scoped METADATA.
type Rule struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Severity    string   `json:"severity"`
	Citation    string   `json:"citation"`
	Remediation string   `json:"remediation"`
	Scope       string   `json:"scope"`
	AppliesTo   []string `json:"applies_to"`
	Gates       []string `json:"gates"`
	// Package is the Rego package path, e.g. "data.tokenguard.cpra.min_purpose".
	Package string `json:"package"`
	// File is the module that declares the METADATA.
	File string `json:"file"`
}

// Finding is one violation of a rule by one resource (or by the plan).
type Finding struct {
	RuleID      string `json:"rule_id"`
	Severity    string `json:"severity"`
	Title       string `json:"title"`
	Address     string `json:"address"`
	Message     string `json:"message"`
	Citation    string `json:"citation"`
	Remediation string `json:"remediation"`
	Field       string `json:"field"`
	// File and Line locate the resource in the configuration when a config directory is given.
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	// Waived findings are shown but never block.
	Waived           bool   `json:"waived"`
	WaiverReason     string `json:"waiver_reason,omitempty"`
	WaiverApprovedBy string `json:"waiver_approved_by,omitempty"`
}

// PlanFacts are the plan-wide facts of input.plan.
type PlanFacts struct {
	Timestamp         *time.Time
	Outputs           []Output
	ProviderEndpoints []ProviderEndpoint
}

func (p PlanFacts) value() map[string]any {
	outputs := make([]any, 0, len(p.Outputs))
	for _, o := range p.Outputs {
		outputs = append(outputs, map[string]any{"name": o.Name, "sensitive": o.Sensitive, "references": stringsValue(nonNil(o.References))})
	}
	endpoints := make([]any, 0, len(p.ProviderEndpoints))
	for _, e := range p.ProviderEndpoints {
		endpoints = append(endpoints, map[string]any{"provider": e.Provider, "alias": e.Alias, "endpoint": strValue(e.Endpoint), "insecure_http": e.InsecureHTTP})
	}
	return map[string]any{"timestamp": timeValue(p.Timestamp), "outputs": outputs, "provider_endpoints": endpoints}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Result is the outcome of checking one plan.
type Result struct {
	Findings []Finding
	// ResourcesChecked counts the token-like resource changes evaluated.
	ResourcesChecked int
	// Resources are the addresses of those resource changes, sorted.
	Resources []string
	// Timestamp is the instant the plan was checked against (the plan's, else the clock's).
	Timestamp time.Time
}

// Engine evaluates the compiled policy bundle. It is safe for concurrent use.
type Engine struct {
	rules []Rule
	now   func() time.Time
	// token holds one prepared query per managed_by value ("tokenguard", "external").
	token map[string]*preparedRules
	plan  *preparedRules
}

// preparedRules is one prepared query that evaluates the deny set of several rule packages;
// binding "r<i>" holds the findings of rules[i].
type preparedRules struct {
	query rego.PreparedEvalQuery
	rules []Rule
}

// NewEngine loads, compiles and prepares the policies once.
func NewEngine(ctx context.Context, o Options) (*Engine, error) {
	bundle := o.Bundle
	if bundle == nil {
		bundle = policies.FS
	}
	gate := o.Gate
	if gate == "" {
		gate = GateCheck
	}
	src, err := loadSources(bundle, o.ExtraPolicyDirs, o.DataFiles, false)
	if err != nil {
		return nil, err
	}
	compiler, err := compile(src.modules)
	if err != nil {
		return nil, err
	}
	rules, err := rulesOf(compiler, src.modules)
	if err != nil {
		return nil, err
	}
	e := &Engine{rules: rules, now: o.Now, token: map[string]*preparedRules{}}
	if e.now == nil {
		e.now = time.Now
	}
	store := inmem.NewFromObject(src.data)
	var active []Rule
	for _, r := range rules {
		if len(r.Gates) == 0 || slices.Contains(r.Gates, gate) {
			active = append(active, r)
		}
	}
	for _, managedBy := range []string{"tokenguard", "external"} {
		var rs []Rule
		for _, r := range active {
			if r.Scope == ScopeToken && (len(r.AppliesTo) == 0 || slices.Contains(r.AppliesTo, managedBy)) {
				rs = append(rs, r)
			}
		}
		if e.token[managedBy], err = prepare(ctx, compiler, store, rs); err != nil {
			return nil, err
		}
	}
	var planRules []Rule
	for _, r := range active {
		if r.Scope == ScopePlan {
			planRules = append(planRules, r)
		}
	}
	if e.plan, err = prepare(ctx, compiler, store, planRules); err != nil {
		return nil, err
	}
	return e, nil
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

func prepare(ctx context.Context, c *ast.Compiler, store storage.Store, rules []Rule) (*preparedRules, error) {
	p := &preparedRules{rules: rules}
	if len(rules) == 0 {
		return p, nil
	}
	var body ast.Body
	for i, r := range rules {
		ref, err := ast.ParseRef(r.Package + ".deny")
		if err != nil {
			return nil, fmt.Errorf("rule %s: package path %s: %w", r.ID, r.Package, err)
		}
		body = append(body, ast.Equality.Expr(ast.VarTerm("r"+strconv.Itoa(i)), ast.NewTerm(ref)))
	}
	q, err := rego.New(rego.Compiler(c), rego.Store(store), rego.ParsedQuery(body)).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("preparing policies: %s", oneLine(err))
	}
	p.query = q
	return p, nil
}

// Rules lists every loaded rule, sorted by id (rules of other gates included).
func (e *Engine) Rules() []Rule { return slices.Clone(e.rules) }

// EvaluatePlan reads plan JSON from r, normalises its token-like changes and evaluates the
// token rules on each (in parallel) and the plan rules once. Input errors wrap ErrInvalidPlan.
func (e *Engine) EvaluatePlan(ctx context.Context, r io.Reader) (Result, error) {
	p, err := ReadPlan(r)
	if err != nil {
		return Result{}, err
	}
	ts := e.now().UTC()
	if p.Timestamp != nil {
		ts = p.Timestamp.UTC()
	}
	tokens := Normalize(p, ts)
	facts := PlanFacts{Timestamp: &ts, Outputs: p.Outputs, ProviderEndpoints: p.ProviderEndpoints}
	findings, err := e.EvaluateTokens(ctx, tokens, facts)
	if err != nil {
		return Result{}, err
	}
	planFindings, err := e.evaluatePlanRules(ctx, facts)
	if err != nil {
		return Result{}, err
	}
	findings = append(findings, planFindings...)
	SortFindings(findings)
	resources := make([]string, 0, len(tokens))
	for _, t := range tokens {
		resources = append(resources, t.Address)
	}
	sort.Strings(resources)
	return Result{Findings: findings, ResourcesChecked: len(tokens), Resources: resources, Timestamp: ts}, nil
}

// EvaluateTokens evaluates the token rules of the engine's gate on each token, with facts as
// input.plan, on runtime.NumCPU() workers. Findings are sorted.
func (e *Engine) EvaluateTokens(ctx context.Context, tokens []Token, facts PlanFacts) ([]Finding, error) {
	planValue, err := ast.InterfaceToValue(facts.value())
	if err != nil {
		return nil, fmt.Errorf("plan facts: %w", err)
	}
	planTerm := ast.NewTerm(planValue)
	results := make([][]Finding, len(tokens))
	errs := make([]error, len(tokens))
	workers := min(runtime.NumCPU(), len(tokens))
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i], errs[i] = e.evaluateToken(ctx, tokens[i], planTerm)
			}
		}()
	}
	for i := range tokens {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []Finding
	for i := range tokens {
		if errs[i] != nil {
			return nil, errs[i]
		}
		out = append(out, results[i]...)
	}
	SortFindings(out)
	return out, nil
}

func (e *Engine) evaluateToken(ctx context.Context, t Token, planTerm *ast.Term) ([]Finding, error) {
	p := e.token[t.ManagedBy]
	if p == nil || len(p.rules) == 0 {
		return nil, nil
	}
	tv, err := ast.InterfaceToValue(t.value())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.Address, err)
	}
	input := ast.NewObject(
		[2]*ast.Term{ast.StringTerm("token"), ast.NewTerm(tv)},
		[2]*ast.Term{ast.StringTerm("plan"), planTerm},
	)
	return p.eval(ctx, input, t.Address)
}

func (e *Engine) evaluatePlanRules(ctx context.Context, facts PlanFacts) ([]Finding, error) {
	if len(e.plan.rules) == 0 {
		return nil, nil
	}
	pv, err := ast.InterfaceToValue(facts.value())
	if err != nil {
		return nil, fmt.Errorf("plan facts: %w", err)
	}
	input := ast.NewObject([2]*ast.Term{ast.StringTerm("plan"), ast.NewTerm(pv)})
	return e.plan.eval(ctx, input, "")
}

func (p *preparedRules) eval(ctx context.Context, input ast.Value, address string) ([]Finding, error) {
	rs, err := p.query.Eval(ctx, rego.EvalParsedInput(input))
	if err != nil {
		where := address
		if where == "" {
			where = "plan"
		}
		return nil, fmt.Errorf("evaluating policies on %s: %s", where, oneLine(err))
	}
	if len(rs) == 0 {
		return nil, nil
	}
	var out []Finding
	for i, r := range p.rules {
		set, _ := rs[0].Bindings["r"+strconv.Itoa(i)].([]any)
		for _, x := range set {
			f := Finding{
				RuleID: r.ID, Severity: r.Severity, Title: r.Title, Address: address,
				Citation: r.Citation, Remediation: r.Remediation,
			}
			switch v := x.(type) {
			case string:
				f.Message = v
			case map[string]any:
				f.Message, _ = v["msg"].(string)
				f.Field, _ = v["field"].(string)
				if a, ok := v["address"].(string); ok && a != "" {
					f.Address = a
				}
			default:
				f.Message = fmt.Sprint(v)
			}
			if f.Message == "" {
				f.Message = r.Title
			}
			out = append(out, f)
		}
	}
	return out, nil
}

// SortFindings orders findings by address, rule id and message, then field.
func SortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Address != b.Address {
			return a.Address < b.Address
		}
		if a.RuleID != b.RuleID {
			return a.RuleID < b.RuleID
		}
		if a.Message != b.Message {
			return a.Message < b.Message
		}
		return a.Field < b.Field
	})
}

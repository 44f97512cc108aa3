package policy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/topdown"

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
	view  *tokenView
}

// Finding is one violation of a rule by one resource (or by the plan).
type Finding struct {
	RuleID   string `json:"rule_id"`
	Severity string `json:"severity"`
	Title    string `json:"title"`
	Address  string `json:"address"`
	Message  string `json:"message"`
	Citation string `json:"citation"`
	// Basis says where the numbers of the message come from ("tokenguard default ...,
	// configurable; supports Cal. Civ. Code 1798.100(e), 1798.81.5(b)"); "" when the rule
	// compares against no threshold.
	Basis       string `json:"basis,omitempty"`
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
	// Tokens are the token-like resources of the root module that a root output references
	// (input.plan.tokens), for plan rules about outputs; filled for plan-scope rules only.
	Tokens []PlanToken
}

// PlanToken names one token-like resource in input.plan.tokens.
type PlanToken struct {
	Address, Module, Type, Name, ManagedBy string
	Sensitive                              []string
	// Ref is how configuration references name the resource: "type.name", or
	// "module.a.type.name" inside a module (instance keys removed).
	Ref string
}

// referencedResources are the resources ("type.name", "module.a.type.name") that root outputs
// reference, directly or through module outputs and local values (Output.References are
// expanded with ExpandReferences).
func (p PlanFacts) referencedResources() map[string]bool {
	out := map[string]bool{}
	for _, o := range p.Outputs {
		for _, r := range o.References {
			module := ""
			for strings.HasPrefix(r, "module.") {
				name, rest, ok := strings.Cut(r[len("module."):], ".")
				if !ok {
					r = ""
					break
				}
				module += "module." + StripInstanceKeys(name) + "."
				r = rest
			}
			typ, rest, ok := strings.Cut(r, ".")
			if !ok || typ == "data" || typ == "var" || typ == "local" || typ == "each" || typ == "count" || typ == "path" || typ == "terraform" || typ == "self" {
				continue
			}
			if i := strings.IndexAny(rest, ".["); i >= 0 {
				rest = rest[:i]
			}
			out[module+typ+"."+rest] = true
		}
	}
	return out
}

// planToken is t as listed in input.plan.tokens, or nil when no root output references it.
func planToken(t Token, referenced map[string]bool) *PlanToken {
	ref := t.Type + "." + t.Name
	if t.Module != "" {
		ref = StripInstanceKeys(t.Module) + "." + ref
	}
	if !referenced[ref] {
		return nil
	}
	return &PlanToken{Address: t.Address, Module: t.Module, Type: t.Type, Name: t.Name, ManagedBy: t.ManagedBy, Sensitive: slices.Clone(t.Sensitive), Ref: ref}
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
	tokens := make([]any, 0, len(p.Tokens))
	for _, t := range p.Tokens {
		tokens = append(tokens, map[string]any{
			"address": t.Address, "module": t.Module, "type": t.Type, "name": t.Name, "managed_by": t.ManagedBy,
			"sensitive": stringsValue(nonNil(t.Sensitive)), "ref": t.Ref,
		})
	}
	return map[string]any{"timestamp": timeValue(p.Timestamp), "outputs": outputs, "provider_endpoints": endpoints, "tokens": tokens}
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
	// Config is the configuration PlanOptions.Config loaded; nil without one.
	Config *Config
	// Owners maps the address of each checked token that declares an owner to it, for the
	// waiver policy (an approver may not be the owner of a token the waiver covers).
	Owners map[string]string
}

// Engine evaluates the compiled policy bundle. It is safe for concurrent use.
type Engine struct {
	rules []Rule
	now   func() time.Time
	// bundle is what Bundle answers: the digest of the sources and the merged data.
	bundle BundleInfo
	// waiverPolicy governs waivers at every gate (data.tokenguard.waivers).
	waiverPolicy WaiverPolicy
	// token holds one prepared query per managed_by value ("tokenguard", "external").
	token map[string]*preparedRules
	plan  *preparedRules
}

// preparedRules is one prepared query that evaluates the deny set of several rule packages;
// binding "r<i>" holds the findings of rules[i]. For token rules, views holds the rules that
// declare their reads, each prepared on its own (see engine_reads.go); rules holds the others.
type preparedRules struct {
	// query is the compiled query; it runs on topdown directly (rego's prepared queries add
	// metrics, a cancellation goroutine and a conversion of every result to Go values per
	// evaluation, which cost more than small rules themselves).
	query    ast.Body
	compiler *ast.Compiler
	store    storage.Store
	rules    []Rule
	views    []*viewRule
	// raw is true when a rule reads the token's raw before and after values (every rule
	// without declared reads does): only then are they converted to OPA values.
	raw bool
	// constants are the values of the input-independent rules (see constantCache).
	constants []constantValue
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
	e := &Engine{rules: rules, now: o.Now, token: map[string]*preparedRules{}, bundle: src.info()}
	if e.now == nil {
		e.now = time.Now
	}
	if e.waiverPolicy, err = waiverPolicyOf(src.data); err != nil {
		return nil, err
	}
	store := inmem.NewFromObject(src.data)
	constants := constantRules(ctx, compiler, store)
	var active []Rule
	for _, r := range rules {
		if len(r.Gates) == 0 || slices.Contains(r.Gates, gate) {
			active = append(active, r)
		}
	}
	for _, managedBy := range []string{"tokenguard", "external"} {
		var whole []Rule
		var views []*viewRule
		for _, r := range active {
			if r.Scope != ScopeToken || len(r.AppliesTo) > 0 && !slices.Contains(r.AppliesTo, managedBy) {
				continue
			}
			if r.view == nil {
				whole = append(whole, r)
				continue
			}
			p, err := prepare(compiler, store, []Rule{r})
			if err != nil {
				return nil, err
			}
			p.constants = constants
			views = append(views, &viewRule{view: r.view, prepared: p})
		}
		if e.token[managedBy], err = prepare(compiler, store, whole); err != nil {
			return nil, err
		}
		e.token[managedBy].constants = constants
		e.token[managedBy].views = views
		e.token[managedBy].raw = len(whole) > 0 || slices.ContainsFunc(views, func(v *viewRule) bool { return v.view.readsRaw() })
	}
	var planRules []Rule
	for _, r := range active {
		if r.Scope == ScopePlan {
			planRules = append(planRules, r)
		}
	}
	if e.plan, err = prepare(compiler, store, planRules); err != nil {
		return nil, err
	}
	e.plan.constants = constants
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
		view, err := parseReads(file, id, r.Reads)
		if err != nil {
			return nil, err
		}
		r.view = view
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

func prepare(c *ast.Compiler, store storage.Store, rules []Rule) (*preparedRules, error) {
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
	q, err := c.QueryCompiler().Compile(body)
	if err != nil {
		return nil, fmt.Errorf("preparing policies: %s", oneLine(err))
	}
	p.query, p.compiler, p.store = q, c, store
	return p, nil
}

// Rules lists every loaded rule, sorted by id (rules of other gates included).
func (e *Engine) Rules() []Rule { return slices.Clone(e.rules) }

// EvaluatePlan reads plan JSON from r, normalises its token-like changes and evaluates the
// token rules on each (in parallel) and the plan rules once. Input errors wrap ErrInvalidPlan.
//
// The plan is read in one pass that keeps each token-like change as raw JSON; the workers
// then decode, normalise and evaluate the changes in parallel, so only one change per worker
// is ever held as Go maps and OPA values.
func (e *Engine) EvaluatePlan(ctx context.Context, r io.Reader) (Result, error) {
	return e.EvaluatePlanWith(ctx, r, PlanOptions{})
}

// PlanOptions are what a plan is checked with besides the plan itself.
type PlanOptions struct {
	// Config, when set, is called once the plan is read, with the addresses of its
	// token-like resources, to load the configuration (LoadConfigTree): its local values are
	// followed by CPRA-SEC-001, and it is returned in Result.Config.
	Config func(addresses []string) (*Config, error)
	// Existing is ExistingBlock ("" too) or ExistingWarn: with ExistingWarn an error finding
	// about what its change leaves as it was (OnUnchanged) becomes a warning (MarkExisting).
	Existing string
}

// EvaluatePlanWith is EvaluatePlan with options.
func (e *Engine) EvaluatePlanWith(ctx context.Context, r io.Reader, o PlanOptions) (Result, error) {
	p, err := readPlan(r, true)
	if err != nil {
		return Result{}, err
	}
	var cfg *Config
	if o.Config != nil {
		addrs := make([]string, len(p.Changes))
		for i, c := range p.Changes {
			addrs[i] = c.Address
		}
		if cfg, err = o.Config(addrs); err != nil {
			return Result{}, err
		}
		if len(cfg.Locals) > 0 {
			values := maps.Clone(p.moduleValues)
			maps.Copy(values, cfg.Locals)
			p.Outputs = make([]Output, len(p.rawOutputs))
			for i, out := range p.rawOutputs {
				out.References = nonNil(ExpandReferences(out.References, values))
				p.Outputs[i] = out
			}
		}
	}
	ts := e.now().UTC()
	if p.Timestamp != nil {
		ts = p.Timestamp.UTC()
	}
	facts := PlanFacts{Timestamp: &ts, Outputs: p.Outputs, ProviderEndpoints: p.ProviderEndpoints}
	planTerm, err := facts.term()
	if err != nil {
		return Result{}, err
	}
	tables := e.newViewTables()
	changes := p.Changes
	p.Changes = nil
	results := make([][]Finding, len(changes))
	referenced := facts.referencedResources()
	planTokens := make([]*PlanToken, len(changes))
	addresses := make([]string, len(changes))
	owners := make([]*string, len(changes))
	evaluated := make([]bool, len(changes))
	err = forEach(ctx, len(changes), func(i int) error {
		rc := &changes[i]
		if err := rc.decodeChange(); err != nil {
			return err
		}
		tc, ok := changeFromPlan(*rc)
		offset := rc.offset
		changes[i] = ResourceChange{} // let the decoded values go as soon as they are normalised
		if !ok {
			return nil
		}
		t := normalizeOwnedToken(tc, ts) // the decoded maps are this worker's alone
		if len(t.problems) > 0 {
			return invalidf("plan resource change %s (its change object starts at byte %d): %s; %s",
				t.Address, offset+1, strings.Join(t.problems, "; "), regenerateAdvice)
		}
		evaluated[i], addresses[i], owners[i] = true, t.Address, t.Fields.Owner
		planTokens[i] = planToken(t, referenced)
		// A variable of its own: assigning the enclosing err here raced between workers.
		var evalErr error
		results[i], evalErr = e.evaluateToken(ctx, t, planTerm, tables)
		if o.Existing == ExistingWarn {
			MarkExisting(tc, results[i])
		}
		return evalErr
	})
	if err != nil {
		return Result{}, err
	}
	var findings []Finding
	var resources []string
	ownerOf := map[string]string{}
	for i := range changes {
		if evaluated[i] {
			resources = append(resources, addresses[i])
			findings = append(findings, results[i]...)
			if owners[i] != nil {
				ownerOf[addresses[i]] = *owners[i]
			}
		}
		if planTokens[i] != nil {
			facts.Tokens = append(facts.Tokens, *planTokens[i])
		}
	}
	planFindings, err := e.evaluatePlanRules(ctx, facts)
	if err != nil {
		return Result{}, err
	}
	findings = append(findings, planFindings...)
	SortFindings(findings)
	if resources == nil {
		resources = []string{}
	}
	sort.Strings(resources)
	return Result{Findings: findings, ResourcesChecked: len(resources), Resources: resources, Timestamp: ts, Config: cfg, Owners: ownerOf}, nil
}

// EvaluateTokens evaluates the token rules of the engine's gate on each token, with facts as
// input.plan, on runtime.NumCPU() workers. Findings are sorted.
func (e *Engine) EvaluateTokens(ctx context.Context, tokens []Token, facts PlanFacts) ([]Finding, error) {
	planTerm, err := facts.term()
	if err != nil {
		return nil, err
	}
	results := make([][]Finding, len(tokens))
	tables := e.newViewTables()
	err = forEach(ctx, len(tokens), func(i int) error {
		var err error
		results[i], err = e.evaluateToken(ctx, tokens[i], planTerm, tables)
		return err
	})
	if err != nil {
		return nil, err
	}
	var out []Finding
	for i := range tokens {
		out = append(out, results[i]...)
	}
	SortFindings(out)
	return out, nil
}

// term renders the facts as the OPA value of input.plan.
func (p PlanFacts) term() (*ast.Term, error) {
	v, err := ast.InterfaceToValue(p.value())
	if err != nil {
		return nil, fmt.Errorf("plan facts: %w", err)
	}
	return ast.NewTerm(v), nil
}

// forEach calls fn(0) ... fn(n-1) on runtime.NumCPU() workers and returns the error of the
// lowest index that failed, or the context's error.
func forEach(ctx context.Context, n int, fn func(i int) error) error {
	errs := make([]error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.NumCPU(), n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				errs[i] = fn(i)
			}
		}()
	}
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// evaluateToken evaluates the token rules on t: the rules without declared reads on the whole
// token, the others on their views, through tables (those of the current evaluation call).
func (e *Engine) evaluateToken(ctx context.Context, t Token, planTerm *ast.Term, tables viewTables) ([]Finding, error) {
	p := e.token[t.ManagedBy]
	if p == nil || len(p.rules) == 0 && len(p.views) == 0 {
		return nil, nil
	}
	tv, err := t.termWith(p.raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.Address, err)
	}
	var out []Finding
	if len(p.rules) > 0 {
		input := ast.NewObject(
			[2]*ast.Term{ast.StringTerm("token"), tv},
			[2]*ast.Term{ast.StringTerm("plan"), planTerm},
		)
		if out, err = p.eval(ctx, input, t.Address); err != nil {
			return nil, err
		}
	}
	if len(p.views) > 0 {
		token, ok := tv.Value.(ast.Object)
		if !ok {
			return nil, fmt.Errorf("%s: normalised token is not an object", t.Address)
		}
		viewFindings, err := p.evaluateViews(ctx, tables[t.ManagedBy], token, planTerm, t.Address)
		if err != nil {
			return nil, err
		}
		out = append(out, viewFindings...)
	}
	withholdMessages(out, t)
	return out, nil
}

// withholdMessages replaces the messages of t's findings when t had sensitive values other
// than its secret: rules judged them, and a message may quote them ("ttl of 400 days"), so
// the message says which attributes were withheld and nothing of their values.
func withholdMessages(fs []Finding, t Token) {
	if len(t.withheld) == 0 {
		return
	}
	for i := range fs {
		fs[i].Message = fmt.Sprintf("%s (details withheld: %s marked sensitive in the plan, and was judged without being shown)",
			fs[i].Title, strings.Join(t.withheld, ", ")+map[bool]string{true: " is", false: " are"}[len(t.withheld) == 1])
	}
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
	fail := func(err error) error {
		where := address
		if where == "" {
			where = "plan"
		}
		return fmt.Errorf("evaluating policies on %s: %s", where, oneLine(err))
	}
	txn, err := p.store.NewTransaction(ctx)
	if err != nil {
		return nil, fail(err)
	}
	defer p.store.Abort(ctx, txn)
	cache := &constantCache{shared: p.constants, inner: topdown.NewVirtualCache()}
	var result topdown.QueryResult
	err = topdown.NewQuery(p.query).WithCompiler(p.compiler).WithStore(p.store).WithTransaction(txn).
		WithInput(ast.NewTerm(input)).WithVirtualCache(cache).WithIndexing(true).WithEarlyExit(true).
		WithTime(time.Now()).
		Iter(ctx, func(qr topdown.QueryResult) error {
			result = qr
			return nil
		})
	if err != nil {
		return nil, fail(err)
	}
	if result == nil {
		return nil, nil
	}
	var out []Finding
	for i, r := range p.rules {
		set, ok := result[ast.Var("r"+strconv.Itoa(i))]
		if !ok {
			continue
		}
		var elems []*ast.Term
		switch v := set.Value.(type) {
		case ast.Set:
			elems = v.Slice()
		case *ast.Array:
			for j := range v.Len() {
				elems = append(elems, v.Elem(j))
			}
		}
		for _, x := range elems {
			f := Finding{
				RuleID: r.ID, Severity: r.Severity, Title: r.Title, Address: address,
				Citation: r.Citation, Basis: r.ThresholdBasis, Remediation: r.Remediation,
			}
			switch v := x.Value.(type) {
			case ast.String:
				f.Message = string(v)
			case ast.Object:
				f.Message = stringAt(v, "msg")
				f.Field = stringAt(v, "field")
				if a := stringAt(v, "address"); a != "" {
					f.Address = a
				}
			default:
				j, err := ast.JSON(v)
				if err != nil {
					return nil, fail(err)
				}
				f.Message = fmt.Sprint(j)
			}
			if f.Message == "" {
				f.Message = r.Title
			}
			out = append(out, f)
		}
	}
	return out, nil
}

// stringAt is the string at key in a finding object, "" when absent or not a string.
func stringAt(o ast.Object, key string) string {
	if t := o.Get(ast.InternedTerm(key)); t != nil {
		if s, ok := t.Value.(ast.String); ok {
			return string(s)
		}
	}
	return ""
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

// constantCache is the topdown.VirtualCache of one evaluation. It answers, from values
// computed once by NewEngine, for the rules whose value cannot depend on the input (such as
// a vocabulary set built from data), so each evaluation does not rebuild them; everything
// else goes to a fresh per-evaluation cache. Inside a `with` (depth > 0) the shared values
// are not used, since `with` may replace data they were computed from.
type constantCache struct {
	shared []constantValue
	inner  topdown.VirtualCache
	depth  int
}

// constantValue is the value of one input-independent rule.
type constantValue struct {
	ref   ast.Ref
	value *ast.Term
}

func (c *constantCache) Push() { c.depth++; c.inner.Push() }
func (c *constantCache) Pop()  { c.depth--; c.inner.Pop() }

func (c *constantCache) Get(ref ast.Ref) (*ast.Term, bool) {
	if c.depth == 0 && len(ref) > 0 {
		// Compare the cheap last element first: most refs looked up are not constants.
		last := ref[len(ref)-1].Value
		for i := range c.shared {
			s := c.shared[i].ref
			if len(s) == len(ref) && s[len(s)-1].Value.Compare(last) == 0 && s.Equal(ref) {
				return c.shared[i].value, false
			}
		}
	}
	return c.inner.Get(ref)
}

func (c *constantCache) Put(ref ast.Ref, value *ast.Term) { c.inner.Put(ref, value) }
func (c *constantCache) Keys() []ast.Ref                  { return c.inner.Keys() }

// constantRules computes the value of every rule that cannot depend on the input: a rule
// without arguments whose definitions reference neither input nor, directly or through
// other rules and functions, a rule that does, and use neither `with` nor a
// non-deterministic builtin. Rules that are undefined, or fail, are left out.
func constantRules(ctx context.Context, c *ast.Compiler, store storage.Store) []constantValue {
	type node struct {
		path    ast.Ref
		isFunc  bool
		dynamic bool
		refs    []ast.Ref
	}
	nodes := map[string]*node{}
	var order []string
	for _, m := range c.Modules {
		for _, r := range m.Rules {
			path := r.Ref().GroundPrefix()
			if !path.HasPrefix(ast.DefaultRootRef) { // compiled modules hold full paths already
				path = m.Package.Path.Extend(path)
			}
			key := path.String()
			n := nodes[key]
			if n == nil {
				n = &node{path: path}
				nodes[key] = n
				order = append(order, key)
			}
			if len(r.Head.Args) > 0 {
				n.isFunc = true
			}
			if !r.Head.Ref().IsGround() {
				n.dynamic = true // a ref head with variables (deny[x] := ...): keep it simple
			}
			ast.WalkExprs(r, func(e *ast.Expr) bool {
				if len(e.With) > 0 {
					n.dynamic = true
				}
				if e.IsCall() {
					if b, ok := ast.BuiltinMap[e.Operator().String()]; ok && b.Nondeterministic {
						n.dynamic = true
					}
				}
				return false
			})
			ast.WalkRefs(r, func(ref ast.Ref) bool {
				switch {
				case ref.HasPrefix(ast.InputRootRef):
					n.dynamic = true
				case ref.HasPrefix(ast.DefaultRootRef):
					n.refs = append(n.refs, ref.GroundPrefix())
				}
				return false
			})
			if r.Head.Name.Equal(ast.Var("deny")) {
				n.dynamic = true
			}
		}
	}
	// Propagate: a rule that refers to a dynamic rule (or to an ancestor or descendant path
	// of one, e.g. a whole package) is dynamic.
	for changed := true; changed; {
		changed = false
		for _, k := range order {
			n := nodes[k]
			if n.dynamic {
				continue
			}
			for _, ref := range n.refs {
				for _, k2 := range order {
					o := nodes[k2]
					if o.dynamic && (ref.HasPrefix(o.path) || o.path.HasPrefix(ref)) {
						n.dynamic, changed = true, true
						break
					}
				}
				if n.dynamic {
					break
				}
			}
		}
	}
	var out []constantValue
	for _, k := range order {
		n := nodes[k]
		if n.dynamic || n.isFunc {
			continue
		}
		if v := constantValueOf(ctx, c, store, n.path); v != nil {
			out = append(out, constantValue{ref: n.path, value: v})
		}
	}
	return out
}

// constantValueOf evaluates the rule at path without input and returns its value as an OPA
// term (a set stays a set: a round trip through Go values would turn it into an array), or
// nil when the rule is undefined or its evaluation fails (e.g. conflicting values): such a
// rule is not cached, so each evaluation meets it, and reports it, exactly as without the
// cache.
func constantValueOf(ctx context.Context, c *ast.Compiler, store storage.Store, path ast.Ref) *ast.Term {
	result := ast.Var("__tokenguard_constant__")
	body, err := c.QueryCompiler().Compile(ast.NewBody(ast.Equality.Expr(ast.NewTerm(result), ast.NewTerm(path))))
	if err != nil {
		return nil
	}
	txn, err := store.NewTransaction(ctx)
	if err != nil {
		return nil
	}
	defer store.Abort(ctx, txn)
	var value *ast.Term
	err = topdown.NewQuery(body).WithCompiler(c).WithStore(store).WithTransaction(txn).
		Iter(ctx, func(qr topdown.QueryResult) error {
			value = qr[result]
			return nil
		})
	if err != nil {
		return nil
	}
	return value
}

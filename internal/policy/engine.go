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
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/tokenguard/terraform-provider-tokenguard/policies"
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
	// KeepVerdicts keeps the findings of token rules across EvaluateTokens calls, for a
	// caller that evaluates one token per call (the provider gate); see verdictMemo.
	KeepVerdicts bool
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
	// memo keeps token-rule findings across EvaluateTokens calls; nil unless
	// Options.KeepVerdicts.
	memo *verdictMemo
	// evaluations counts the policy queries evaluated (see Evaluations).
	evaluations atomic.Int64
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
	if o.KeepVerdicts {
		e.memo = &verdictMemo{}
	}
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
		var readsRules []*readsRule
		for _, r := range active {
			if r.Scope != ScopeToken || len(r.AppliesTo) > 0 && !slices.Contains(r.AppliesTo, managedBy) {
				continue
			}
			if r.reads == nil {
				whole = append(whole, r)
				continue
			}
			p, err := prepare(ctx, compiler, store, []Rule{r})
			if err != nil {
				return nil, err
			}
			p.constants = constants
			readsRules = append(readsRules, &readsRule{reads: r.reads, prepared: p})
		}
		if e.token[managedBy], err = prepare(ctx, compiler, store, whole); err != nil {
			return nil, err
		}
		e.token[managedBy].constants = constants
		e.token[managedBy].readsRules = readsRules
		e.token[managedBy].raw = len(whole) > 0 || slices.ContainsFunc(readsRules, func(v *readsRule) bool { return v.reads.readsRaw() })
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
	e.plan.constants = constants
	return e, nil
}

// Evaluations is the number of policy queries the engine has evaluated: one per rule group
// and token, less those answered from kept findings (Options.KeepVerdicts, and within one
// call the rules with declared reads). For tests and benchmarks.
func (e *Engine) Evaluations() int64 { return e.evaluations.Load() }

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
	call := e.newCall(ctx, ts)
	defer call.end()
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
		results[i], evalErr = e.evaluateToken(ctx, call, t, planTerm)
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
	planFindings, err := e.evaluatePlanRules(ctx, call, facts)
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
	now := e.now()
	if facts.Timestamp != nil {
		now = *facts.Timestamp
	}
	now = now.UTC()
	var call *evalCall
	if e.memo != nil {
		call = e.newCallIn(ctx, e.memo.epoch(e, now, planTerm))
	} else {
		call = e.newCall(ctx, now)
	}
	defer call.end()
	err = forEach(ctx, len(tokens), func(i int) error {
		var err error
		results[i], err = e.evaluateToken(ctx, call, tokens[i], planTerm)
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

// forEach calls fn(0) ... fn(n-1) on runtime.NumCPU() workers and returns the error of the
// lowest index that failed, or, once the context has ended, an error that wraps the
// context's and, where a worker was stopped mid-evaluation, says which resource it was on.
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
	ctxErr := ctx.Err()
	for _, err := range errs {
		// A worker's error says where it stopped; an error of another kind found after the
		// context ended may be a consequence of the cancellation.
		if err != nil && (ctxErr == nil || errors.Is(err, ctxErr)) {
			return err
		}
	}
	if ctxErr != nil {
		return fmt.Errorf("stopped before every resource was evaluated: %w", ctxErr)
	}
	return nil
}

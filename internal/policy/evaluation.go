package policy

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// preparedRules is one prepared query that evaluates the deny set of several rule packages;
// binding "r<i>" holds the findings of rules[i]. For token rules, readsRules holds the rules that
// declare their reads, each prepared on its own (see engine_reads.go); rules holds the others.
type preparedRules struct {
	// query is prepared once through OPA's public rego API; nil when rules is empty.
	query      *rego.PreparedEvalQuery
	rules      []Rule
	readsRules []*readsRule
	// raw is true when a rule reads the token's raw before and after values (every rule
	// without declared reads does): only then are they converted to OPA values.
	raw bool
	// constants are the values of the input-independent rules (see constantCache).
	constants []constantValue
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
	q, err := rego.New(rego.ParsedQuery(body), rego.Compiler(c), rego.Store(store)).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("preparing policies: %s", oneLine(err))
	}
	p.query = &q
	return p, nil
}

// evalCall is what every evaluation of one Engine call shares.
type evalCall struct {
	// now is the time rules see (time.now_ns): the plan's timestamp, else Options.Now.
	now time.Time
	// cancel stops every evaluation of the call, mid-rule, once the caller's context ends.
	cancel topdown.Cancel
	// tables hold the findings of rules with declared reads, per distinct projection.
	tables projectionTables
	// whole holds the findings of the rules without declared reads per distinct token, per
	// managed_by; nil when they are not kept (only Options.KeepVerdicts keeps them).
	whole map[string]*projectionTable
	// evaluations counts the queries evaluated (Engine.Evaluations).
	evaluations *atomic.Int64
	stop        func() bool
}

// newCall starts an Engine call at now; end must be called when it returns.
func (e *Engine) newCall(ctx context.Context, now time.Time) *evalCall {
	return e.newCallIn(ctx, &memoEpoch{now: now, tables: e.newProjectionTables()})
}

// newCallIn starts an Engine call that reads and keeps findings in ep's tables, at ep's instant.
func (e *Engine) newCallIn(ctx context.Context, ep *memoEpoch) *evalCall {
	c := topdown.NewCancel()
	return &evalCall{now: ep.now, cancel: c, tables: ep.tables, whole: ep.whole, evaluations: &e.evaluations,
		stop: context.AfterFunc(ctx, c.Cancel)}
}

func (c *evalCall) end() { c.stop() }

// evaluateToken evaluates the token rules on t: the rules without declared reads on the whole
// token, the others on their projections, through tables (those of the current evaluation call).
func (e *Engine) evaluateToken(ctx context.Context, call *evalCall, t Token, planTerm *ast.Term) ([]Finding, error) {
	p := e.token[t.ManagedBy]
	if p == nil || len(p.rules) == 0 && len(p.readsRules) == 0 {
		return nil, nil
	}
	tv, err := t.termWith(p.raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.Address, err)
	}
	var out []Finding
	if len(p.rules) > 0 {
		if out, err = p.evaluateWhole(ctx, call, call.whole[t.ManagedBy], tv, planTerm, t.Address); err != nil {
			return nil, err
		}
		if len(t.tainted) > 0 { // these rules see every field
			withholdMessages(out, t)
		}
	}
	if len(p.readsRules) > 0 {
		token, ok := tv.Value.(ast.Object)
		if !ok {
			return nil, fmt.Errorf("%s: normalised token is not an object", t.Address)
		}
		readsFindings, err := p.evaluateReadsRules(ctx, call, call.tables[t.ManagedBy], token, planTerm, &t)
		if err != nil {
			return nil, err
		}
		out = append(out, readsFindings...)
	}
	return out, nil
}

// evaluateWhole evaluates the rules of p without declared reads on the whole token tv: from
// table when it holds the findings of an equal token (table is nil when not kept), else by
// evaluating them. The findings returned are the caller's to change.
func (p *preparedRules) evaluateWhole(ctx context.Context, call *evalCall, table *projectionTable, tv, planTerm *ast.Term, address string) ([]Finding, error) {
	var key []*ast.Term
	var hash int
	keep := false
	if table != nil {
		key, hash = []*ast.Term{tv}, tv.Hash()
		var findings []Finding
		var ok bool
		if findings, ok, keep = table.lookup(key, hash); ok {
			return slices.Clone(findings), nil
		}
	}
	input := ast.NewObject(
		[2]*ast.Term{ast.StringTerm("token"), tv},
		[2]*ast.Term{ast.StringTerm("plan"), planTerm},
	)
	out, err := p.eval(ctx, call, input, address)
	if err != nil {
		return nil, err
	}
	if keep {
		table.store(key, hash, slices.Clone(out))
	}
	return out, nil
}

func (e *Engine) evaluatePlanRules(ctx context.Context, call *evalCall, facts PlanFacts) ([]Finding, error) {
	if len(e.plan.rules) == 0 {
		return nil, nil
	}
	pv, err := ast.InterfaceToValue(facts.value())
	if err != nil {
		return nil, fmt.Errorf("plan facts: %w", err)
	}
	input := ast.NewObject([2]*ast.Term{ast.StringTerm("plan"), ast.NewTerm(pv)})
	return e.plan.eval(ctx, call, input, "")
}

func (p *preparedRules) eval(ctx context.Context, call *evalCall, input ast.Value, address string) ([]Finding, error) {
	fail := func(err error) error {
		where := address
		if where == "" {
			where = "plan"
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("evaluating policies on %s: stopped before the policies finished: %w", where, ctxErr)
		}
		return fmt.Errorf("evaluating policies on %s: %s", where, oneLine(err))
	}
	call.evaluations.Add(1)
	cache := &constantCache{shared: p.constants, inner: topdown.NewVirtualCache()}
	// Metrics off, the call's Cancel instead of a goroutine per evaluation, and results kept
	// as OPA terms: what the rego package would otherwise add to every evaluation.
	rs, err := p.query.Eval(ctx, rego.EvalParsedInput(input), rego.EvalMetrics(metrics.NoOp()),
		rego.EvalExternalCancel(call.cancel), rego.EvalVirtualCache(cache), rego.EvalTime(call.now),
		rego.EvalGenerateJSON(keepTerm))
	if err != nil {
		return nil, fail(err)
	}
	if len(rs) == 0 {
		return nil, nil
	}
	result := rs[0].Bindings
	var out []Finding
	for i, r := range p.rules {
		set, ok := result["r"+strconv.Itoa(i)].(*ast.Term)
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

// keepTerm hands the rego package's results back as OPA terms rather than Go values.
func keepTerm(t *ast.Term, _ *rego.EvalContext) (any, error) { return t, nil }

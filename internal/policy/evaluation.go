package policy

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/topdown"
)

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

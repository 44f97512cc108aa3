package policy

import (
	"context"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/topdown"
)

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
	result := ast.Var("constant")
	body := ast.NewBody(ast.Equality.Expr(ast.NewTerm(result), ast.NewTerm(path)))
	rs, err := rego.New(rego.ParsedQuery(body), rego.Compiler(c), rego.Store(store), rego.GenerateJSON(keepTerm)).Eval(ctx)
	if err != nil || len(rs) == 0 {
		return nil
	}
	value, _ := rs[0].Bindings[string(result)].(*ast.Term)
	return value
}

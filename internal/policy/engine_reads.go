package policy

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
)

// A token rule may declare, in METADATA custom.reads, the token fields it reads, e.g.
//
//	reads: [fields.purpose]
//
// Such a rule is evaluated on a projection of the token that holds only those paths plus the
// token's kind and change (managed_by, type, actions) and its unknown and sensitive paths.
// Because that projection is the rule's whole input, the rule's findings are a function of it:
// within one evaluation call (one plan, or one batch of tokens with the same plan facts) the
// engine evaluates the rule once per distinct projection and reuses the findings for every
// other token with the same projection. A rule that reads a path it did not declare sees it absent,
// in every gate alike; rules without custom.reads see the whole token.
//
// Real estates repeat themselves (modules instantiated with for_each, the same ttl, scopes
// and rotation on hundreds of tokens), so most tokens evaluate most rules from the table.

// alwaysRead are the token keys in every projection.
var alwaysRead = []string{"managed_by", "type", "actions", "unknown", "sensitive"}

// tokenKeys are the top-level keys of a normalised token (input.token) and tokenFields the
// keys of input.token.fields, as Token.termWith builds them, sorted.
var tokenKeys, tokenFields = func() (keys, fields []string) {
	t, err := Token{}.termWith(true)
	if err != nil {
		panic(err) // a zero Token has no values to convert
	}
	token := t.Value.(ast.Object)
	for _, k := range token.Keys() {
		keys = append(keys, string(k.Value.(ast.String)))
	}
	for _, k := range token.Get(keyFields).Value.(ast.Object).Keys() {
		fields = append(fields, string(k.Value.(ast.String)))
	}
	slices.Sort(keys)
	slices.Sort(fields)
	return keys, fields
}()

// readSet is the set of token paths a rule declares it reads (custom.reads, plus alwaysRead).
type readSet struct {
	keys   []*ast.Term // top-level keys other than fields
	fields []*ast.Term // keys of fields
	paths  []int       // the keys', then the fields' indexes in pathTerms
}

// pathTerms are the paths a projection may hold: tokenKeys, then tokenFields.
var pathTerms = func() []*ast.Term {
	var out []*ast.Term
	for _, k := range tokenKeys {
		out = append(out, ast.StringTerm(k))
	}
	for _, k := range tokenFields {
		out = append(out, ast.StringTerm(k))
	}
	return out
}()

// tokenPaths reads the values of one token at the declared paths, each once with its hash,
// for all the rules with declared reads evaluated on that token.
type tokenPaths struct {
	token  ast.Object
	fields ast.Object
	read   []bool
	value  []*ast.Term
	hash   []int
}

func newTokenPaths(token ast.Object) *tokenPaths {
	p := &tokenPaths{token: token, read: make([]bool, len(pathTerms)), value: make([]*ast.Term, len(pathTerms)), hash: make([]int, len(pathTerms))}
	if f := token.Get(keyFields); f != nil {
		p.fields, _ = f.Value.(ast.Object)
	}
	return p
}

// at is the token's value at path i (nil when absent) and its hash.
func (p *tokenPaths) at(i int) (*ast.Term, int) {
	if !p.read[i] {
		var x *ast.Term
		if i < len(tokenKeys) {
			x = p.token.Get(pathTerms[i])
		} else if p.fields != nil {
			x = p.fields.Get(pathTerms[i])
		}
		p.read[i], p.value[i], p.hash[i] = true, x, 7
		if x != nil {
			p.hash[i] = x.Hash()
		}
	}
	return p.value[i], p.hash[i]
}

// parseReads validates the custom.reads entries of a rule: "fields.<name>" or a top-level key.
func parseReads(file, id string, entries []string) (*readSet, error) {
	v := &readSet{}
	seen := map[string]bool{}
	add := func(dst *[]*ast.Term, key string) {
		if !seen[key] {
			seen[key] = true
			*dst = append(*dst, ast.StringTerm(strings.TrimPrefix(key, "fields.")))
		}
	}
	defer func() {
		for _, k := range v.keys {
			v.paths = append(v.paths, slices.Index(tokenKeys, string(k.Value.(ast.String))))
		}
		for _, k := range v.fields {
			v.paths = append(v.paths, len(tokenKeys)+slices.Index(tokenFields, string(k.Value.(ast.String))))
		}
	}()
	for _, k := range alwaysRead {
		add(&v.keys, k)
	}
	for _, e := range entries {
		e = strings.TrimSpace(e)
		switch {
		case strings.HasPrefix(e, "fields."):
			if !slices.Contains(tokenFields, strings.TrimPrefix(e, "fields.")) {
				return nil, fmt.Errorf("policy %s: rule %s reads %q, which is not a field of input.token.fields: use one of %s", file, id, e, strings.Join(tokenFields, ", "))
			}
			add(&v.fields, e)
		case e == "fields":
			return nil, fmt.Errorf("policy %s: rule %s reads all of fields: name each field it reads (fields.purpose, ...) or drop custom.reads", file, id)
		case slices.Contains(tokenKeys, e):
			add(&v.keys, e)
		default:
			return nil, fmt.Errorf("policy %s: rule %s reads %q, which is not a path of input.token: use fields.<name> or one of %s", file, id, e, strings.Join(tokenKeys, ", "))
		}
	}
	return v, nil
}

// values appends to buf the token's values at the set's paths, in a fixed order (nil where
// the token has no value), and returns them with a hash of them.
func (v *readSet) values(p *tokenPaths, buf []*ast.Term) ([]*ast.Term, int) {
	h := len(v.paths)
	for _, i := range v.paths {
		x, xh := p.at(i)
		buf = append(buf, x)
		h = h*31 + xh
	}
	return buf, h
}

// projection builds the token reduced to the set from values returned by values: the declared keys present in the
// token, and fields reduced to the declared fields.
func (v *readSet) projection(values []*ast.Term) ast.Object {
	out := ast.NewObject()
	for i, k := range v.keys {
		if values[i] != nil {
			out.Insert(k, values[i])
		}
	}
	if len(v.fields) > 0 {
		f := ast.NewObject()
		for i, k := range v.fields {
			if x := values[len(v.keys)+i]; x != nil {
				f.Insert(k, x)
			}
		}
		out.Insert(keyFields, ast.NewTerm(f))
	}
	return out
}

// readsAny is true when the set holds one of these keys of input.token.fields.
func (v *readSet) readsAny(fields []string) bool {
	return slices.ContainsFunc(v.fields, func(k *ast.Term) bool { return slices.Contains(fields, string(k.Value.(ast.String))) })
}

// readsRaw is true when the set holds the token's raw before or after values.
func (v *readSet) readsRaw() bool {
	return slices.ContainsFunc(v.keys, func(k *ast.Term) bool { return k.Equal(keyBefore) || k.Equal(keyAfter) })
}

// readsRule is a token rule with declared reads, prepared on its own.
type readsRule struct {
	reads    *readSet
	prepared *preparedRules
}

// maxProjections bounds the findings kept per rule and evaluation call; beyond it, new projections are
// evaluated without being kept, so memory stays bounded.
const maxProjections = 1 << 14

// A table goes cold, and is dropped, when fewer than one lookup in coldRatio has hit after
// coldAfter lookups: the rule reads a field that differs on (nearly) every token, such as a
// purpose or an address, and keeping its projections would cost memory and time for nothing.
const (
	coldAfter = 2048
	coldRatio = 4
)

// projectionTable holds the findings of one rule per distinct projection, for one evaluation
// call (or, with Options.KeepVerdicts, one epoch of the engine's verdictMemo).
type projectionTable struct {
	mu      sync.Mutex
	entries map[int][]projectionEntry
	size    int
	lookups int
	hits    int
	cold    bool
	// limit bounds size; 0 means maxProjections.
	limit int
}

type projectionEntry struct {
	values   []*ast.Term
	findings []Finding // Address is "" where the rule did not name one
}

// projectionTables are the tables of one evaluation call, one per managed_by and rule with
// declared reads.
type projectionTables map[string][]*projectionTable

func (e *Engine) newProjectionTables() projectionTables {
	out := projectionTables{}
	for managedBy, p := range e.token {
		tables := make([]*projectionTable, len(p.readsRules))
		for i := range tables {
			tables[i] = &projectionTable{entries: map[int][]projectionEntry{}}
		}
		out[managedBy] = tables
	}
	return out
}

// lookup returns the findings kept for these values; ok is false when there are none, and
// keep is false when the table is cold.
func (t *projectionTable) lookup(values []*ast.Term, hash int) (findings []Finding, ok, keep bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cold {
		return nil, false, false
	}
	t.lookups++
	for _, e := range t.entries[hash] {
		if equalTerms(e.values, values) {
			t.hits++
			return e.findings, true, true
		}
	}
	if t.lookups >= coldAfter && t.hits*coldRatio < t.lookups {
		t.cold, t.entries = true, nil
		return nil, false, false
	}
	return nil, false, true
}

func equalTerms(a, b []*ast.Term) bool {
	for i := range a {
		if (a[i] == nil) != (b[i] == nil) || a[i] != nil && !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}

func (t *projectionTable) store(values []*ast.Term, hash int, findings []Finding) {
	t.mu.Lock()
	defer t.mu.Unlock()
	limit := t.limit
	if limit == 0 {
		limit = maxProjections
	}
	if t.cold || t.size >= limit {
		return
	}
	t.entries[hash] = append(t.entries[hash], projectionEntry{values: values, findings: findings})
	t.size++
}

// evaluateReadsRules evaluates the rules of p with declared reads on the token: from the table
// where this projection was seen before, else by evaluating the rule on the projection.
func (p *preparedRules) evaluateReadsRules(ctx context.Context, call *evalCall, tables []*projectionTable, token ast.Object, planTerm *ast.Term, t *Token) ([]Finding, error) {
	address := t.Address
	var out []Finding
	var buf []*ast.Term
	paths := newTokenPaths(token)
	for i, r := range p.readsRules {
		values, hash := r.reads.values(paths, buf[:0])
		findings, ok, keep := tables[i].lookup(values, hash)
		if !ok {
			input := ast.NewObject(
				[2]*ast.Term{ast.StringTerm("token"), ast.NewTerm(r.reads.projection(values))},
				[2]*ast.Term{ast.StringTerm("plan"), planTerm},
			)
			var err error
			if findings, err = r.prepared.eval(ctx, call, input, address); err != nil {
				return nil, err
			}
			if keep {
				// Keep the findings without this token's address, so they serve other tokens.
				for j := range findings {
					if findings[j].Address == address {
						findings[j].Address = ""
					}
				}
				tables[i].store(values, hash, findings)
				buf = nil // the table holds values now
			}
		}
		first := len(out)
		for _, f := range findings {
			if f.Address == "" {
				f.Address = address
			}
			out = append(out, f)
		}
		if r.reads.readsAny(t.tainted) {
			withholdMessages(out[first:], *t)
		}
	}
	return out, nil
}

package policy

import (
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Token is one normalised token-like resource change: the value of input.token in the policy
// input contract. Before and After never hold sensitive values.
type Token struct {
	Address   string
	Module    string
	Type      string
	Name      string
	Provider  string
	ManagedBy string
	Actions   []string
	Before    map[string]any
	After     map[string]any
	Unknown   []string
	Sensitive []string
	Fields    Fields

	// withheld are the sensitive paths, other than secrets, that held a value: rules judged
	// them, and the messages of the findings of rules that could see them are withheld (see
	// withholdMessages).
	withheld []string
	// tainted are the keys of Fields (input.token.fields) whose value depends on a withheld
	// value: a rule that reads one may quote it, so its messages are withheld; a rule that
	// reads none of them cannot see a withheld value (the raw values are stripped of them).
	tainted []string
	// problems are values of the wrong type (a scope that is a number); the check gate
	// refuses a plan with any.
	problems []string
}

// Fields are the provider-independent fields of a token (input.token.fields). A nil pointer or
// nil slice is JSON null: not set, or unknown until apply (see Token.Unknown).
type Fields struct {
	Name, Purpose, Owner                            *string
	Scopes, DataCategories, DataSubjects, Audiences []string
	TTLSeconds                                      *int64
	ExpiresAt                                       *time.Time
	ExpiresInSeconds                                *int64
	NeverExpires                                    bool
	RotationIntervalSeconds                         *int64
	RotationOverlapSeconds                          *int64
	RotationConfigured                              bool
	Renewal                                         *Renewal
	RenewalRequested                                bool
	Status                                          *string
	LastUsedAt                                      *time.Time
	UnusedSeconds                                   *int64
	// AgeSeconds is the time since an existing token was created, where the provider
	// records its creation (aws create_date); nil for a new token.
	AgeSeconds *int64
	// Recipient is the age public key a tokenguard token's secret is sealed to (issue 21);
	// nil when the secret is stored in clear, or when it is unknown until apply.
	Recipient *string
}

// Renewal is the justification of a renewal (input.token.fields.renewal).
type Renewal struct {
	Reason     *string
	ReviewedBy *string
}

// TokenChange is one planned change of a token-like resource before normalisation, as the
// check gate reads it from plan JSON and the provider gate builds it from a single planned
// resource. Before and After may still hold sensitive values: NormalizeToken strips every
// value named in Sensitive, and the type's known secret attributes, before anything reads them.
type TokenChange struct {
	Address  string
	Module   string
	Type     string
	Name     string
	Provider string
	Actions  []string
	Before   map[string]any
	After    map[string]any
	// Unknown and Sensitive are dotted attribute paths ("rotation.interval").
	Unknown   []string
	Sensitive []string
}

// Normalize turns the token-like changes of a plan into Tokens. Changes that delete without
// creating, reads and no-change entries without values are left out. now is the instant that
// expiry and idleness are measured from (the plan timestamp).
func Normalize(p *Plan, now time.Time) []Token {
	out := make([]Token, 0, len(p.Changes))
	for _, rc := range p.Changes {
		tc, ok := changeFromPlan(rc)
		if !ok {
			continue
		}
		out = append(out, NormalizeToken(tc, now))
	}
	return out
}

// Evaluated reports whether a change with these Terraform actions is evaluated: everything
// but delete-only and read changes.
func Evaluated(actions []string) bool {
	if len(actions) == 0 {
		return false
	}
	for _, a := range actions {
		if a == "create" || a == "update" || a == "no-op" {
			return true
		}
	}
	return false
}

func changeFromPlan(rc ResourceChange) (TokenChange, bool) {
	if !Evaluated(rc.Actions) {
		return TokenChange{}, false
	}
	after, _ := rc.After.(map[string]any)
	if after == nil {
		return TokenChange{}, false
	}
	before, _ := rc.Before.(map[string]any)
	// Room for the marks of a typical token resource, so that appending rarely grows them.
	unknown, sensitive := make([]string, 0, 16), make([]string, 0, 8)
	collectPaths(rc.AfterUnknown, "", &unknown)
	for _, marks := range []any{rc.AfterSensitive, rc.BeforeSensitive} {
		if all, _ := marks.(bool); all {
			// The whole object is sensitive: every attribute is.
			for k := range after {
				sensitive = append(sensitive, k)
			}
			for k := range before {
				sensitive = append(sensitive, k)
			}
			continue
		}
		collectPaths(marks, "", &sensitive)
	}
	return TokenChange{
		Address: rc.Address, Module: rc.ModuleAddress, Type: rc.Type, Name: rc.Name,
		Provider: rc.ProviderName, Actions: rc.Actions, Before: before, After: after,
		Unknown: sortedUnique(unknown), Sensitive: sortedUnique(sensitive),
	}, true
}

// collectPaths appends the dotted path of every true leaf of a Terraform after_unknown or
// *_sensitive structure to into. A list or set with any marked element is recorded as a
// whole. The same path may be appended more than once.
func collectPaths(v any, prefix string, into *[]string) {
	switch x := v.(type) {
	case bool:
		if x && prefix != "" {
			*into = append(*into, prefix)
		}
	case map[string]any:
		for k, e := range x {
			collectPaths(e, joinPath(prefix, k), into)
		}
	case []any:
		for _, e := range x {
			if anyTrue(e) {
				if prefix != "" {
					*into = append(*into, prefix)
				}
				return
			}
		}
	}
}

func anyTrue(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case map[string]any:
		for _, e := range x {
			if anyTrue(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if anyTrue(e) {
				return true
			}
		}
	}
	return false
}

func joinPath(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

// sortedUnique sorts paths and drops repeats; it returns an empty, non-nil slice for none.
func sortedUnique(paths []string) []string {
	if len(paths) == 0 {
		return []string{}
	}
	slices.Sort(paths)
	return slices.Compact(paths)
}

// NormalizeToken normalises one token change. It first copies Before and After with every
// sensitive value (the paths in c.Sensitive and the type's secret attributes) set to null, so
// no later step can see a secret; then it maps the type's attributes onto Fields.
func NormalizeToken(c TokenChange, now time.Time) Token { return normalizeToken(c, now, false) }

// normalizeOwnedToken is NormalizeToken for a change whose Before and After nothing else
// refers to (freshly decoded from the plan): sensitive values are set to null in place
// instead of in a deep copy, and the returned Token takes the maps over.
func normalizeOwnedToken(c TokenChange, now time.Time) Token { return normalizeToken(c, now, true) }

func normalizeToken(c TokenChange, now time.Time, owned bool) Token {
	secrets := make([]string, 0, len(secretAttributes[c.Type]))
	for _, a := range secretAttributes[c.Type] {
		if hasValue(c.Before, a) || hasValue(c.After, a) {
			secrets = append(secrets, a)
		}
	}
	sensitive := slices.Clone(c.Sensitive)
	for _, a := range secrets {
		if !slices.Contains(sensitive, a) {
			sensitive = append(sensitive, a)
		}
	}
	sort.Strings(sensitive)
	if sensitive == nil {
		sensitive = []string{}
	}
	unknown := slices.Clone(c.Unknown)
	if unknown == nil {
		unknown = []string{}
	}
	before, after := c.Before, c.After
	if !owned {
		before, after = stripPaths(before, nil), stripPaths(after, nil) // deep copies
	}
	// Secrets go first: no mapper reads them. Other sensitive values are judged like any
	// other (a sensitive ttl of 400 days is still too long) and stripped afterwards, so
	// that neither the raw values nor any message shows them.
	stripPathsInPlace(before, secrets)
	stripPathsInPlace(after, secrets)
	t := Token{
		Address: c.Address, Module: c.Module, Type: c.Type, Name: c.Name, Provider: c.Provider,
		ManagedBy: "external", Actions: slices.Clone(c.Actions),
		Unknown: unknown, Sensitive: sensitive,
	}
	if t.Actions == nil {
		t.Actions = []string{}
	}
	if c.Type == TokenguardType {
		t.ManagedBy = "tokenguard"
	}
	m, mapped := mappers[c.Type]
	if mapped {
		v := attributeReader{before: before, after: after, unknown: unknown, now: now, actions: t.Actions, problems: &t.problems}
		t.Fields = m(v)
	}
	for _, p := range sensitive {
		if !slices.Contains(secrets, p) && (lookup(before, p) != nil || lookup(after, p) != nil) {
			t.withheld = append(t.withheld, p)
		}
	}
	if mapped && len(t.withheld) > 0 {
		// Map again without the withheld values: the fields that change depend on them.
		clean := m(attributeReader{before: stripPaths(before, t.withheld), after: stripPaths(after, t.withheld), unknown: unknown, now: now, actions: t.Actions})
		t.tainted = changedFields(t.Fields, clean)
	}
	t.Before, t.After = stripPathsInPlace(before, sensitive), stripPathsInPlace(after, sensitive)
	return t
}

// changedFields are the keys of input.token.fields whose values differ between a and b.
func changedFields(a, b Fields) []string {
	x, _ := a.term().Value.(ast.Object)
	y, _ := b.term().Value.(ast.Object)
	var out []string
	for _, k := range x.Keys() {
		if !x.Get(k).Equal(y.Get(k)) {
			out = append(out, string(k.Value.(ast.String)))
		}
	}
	slices.Sort(out)
	return out
}

func hasValue(m map[string]any, attr string) bool {
	if m == nil {
		return false
	}
	v, ok := m[attr]
	return ok && v != nil
}

// stripPaths returns a deep copy of m with the value at each dotted path set to null.
func stripPaths(m map[string]any, paths []string) map[string]any {
	if m == nil {
		return nil
	}
	c, _ := deepCopy(m).(map[string]any)
	return stripPathsInPlace(c, paths)
}

// stripPathsInPlace sets the value at each dotted path of m to null and returns m.
func stripPathsInPlace(m map[string]any, paths []string) map[string]any {
	if m == nil {
		return nil
	}
	for _, p := range paths {
		setNull(m, strings.Split(p, "."))
	}
	return m
}

func setNull(v any, path []string) {
	if len(path) == 0 {
		return
	}
	switch x := v.(type) {
	case map[string]any:
		if len(path) == 1 {
			if _, ok := x[path[0]]; ok {
				x[path[0]] = nil
			}
			return
		}
		setNull(x[path[0]], path[1:])
	case []any:
		if i, err := strconv.Atoi(path[0]); err == nil && i >= 0 && i < len(x) {
			if len(path) == 1 {
				x[i] = nil
				return
			}
			setNull(x[i], path[1:])
			return
		}
		// A path through a list of objects names the attribute in every element.
		for _, e := range x {
			setNull(e, path)
		}
	}
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		c := make(map[string]any, len(x))
		for k, e := range x {
			c[k] = deepCopy(e)
		}
		return c
	case []any:
		c := make([]any, len(x))
		for i, e := range x {
			c[i] = deepCopy(e)
		}
		return c
	}
	return v
}

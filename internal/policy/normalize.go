package policy

import (
	"encoding/json"
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
}

// Fields is the provider-independent view of a token (input.token.fields). A nil pointer or
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
	sensitive := slices.Clone(c.Sensitive)
	for _, a := range secretAttributes[c.Type] {
		if !slices.Contains(sensitive, a) && (hasValue(c.Before, a) || hasValue(c.After, a)) {
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
	strip := stripPaths
	if owned {
		strip = stripPathsInPlace
	}
	t := Token{
		Address: c.Address, Module: c.Module, Type: c.Type, Name: c.Name, Provider: c.Provider,
		ManagedBy: "external", Actions: slices.Clone(c.Actions),
		Before: strip(c.Before, sensitive), After: strip(c.After, sensitive),
		Unknown: unknown, Sensitive: sensitive,
	}
	if t.Actions == nil {
		t.Actions = []string{}
	}
	if c.Type == TokenguardType {
		t.ManagedBy = "tokenguard"
	}
	if m, ok := mappers[c.Type]; ok {
		v := view{before: t.Before, after: t.After, unknown: unknown, now: now, actions: t.Actions}
		t.Fields = m(v)
	}
	return t
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

// view reads attributes of one change for a type mapper.
type view struct {
	before, after map[string]any
	unknown       []string
	now           time.Time
	actions       []string
}

// isUnknown reports whether the value at path, or anything inside it, is unknown.
func (v view) isUnknown(path string) bool {
	for _, u := range v.unknown {
		if u == path || isPathPrefix(path, u) || isPathPrefix(u, path) {
			return true
		}
	}
	return false
}

// isPathPrefix reports whether dotted path p lies inside prefix ("a.b" inside "a").
func isPathPrefix(p, prefix string) bool {
	return len(p) > len(prefix) && p[len(prefix)] == '.' && p[:len(prefix)] == prefix
}

// get returns the known after-value at a dotted path (nil when unset or unknown). A single
// element list on the way (a nested block) is looked through.
func (v view) get(path string) any {
	if v.isUnknown(path) {
		return nil
	}
	return lookup(v.after, path)
}

// getBefore returns the before-value at a dotted path.
func (v view) getBefore(path string) any { return lookup(v.before, path) }

func lookup(m map[string]any, path string) any {
	var cur any = m
	for rest, more := path, true; more; {
		var k string
		k, rest, more = strings.Cut(rest, ".")
		if l, ok := cur.([]any); ok && len(l) == 1 {
			cur = l[0]
		}
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = obj[k]
	}
	return cur
}

func (v view) str(path string) *string { return asString(v.get(path)) }

func asString(x any) *string {
	if s, ok := x.(string); ok {
		return &s
	}
	return nil
}

// nonEmpty is str that also treats "" as not set.
func (v view) nonEmpty(path string) *string {
	if s := v.str(path); s != nil && *s != "" {
		return s
	}
	return nil
}

// strings returns a known list or set of strings; nil when unset or unknown. Non-string
// elements are rendered as JSON.
func (v view) strings(path string) []string {
	l, ok := v.get(path).([]any)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(l))
	for _, e := range l {
		switch x := e.(type) {
		case string:
			out = append(out, x)
		case nil:
		default:
			b, _ := json.Marshal(x)
			out = append(out, string(b))
		}
	}
	return out
}

func (v view) number(path string) *int64 { return asInt(v.get(path)) }

func asInt(x any) *int64 {
	switch n := x.(type) {
	case json.Number:
		if i, err := n.Int64(); err == nil {
			return &i
		}
		if f, err := n.Float64(); err == nil {
			i := int64(f)
			return &i
		}
	case float64:
		i := int64(n)
		return &i
	case int64:
		return &n
	case int:
		i := int64(n)
		return &i
	}
	return nil
}

func (v view) boolean(path string) (value, known bool) {
	b, ok := v.get(path).(bool)
	return b, ok
}

// time parses a known RFC 3339 timestamp or a YYYY-MM-DD date at path.
func (v view) time(path string) *time.Time { return parseTime(v.get(path)) }

func parseTime(x any) *time.Time {
	s, ok := x.(string)
	if !ok || s == "" {
		return nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			t = t.UTC()
			return &t
		}
	}
	return nil
}

// knownUnset reports whether the attribute is known to be absent (null, "", empty) after apply.
func (v view) knownUnset(path string) bool {
	if v.isUnknown(path) {
		return false
	}
	switch x := lookup(v.after, path).(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

func (v view) existing() bool { return v.before != nil && !slices.Contains(v.actions, "create") }

func seconds(d time.Duration) *int64 {
	s := int64(d / time.Second)
	return &s
}

// finishExpiry fills ExpiresInSeconds from ExpiresAt and the clock.
func (f *Fields) finishExpiry(now time.Time) {
	if f.ExpiresAt != nil && !now.IsZero() {
		f.ExpiresInSeconds = seconds(f.ExpiresAt.Sub(now))
	}
}

// value renders the token as the input.token value of the policy input contract.
func (t Token) value() map[string]any {
	return map[string]any{
		"address":    t.Address,
		"module":     t.Module,
		"type":       t.Type,
		"name":       t.Name,
		"provider":   t.Provider,
		"managed_by": t.ManagedBy,
		"actions":    stringsValue(t.Actions),
		"before":     mapValue(t.Before),
		"after":      mapValue(t.After),
		"unknown":    stringsValue(t.Unknown),
		"sensitive":  stringsValue(t.Sensitive),
		"fields":     t.Fields.value(),
	}
}

func (f Fields) value() map[string]any {
	var renewal any
	if f.Renewal != nil {
		renewal = map[string]any{"reason": strValue(f.Renewal.Reason), "reviewed_by": strValue(f.Renewal.ReviewedBy)}
	}
	return map[string]any{
		"name":                      strValue(f.Name),
		"purpose":                   strValue(f.Purpose),
		"owner":                     strValue(f.Owner),
		"scopes":                    stringsValue(f.Scopes),
		"data_categories":           stringsValue(f.DataCategories),
		"data_subjects":             stringsValue(f.DataSubjects),
		"audiences":                 stringsValue(f.Audiences),
		"ttl_seconds":               intValue(f.TTLSeconds),
		"expires_at":                timeValue(f.ExpiresAt),
		"expires_in_seconds":        intValue(f.ExpiresInSeconds),
		"never_expires":             f.NeverExpires,
		"rotation_interval_seconds": intValue(f.RotationIntervalSeconds),
		"rotation_overlap_seconds":  intValue(f.RotationOverlapSeconds),
		"rotation_configured":       f.RotationConfigured,
		"renewal":                   renewal,
		"renewal_requested":         f.RenewalRequested,
		"status":                    strValue(f.Status),
		"last_used_at":              timeValue(f.LastUsedAt),
		"unused_seconds":            intValue(f.UnusedSeconds),
	}
}

func mapValue(m map[string]any) any {
	if m == nil {
		return nil
	}
	return m
}

func strValue(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

func intValue(i *int64) any {
	if i == nil {
		return nil
	}
	return *i
}

func timeValue(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

// stringsValue keeps the nil/empty distinction: nil is null, an empty slice is [].
func stringsValue(s []string) any {
	if s == nil {
		return nil
	}
	out := make([]any, len(s))
	for i, e := range s {
		out[i] = e
	}
	return out
}

// The member names of input.token, made once: ast.InternedTerm makes a new term for every
// string OPA has not interned itself, and terms are never modified once built.
var (
	keyReason                  = ast.StringTerm("reason")
	keyReviewedBy              = ast.StringTerm("reviewed_by")
	keyName                    = ast.StringTerm("name")
	keyPurpose                 = ast.StringTerm("purpose")
	keyOwner                   = ast.StringTerm("owner")
	keyScopes                  = ast.StringTerm("scopes")
	keyDataCategories          = ast.StringTerm("data_categories")
	keyDataSubjects            = ast.StringTerm("data_subjects")
	keyAudiences               = ast.StringTerm("audiences")
	keyTTLSeconds              = ast.StringTerm("ttl_seconds")
	keyExpiresAt               = ast.StringTerm("expires_at")
	keyExpiresInSeconds        = ast.StringTerm("expires_in_seconds")
	keyNeverExpires            = ast.StringTerm("never_expires")
	keyRotationIntervalSeconds = ast.StringTerm("rotation_interval_seconds")
	keyRotationOverlapSeconds  = ast.StringTerm("rotation_overlap_seconds")
	keyRotationConfigured      = ast.StringTerm("rotation_configured")
	keyRenewal                 = ast.StringTerm("renewal")
	keyRenewalRequested        = ast.StringTerm("renewal_requested")
	keyStatus                  = ast.StringTerm("status")
	keyLastUsedAt              = ast.StringTerm("last_used_at")
	keyUnusedSeconds           = ast.StringTerm("unused_seconds")
	keyAddress                 = ast.StringTerm("address")
	keyModule                  = ast.StringTerm("module")
	keyType                    = ast.StringTerm("type")
	keyProvider                = ast.StringTerm("provider")
	keyManagedBy               = ast.StringTerm("managed_by")
	keyActions                 = ast.StringTerm("actions")
	keyBefore                  = ast.StringTerm("before")
	keyAfter                   = ast.StringTerm("after")
	keyUnknown                 = ast.StringTerm("unknown")
	keySensitive               = ast.StringTerm("sensitive")
	keyFields                  = ast.StringTerm("fields")
)

// term builds the OPA value of input.token directly, without the intermediate Go maps of
// value (which the tests keep as the reference: both must render the same value). Before
// and After hold plan values of any shape and go through ast.InterfaceToValue.
func (t Token) term() (*ast.Term, error) { return t.termWith(true) }

// termWith is term, with before and after left out unless raw: converting the raw planned
// values is most of the cost of the input, and rules that declare their reads rarely need them.
func (t Token) termWith(raw bool) (*ast.Term, error) {
	before, after := ast.InternedNullTerm, ast.InternedNullTerm
	if raw {
		var err error
		if before, err = anyTerm(mapValue(t.Before)); err != nil {
			return nil, err
		}
		if after, err = anyTerm(mapValue(t.After)); err != nil {
			return nil, err
		}
	}
	f := t.Fields
	renewal := ast.InternedNullTerm
	if f.Renewal != nil {
		renewal = ast.ObjectTerm(
			[2]*ast.Term{keyReason, strTerm(f.Renewal.Reason)},
			[2]*ast.Term{keyReviewedBy, strTerm(f.Renewal.ReviewedBy)},
		)
	}
	fields := ast.ObjectTerm(
		[2]*ast.Term{keyName, strTerm(f.Name)},
		[2]*ast.Term{keyPurpose, strTerm(f.Purpose)},
		[2]*ast.Term{keyOwner, strTerm(f.Owner)},
		[2]*ast.Term{keyScopes, stringsTerm(f.Scopes)},
		[2]*ast.Term{keyDataCategories, stringsTerm(f.DataCategories)},
		[2]*ast.Term{keyDataSubjects, stringsTerm(f.DataSubjects)},
		[2]*ast.Term{keyAudiences, stringsTerm(f.Audiences)},
		[2]*ast.Term{keyTTLSeconds, intTerm(f.TTLSeconds)},
		[2]*ast.Term{keyExpiresAt, timeTerm(f.ExpiresAt)},
		[2]*ast.Term{keyExpiresInSeconds, intTerm(f.ExpiresInSeconds)},
		[2]*ast.Term{keyNeverExpires, ast.InternedTerm(f.NeverExpires)},
		[2]*ast.Term{keyRotationIntervalSeconds, intTerm(f.RotationIntervalSeconds)},
		[2]*ast.Term{keyRotationOverlapSeconds, intTerm(f.RotationOverlapSeconds)},
		[2]*ast.Term{keyRotationConfigured, ast.InternedTerm(f.RotationConfigured)},
		[2]*ast.Term{keyRenewal, renewal},
		[2]*ast.Term{keyRenewalRequested, ast.InternedTerm(f.RenewalRequested)},
		[2]*ast.Term{keyStatus, strTerm(f.Status)},
		[2]*ast.Term{keyLastUsedAt, timeTerm(f.LastUsedAt)},
		[2]*ast.Term{keyUnusedSeconds, intTerm(f.UnusedSeconds)},
	)
	kvs := [][2]*ast.Term{
		{keyAddress, ast.StringTerm(t.Address)},
		{keyModule, ast.StringTerm(t.Module)},
		{keyType, ast.StringTerm(t.Type)},
		{keyName, ast.StringTerm(t.Name)},
		{keyProvider, ast.StringTerm(t.Provider)},
		{keyManagedBy, ast.StringTerm(t.ManagedBy)},
		{keyActions, stringsTerm(t.Actions)},
		{keyUnknown, stringsTerm(t.Unknown)},
		{keySensitive, stringsTerm(t.Sensitive)},
		{keyFields, fields},
	}
	if raw {
		kvs = append(kvs, [2]*ast.Term{keyBefore, before}, [2]*ast.Term{keyAfter, after})
	}
	return ast.ObjectTerm(kvs...), nil
}

func anyTerm(v any) (*ast.Term, error) {
	if v == nil {
		return ast.InternedNullTerm, nil
	}
	x, err := ast.InterfaceToValue(v)
	if err != nil {
		return nil, err
	}
	return ast.NewTerm(x), nil
}

func strTerm(s *string) *ast.Term {
	if s == nil {
		return ast.InternedNullTerm
	}
	return ast.StringTerm(*s)
}

func intTerm(i *int64) *ast.Term {
	if i == nil {
		return ast.InternedNullTerm
	}
	return ast.InternedTerm(*i) // shared for small numbers, a new term otherwise
}

func timeTerm(t *time.Time) *ast.Term {
	if t == nil {
		return ast.InternedNullTerm
	}
	return ast.StringTerm(t.UTC().Format(time.RFC3339))
}

// stringsTerm keeps the nil/empty distinction, like stringsValue.
func stringsTerm(s []string) *ast.Term {
	if s == nil {
		return ast.InternedNullTerm
	}
	terms := make([]*ast.Term, len(s))
	backing := make([]ast.Term, len(s)) // one allocation for all element terms
	for i, e := range s {
		backing[i].Value = ast.String(e)
		terms[i] = &backing[i]
	}
	return ast.ArrayTerm(terms...)
}

// MarshalJSON renders the token exactly as policies see it in input.token.
func (t Token) MarshalJSON() ([]byte, error) { return json.Marshal(t.value()) }

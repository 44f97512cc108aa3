package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// constantBundle is a bundle whose helper rules are partly input-independent: words and
// word_count are built from data only, shout depends on the input, stamp on a
// non-deterministic builtin, and up is a function. Both deny rules use words; W-WITH first
// replaces, with `with`, the data that words is built from.
func constantBundle() fstest.MapFS {
	meta := func(id string) string {
		return "# METADATA\n# title: " + id + "\n# custom:\n#   id: " + id + "\n#   scope: token\n"
	}
	return fstest.MapFS{
		"data.json": {Data: []byte(`{"cfg": {"words": ["banned"]}}`)},
		"lib.rego": {Data: []byte(`package lib

words := {w | some w in data.cfg.words}

word_count := count(words)

shout := upper(input.token.fields.purpose)

stamp := time.now_ns()

up(x) := upper(x)
`)},
		"plain.rego": {Data: []byte(meta("W-PLAIN") + `package plain

deny contains "plain" if input.token.fields.purpose in data.lib.words
`)},
		"with.rego": {Data: []byte(meta("W-WITH") + `package withdata

deny contains "with" if {
	input.token.fields.purpose in data.lib.words with data.cfg.words as ["replaced"]
}
`)},
	}
}

func TestConstantRules_onlyInputIndependentRulesAreComputedOnce(t *testing.T) {
	src, err := loadSources(constantBundle(), nil, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	c, err := compile(src.modules)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, cv := range constantRules(context.Background(), c, inmem.NewFromObject(src.data)) {
		got[cv.ref.String()] = cv.value.String()
	}
	want := map[string]string{
		"data.lib.words":      `{"banned"}`,
		"data.lib.word_count": "1",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("constant rules = %v\nwant %v (not shout: input; not stamp: non-deterministic; not up: a function; not deny: findings)", got, want)
	}
}

func TestConstantCache_servesSharedValuesOnlyOutsideWith(t *testing.T) {
	words := ast.MustParseRef("data.lib.words")
	shared := ast.SetTerm(ast.StringTerm("banned"))
	c := &constantCache{shared: []constantValue{{ref: words, value: shared}}, inner: topdown.NewVirtualCache()}
	if v, _ := c.Get(words); v != shared {
		t.Fatalf("Get at depth 0 = %v, want the shared value", v)
	}
	c.Push()
	if v, _ := c.Get(words); v != nil {
		t.Errorf("Get inside a with = %v, want a miss so the rule is evaluated on the replaced data", v)
	}
	replaced := ast.SetTerm(ast.StringTerm("replaced"))
	c.Put(words, replaced)
	if v, _ := c.Get(words); v != replaced {
		t.Errorf("Get inside a with after Put = %v, want the value computed inside the with", v)
	}
	c.Pop()
	if v, _ := c.Get(words); v != shared {
		t.Errorf("Get after the with = %v, want the shared value again", v)
	}
}

func TestEngine_withInUserPolicyBypassesSharedConstants(t *testing.T) {
	e, err := NewEngine(context.Background(), Options{Bundle: constantBundle(), Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	var tokens []Token
	for _, purpose := range []string{"banned", "replaced", "Reads invoices for the monthly report"} {
		tokens = append(tokens, NormalizeToken(TokenChange{
			Address: "tokenguard_api_token." + strings.Fields(purpose)[0], Type: TokenguardType,
			Actions: []string{"create"}, After: map[string]any{"purpose": purpose},
		}, planTime))
	}
	// Evaluate twice: the second round must not see values cached by the first.
	for round := range 2 {
		fs, err := e.EvaluateTokens(context.Background(), tokens, PlanFacts{Timestamp: &planTime})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{
			"tokenguard_api_token.banned: W-PLAIN",  // the bundle's data, served from the shared cache
			"tokenguard_api_token.replaced: W-WITH", // the words of the with, not the cached ones
		}
		if got := idsByAddress(fs); !slices.Equal(got, want) {
			t.Errorf("round %d: findings %q, want %q", round, got, want)
		}
	}
}

func TestReadPlan_lazyKeepsRawChangesUntilDecoded(t *testing.T) {
	plan := readFixture(t, "tokenguard.json")
	eager, err := ReadPlan(bytes.NewReader(plan))
	if err != nil {
		t.Fatal(err)
	}
	lazy, err := readPlan(bytes.NewReader(plan), true)
	if err != nil {
		t.Fatal(err)
	}
	if len(lazy.Changes) != len(eager.Changes) || len(lazy.Changes) != 5 {
		t.Fatalf("lazy read %d changes, eager %d; want 5", len(lazy.Changes), len(eager.Changes))
	}
	for i := range lazy.Changes {
		l := &lazy.Changes[i]
		if len(l.raw) == 0 || l.Actions != nil || l.After != nil || l.AfterUnknown != nil || l.AfterSensitive != nil {
			t.Errorf("%s: lazily read change is already decoded (raw %d bytes, actions %v)", l.Address, len(l.raw), l.Actions)
		}
		if err := l.decodeChange(); err != nil {
			t.Fatalf("%s: decodeChange: %v", l.Address, err)
		}
		if l.raw != nil {
			t.Errorf("%s: raw bytes kept after decoding", l.Address)
		}
		if !reflect.DeepEqual(*l, eager.Changes[i]) {
			t.Errorf("%s: lazily decoded change differs from the eager one:\n%+v\n%+v", l.Address, *l, eager.Changes[i])
		}
		before := *l
		if err := l.decodeChange(); err != nil || !reflect.DeepEqual(*l, before) {
			t.Errorf("%s: a second decodeChange changed the change or failed: %v", l.Address, err)
		}
	}
}

func TestEngine_badChangeObjectIsInputErrorNamingTheResource(t *testing.T) {
	bad := `{"format_version":"1.2","resource_changes":[{"address":"tokenguard_api_token.x","mode":"managed","type":"tokenguard_api_token","name":"x","change":["create"]}]}`
	// Read eagerly, the bad change fails the read; read lazily, it fails when decoded.
	if _, err := readPlan(strings.NewReader(bad), false); !errors.Is(err, ErrInvalidPlan) || !strings.Contains(err.Error(), "plan resource change tokenguard_api_token.x: change is not an object") {
		t.Errorf("eager read: err = %v", err)
	}
	p, err := readPlan(strings.NewReader(bad), true)
	if err != nil || len(p.Changes) != 1 {
		t.Fatalf("lazy read: %v, %d changes", err, len(p.Changes))
	}
	e := testEngine(t, Options{})
	_, err = e.EvaluatePlan(context.Background(), strings.NewReader(bad))
	if !errors.Is(err, ErrInvalidPlan) || !strings.Contains(err.Error(), "plan resource change tokenguard_api_token.x: change is not an object") {
		t.Errorf("EvaluatePlan: err = %v", err)
	}
}

// manyTokensPlan is a plan of n tokenguard tokens (a third with a generic purpose, a fifth
// with a ttl over the cap, some unknown, some deleted) interleaved with unrelated resources.
func manyTokensPlan(t *testing.T, n int) []byte {
	t.Helper()
	var changes []map[string]any
	for i := range n {
		after := map[string]any{
			"name": fmt.Sprintf("t%d", i), "purpose": "Reads invoices for the monthly revenue report",
			"ttl": "30d", "rotation": map[string]any{"interval": "7d"},
		}
		if i%3 == 0 {
			after["purpose"] = "misc"
		}
		if i%5 == 0 {
			after["ttl"] = "365d"
		}
		var unknown map[string]any
		if i%11 == 0 {
			unknown = map[string]any{"purpose": true}
		}
		actions := []string{"create"}
		if i%13 == 0 {
			actions = []string{"delete"}
		}
		changes = append(changes,
			change(TokenguardType, fmt.Sprintf("t%04d", i), actions, nil, after, unknown),
			change("null_resource", fmt.Sprintf("n%d", i), []string{"create"}, nil, map[string]any{}, nil))
	}
	return planJSON(t, changes...)
}

func TestEngine_parallelPlanEvaluationEqualsSequential(t *testing.T) {
	e := testEngine(t, Options{})
	plan := manyTokensPlan(t, 600)

	// Sequential reference: eager read, normalise, one token at a time, plan rules, sort.
	p, err := ReadPlan(bytes.NewReader(plan))
	if err != nil {
		t.Fatal(err)
	}
	facts := PlanFacts{Timestamp: &planTime, Outputs: p.Outputs, ProviderEndpoints: p.ProviderEndpoints}
	planTerm, err := facts.term()
	if err != nil {
		t.Fatal(err)
	}
	var want []Finding
	var resources []string
	for _, tok := range Normalize(p, planTime) {
		call := e.newCall(context.Background(), planTime)
		fs, err := e.evaluateToken(context.Background(), call, tok, planTerm)
		call.end()
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, fs...)
		resources = append(resources, tok.Address)
	}
	call := e.newCall(context.Background(), planTime)
	defer call.end()
	planFindings, err := e.evaluatePlanRules(context.Background(), call, facts)
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, planFindings...)
	SortFindings(want)
	slices.Sort(resources)

	// 600 tokens, 47 deleted (i%13 == 0). Generic purposes: 200 (i%3), less 16 deleted (i%39)
	// and 19 unknown (i%33), 2 of them both (i%429): 167. Long ttls: 120 (i%5), less 10
	// deleted (i%65): 110.
	if len(resources) != 553 {
		t.Fatalf("sequential reference checked %d tokens, want 553", len(resources))
	}
	counts := map[string]int{}
	for _, f := range want {
		counts[f.RuleID]++
	}
	if !reflect.DeepEqual(counts, map[string]int{"TEST-PURPOSE": 167, "TEST-EXPIRY": 110}) {
		t.Fatalf("sequential reference counts = %v", counts)
	}

	wantJSON, _ := json.Marshal(want)
	for run := range 3 {
		res, err := e.EvaluatePlan(context.Background(), bytes.NewReader(plan))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := json.Marshal(res.Findings)
		if !bytes.Equal(got, wantJSON) {
			t.Fatalf("run %d: parallel findings differ from sequential (%d vs %d findings)", run, len(res.Findings), len(want))
		}
		if !slices.Equal(res.Resources, resources) || res.ResourcesChecked != len(resources) {
			t.Errorf("run %d: resources differ: %d checked", run, res.ResourcesChecked)
		}
		if !res.Timestamp.Equal(planTime) {
			t.Errorf("run %d: timestamp %v", run, res.Timestamp)
		}
	}
}

func TestEngine_cancelledContextStopsEvaluation(t *testing.T) {
	e := testEngine(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := e.EvaluatePlan(ctx, bytes.NewReader(manyTokensPlan(t, 50)))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// TestToken_jsonIsDerivedFromTheTerm: the JSON form of a token (MarshalJSON, what
// `tokenguard policy` tooling and tests print) is derived from the one representation the
// engine evaluates (term): it decodes back to the same OPA value for every fixture token, and
// pins the input.token contract (nil is null, empty is [], times in RFC 3339) exactly.
func TestToken_jsonIsDerivedFromTheTerm(t *testing.T) {
	p, err := ReadPlan(bytes.NewReader(readFixture(t, "tokenguard.json")))
	if err != nil {
		t.Fatal(err)
	}
	tokens := Normalize(p, planTime)
	str := func(s string) *string { return &s }
	n := int64(86400)
	tokens = append(tokens,
		Token{Address: "x.full", Actions: []string{}, Unknown: []string{}, Fields: Fields{
			Name: str("n"), Purpose: str("p"), Owner: str("o"), Scopes: []string{"a:read"}, DataCategories: []string{},
			TTLSeconds: &n, ExpiresAt: &planTime, ExpiresInSeconds: &n, NeverExpires: true, RotationIntervalSeconds: &n,
			RotationOverlapSeconds: &n, RotationConfigured: true, Renewal: &Renewal{Reason: str("r")}, RenewalRequested: true,
			Status: str("active"), LastUsedAt: &planTime, UnusedSeconds: &n,
		}, After: map[string]any{"ttl": json.Number("30"), "nested": map[string]any{"l": []any{true, nil, "s"}}}},
		Token{Address: "x.empty"})
	if len(tokens) != 6 {
		t.Fatalf("%d tokens, want 6", len(tokens))
	}
	golden := map[string]string{
		"x.full":  `{"actions":[],"address":"x.full","after":{"nested":{"l":[true,null,"s"]},"ttl":30},"before":null,"fields":{"age_seconds":null,"audiences":null,"data_categories":[],"data_subjects":null,"expires_at":"2026-11-27T12:00:00Z","expires_in_seconds":86400,"last_used_at":"2026-11-27T12:00:00Z","name":"n","never_expires":true,"owner":"o","purpose":"p","recipient":null,"renewal":{"reason":"r","reviewed_by":null},"renewal_requested":true,"rotation_configured":true,"rotation_interval_seconds":86400,"rotation_overlap_seconds":86400,"scopes":["a:read"],"status":"active","ttl_seconds":86400,"unused_seconds":86400},"managed_by":"","module":"","name":"","provider":"","sensitive":null,"type":"","unknown":[]}`,
		"x.empty": `{"actions":null,"address":"x.empty","after":null,"before":null,"fields":{"age_seconds":null,"audiences":null,"data_categories":null,"data_subjects":null,"expires_at":null,"expires_in_seconds":null,"last_used_at":null,"name":null,"never_expires":false,"owner":null,"purpose":null,"recipient":null,"renewal":null,"renewal_requested":false,"rotation_configured":false,"rotation_interval_seconds":null,"rotation_overlap_seconds":null,"scopes":null,"status":null,"ttl_seconds":null,"unused_seconds":null},"managed_by":"","module":"","name":"","provider":"","sensitive":null,"type":"","unknown":null}`,
	}
	for _, tok := range tokens {
		b, err := json.Marshal(tok)
		if err != nil {
			t.Fatal(err)
		}
		if want, ok := golden[tok.Address]; ok && string(b) != want {
			t.Errorf("%s: JSON\n%s\nwant\n%s", tok.Address, b, want)
		}
		decoded, err := ast.ValueFromReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		term, err := tok.term()
		if err != nil {
			t.Fatal(err)
		}
		if term.Value.Compare(decoded) != 0 {
			t.Errorf("%s: JSON decodes to\n%v\nwant the term\n%v", tok.Address, decoded, term)
		}
	}
}

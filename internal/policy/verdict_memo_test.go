package policy

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// memoRules are user rules whose verdicts depend on what the memo must key on besides the
// bundle's declared reads: the checked instant, through time.now_ns (one rule on the whole
// token, one with declared reads) and through input.plan.timestamp (each fires from cutoff
// on); input.plan's outputs; and a field read by a rule on the whole token.
func memoRules(t *testing.T, cutoff time.Time) string {
	t.Helper()
	dir := t.TempDir()
	ns := strconv.FormatInt(cutoff.UnixNano(), 10)
	rule := func(id, reads, cond string) string {
		r := "# METADATA\n# title: Frozen after the cut-off\n# custom:\n#   id: " + id + "\n#   severity: error\n" +
			"#   remediation: \"Plan before the cut-off.\"\n#   scope: token\n#   gates: [provider, check, service]\n"
		if reads != "" {
			r += "#   reads: [" + reads + "]\n"
		}
		return r + "package acme." + id[len("ACME-"):] + "\n\ndeny contains \"planned after the cut-off\" if {\n\t" + cond + "\n}\n"
	}
	files := map[string]string{
		"now_whole.rego": rule("ACME-nowwhole", "", "time.now_ns() >= "+ns),
		"now_reads.rego": rule("ACME-nowreads", "fields.owner", "time.now_ns() >= "+ns),
		"plan_ts.rego":   rule("ACME-plants", "", "time.parse_rfc3339_ns(input.plan.timestamp) >= "+ns),
		"plan_out.rego":  rule("ACME-planout", "", "count(input.plan.outputs) > 0"),
		"owner.rego":     rule("ACME-owner", "", `input.token.fields.owner == "alice@example.com"`),
	}
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestKeepVerdicts_sameFindingsAsFreshEvaluation: an engine that keeps its verdicts across
// calls (the provider gate's) finds, on every call, exactly what an engine evaluating afresh
// finds, over a random sequence of one-token calls that repeat tokens (random values in every
// field the rules read, sensitive and unknown paths, both managed_by kinds) at instants on
// both sides of a cut-off that user rules read through time.now_ns and input.plan.timestamp,
// with erased subjects in the data. A memo key that missed anything the engine sees (a field,
// the instant, input.plan) would answer one of these calls with another's findings.
func TestKeepVerdicts_sameFindingsAsFreshEvaluation(t *testing.T) {
	ctx := context.Background()
	data := filepath.Join(t.TempDir(), "erased.json")
	if err := os.WriteFile(data, []byte(`{"tokenguard": {"erased_subjects": ["subject-erased"]}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cutoff := planTime.Add(time.Second)
	instants := []time.Time{planTime.Add(-time.Second), planTime, cutoff, planTime.Add(2 * time.Second)}
	for _, gate := range []string{GateProvider, GateService} {
		t.Run(gate, func(t *testing.T) {
			opts := Options{Gate: gate, DataFiles: []string{data}, ExtraPolicyDirs: []string{memoRules(t, cutoff)}, Now: fixedNow}
			fresh, err := NewEngine(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			opts.KeepVerdicts = true
			kept, err := NewEngine(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(3, 5)) //nolint:gosec // reproducible test data, not a secret
			// Two sets under the same addresses: the address alone does not identify a token.
			tokens := append(randomTokens(r, 150), randomTokens(r, 150)...)
			fired := map[string]int{}
			calls := 0
			// Runs of calls at one instant, as a plan's tokens within one second, then another.
			for run := range 40 {
				now := instants[r.IntN(len(instants))]
				facts := PlanFacts{Timestamp: &now}
				if run%9 == 4 {
					facts.Outputs = []Output{{Name: "clear", References: []string{tokens[0].Address + ".secret"}}}
				}
				for range 1 + r.IntN(60) {
					tok := tokens[r.IntN(len(tokens))]
					got, err := kept.EvaluateTokens(ctx, []Token{tok}, facts)
					if err != nil {
						t.Fatal(err)
					}
					want, err := fresh.EvaluateTokens(ctx, []Token{tok}, facts)
					if err != nil {
						t.Fatal(err)
					}
					calls++
					if fmt.Sprint(got) != fmt.Sprint(want) {
						t.Fatalf("call %d (%s at %s): kept verdicts\n %+v\nwant\n %+v", calls, tok.Address, now.Format(time.RFC3339), got, want)
					}
					for _, f := range want {
						fired[f.RuleID]++
					}
				}
			}
			for _, id := range []string{"ACME-nowwhole", "ACME-nowreads", "ACME-plants", "ACME-planout", "ACME-owner", "CPRA-DEL-001", "CPRA-MIN-002", "CPRA-SPI-001"} {
				if fired[id] == 0 || fired[id] == calls && id[:5] == "ACME-" {
					t.Errorf("rule %s fired on %d of %d calls: the sequence does not test what it depends on", id, fired[id], calls)
				}
			}
			if k, f := kept.Evaluations(), fresh.Evaluations(); k >= f {
				t.Errorf("kept verdicts evaluated %d queries, a fresh engine %d: want fewer", k, f)
			}
			t.Logf("%d calls: %d evaluations with kept verdicts, %d without", calls, kept.Evaluations(), fresh.Evaluations())
		})
	}
}

// TestKeepVerdicts_repeatedTokenEvaluatesOnce: the same token at the same instant with the same
// plan facts is evaluated once; at another instant, afresh; an engine without KeepVerdicts
// evaluates it every time.
func TestKeepVerdicts_repeatedTokenEvaluatesOnce(t *testing.T) {
	ctx := context.Background()
	kept, err := NewEngine(ctx, Options{Gate: GateProvider, KeepVerdicts: true, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := NewEngine(ctx, Options{Gate: GateProvider, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	owner, purpose, ttl := "team-billing", "Reads invoice totals for the monthly revenue report", int64(30*86400)
	tok := Token{Address: "tokenguard_api_token.a", Type: TokenguardType, Name: "a", ManagedBy: "tokenguard", Actions: []string{"create"},
		Fields: Fields{Owner: &owner, Purpose: &purpose, TTLSeconds: &ttl, Scopes: []string{"*"}, DataCategories: []string{"commercial"}}}
	eval := func(e *Engine, at time.Time) []Finding {
		t.Helper()
		fs, err := e.EvaluateTokens(ctx, []Token{tok}, PlanFacts{Timestamp: &at})
		if err != nil {
			t.Fatal(err)
		}
		return fs
	}
	first := eval(kept, planTime)
	once := kept.Evaluations()
	if once == 0 || len(first) == 0 {
		t.Fatalf("the first evaluation ran %d queries and found %v", once, first)
	}
	for range 3 {
		if again := eval(kept, planTime); fmt.Sprint(again) != fmt.Sprint(first) {
			t.Fatalf("repeated evaluation found %v, first %v", again, first)
		}
	}
	if n := kept.Evaluations(); n != once {
		t.Errorf("the repeated token ran %d more queries, want 0", n-once)
	}
	eval(kept, planTime.Add(time.Second))
	if n := kept.Evaluations(); n != 2*once {
		t.Errorf("at another instant the token ran %d queries, want %d (afresh)", n-once, once)
	}
	eval(plain, planTime)
	eval(plain, planTime)
	if n := plain.Evaluations(); n != 2*once {
		t.Errorf("without KeepVerdicts two evaluations ran %d queries, want %d", n, 2*once)
	}
}

// TestKeepVerdicts_planOfSimilarTokens: 500 tokens that differ only in their names (the
// provider benchmark's configuration), planned one per call within one second, evaluate each
// rule once for the first token and nothing for the others (every rule of the provider gate
// declares its reads, and no read differs); the findings name each token's own address.
func TestKeepVerdicts_planOfSimilarTokens(t *testing.T) {
	ctx := context.Background()
	kept, err := NewEngine(ctx, Options{Gate: GateProvider, KeepVerdicts: true, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	owner, purpose, ttl, interval, overlap := "team-billing", "Reads invoice totals for the monthly revenue report",
		int64(30*86400), int64(7*86400), int64(3600)
	var first int64
	for i := range 500 {
		name := fmt.Sprintf("bench_%d", i)
		tok := Token{Address: "tokenguard_api_token." + name, Type: TokenguardType, Name: name, ManagedBy: "tokenguard",
			Actions: []string{"create"}, Unknown: []string{"expires_at", "id", "secret", "status"}, Sensitive: []string{"secret"},
			Fields: Fields{Name: &name, Owner: &owner, Purpose: &purpose, TTLSeconds: &ttl, Scopes: []string{"invoices:read", "*"},
				DataCategories: []string{"commercial"}, Audiences: []string{"billing-api"}, RotationConfigured: true,
				RotationIntervalSeconds: &interval, RotationOverlapSeconds: &overlap}}
		fs, err := kept.EvaluateTokens(ctx, []Token{tok}, PlanFacts{Timestamp: &planTime})
		if err != nil {
			t.Fatal(err)
		}
		if len(fs) != 1 || fs[0].RuleID != "CPRA-MIN-002" || fs[0].Address != tok.Address {
			t.Fatalf("token %d: findings %+v, want CPRA-MIN-002 on %s", i, fs, tok.Address)
		}
		if i == 0 {
			first = kept.Evaluations()
		}
	}
	if n := kept.Evaluations(); first == 0 || n != first {
		t.Errorf("500 tokens ran %d queries, the first alone %d: want no more after the first", n, first)
	}
}

// TestKeepVerdicts_concurrentCalls: calls from parallel workers (Terraform plans ten resources
// at a time) at instants that keep replacing the memo's epochs find what a fresh engine finds.
// Run with -race.
func TestKeepVerdicts_concurrentCalls(t *testing.T) {
	ctx := context.Background()
	kept, err := NewEngine(ctx, Options{Gate: GateProvider, KeepVerdicts: true, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := NewEngine(ctx, Options{Gate: GateProvider, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	tokens := randomTokens(rand.New(rand.NewPCG(9, 13)), 40) //nolint:gosec // reproducible test data, not a secret
	errs := make(chan error, 8)
	for w := range 8 {
		go func() {
			for i := range 60 {
				now := planTime.Add(time.Duration((w+i)%3) * time.Second)
				tok := tokens[(w*7+i)%len(tokens)]
				got, err := kept.EvaluateTokens(ctx, []Token{tok}, PlanFacts{Timestamp: &now})
				if err != nil {
					errs <- err
					return
				}
				want, err := fresh.EvaluateTokens(ctx, []Token{tok}, PlanFacts{Timestamp: &now})
				if err != nil {
					errs <- err
					return
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					errs <- fmt.Errorf("worker %d call %d (%s): kept %+v, want %+v", w, i, tok.Address, got, want)
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

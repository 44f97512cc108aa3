package policy

import (
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/policies"
)

// withoutReads is the embedded bundle with every custom.reads line removed: each rule then
// sees the whole token, as the OPA tester's unit tests give it.
func withoutReads(t *testing.T) fs.FS {
	t.Helper()
	out := fstest.MapFS{}
	reads := regexp.MustCompile(`(?m)^#\s+reads:.*\n`)
	err := fs.WalkDir(policies.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(policies.FS, path)
		if err != nil {
			return err
		}
		out[path] = &fstest.MapFile{Data: reads.ReplaceAll(b, nil)}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestProjections_sameFindingsAsWholeTokens: for every gate, the engine (rules on their declared
// projections, findings reused across tokens with equal projections) finds exactly what the same bundle
// finds with every rule on the whole token, on thousands of random tokens built to hit every
// branch of the rules, and on each token alone (no reuse).
func TestProjections_sameFindingsAsWholeTokens(t *testing.T) {
	ctx := context.Background()
	data := filepath.Join(t.TempDir(), "erased.json")
	if err := os.WriteFile(data, []byte(`{"tokenguard": {"erased_subjects": ["subject-erased"]}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tokens := randomTokens(rand.New(rand.NewPCG(7, 11)), 3000) //nolint:gosec // reproducible test data, not a secret
	facts := PlanFacts{Timestamp: &planTime, Outputs: []Output{
		{Name: "clear_secret", References: []string{tokens[0].Address + ".secret", tokens[1].Address}},
		{Name: "whole", References: []string{tokens[2].Address}},
		{Name: "hidden", Sensitive: true, References: []string{tokens[3].Address + ".secret"}},
	}}
	for _, gate := range []string{GateCheck, GateProvider, GateService} {
		t.Run(gate, func(t *testing.T) {
			withReads, err := NewEngine(ctx, Options{Gate: gate, DataFiles: []string{data}, Now: fixedNow})
			if err != nil {
				t.Fatal(err)
			}
			whole, err := NewEngine(ctx, Options{Gate: gate, Bundle: withoutReads(t), DataFiles: []string{data}, Now: fixedNow})
			if err != nil {
				t.Fatal(err)
			}
			declared := 0
			for _, r := range withReads.Rules() {
				if r.Reads != nil {
					declared++
				}
			}
			for _, r := range whole.Rules() {
				if r.Reads != nil {
					t.Fatalf("rule %s still declares reads in the stripped bundle", r.ID)
				}
			}
			if declared < 15 {
				t.Fatalf("only %d rules declare reads; the bundle's token rules should", declared)
			}
			got, err := withReads.EvaluateTokens(ctx, tokens, facts)
			if err != nil {
				t.Fatal(err)
			}
			want, err := whole.EvaluateTokens(ctx, tokens, facts)
			if err != nil {
				t.Fatal(err)
			}
			if len(want) < len(tokens)/2 {
				t.Fatalf("only %d findings on %d random tokens: the generator misses the rules", len(want), len(tokens))
			}
			compareFindings(t, got, want)
			ids := map[string]int{}
			for _, f := range want {
				ids[f.RuleID]++
			}
			for _, r := range withReads.Rules() {
				if r.Scope == ScopeToken && ids[r.ID] == 0 && slices.Contains(r.Gates, gate) {
					t.Errorf("rule %s never fired on the random tokens: extend randomTokens so it is compared", r.ID)
				}
			}
			// One token at a time: the first evaluation of every projection.
			var alone []Finding
			for _, tok := range tokens[:300] {
				fs, err := withReads.EvaluateTokens(ctx, []Token{tok}, facts)
				if err != nil {
					t.Fatal(err)
				}
				alone = append(alone, fs...)
			}
			SortFindings(alone)
			wantFirst, err := whole.EvaluateTokens(ctx, tokens[:300], facts)
			if err != nil {
				t.Fatal(err)
			}
			compareFindings(t, alone, wantFirst)
		})
	}
}

func compareFindings(t *testing.T, got, want []Finding) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d findings, want %d", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Fatalf("finding %d:\n got  %+v\n want %+v", i, got[i], want[i])
		}
	}
}

// TestProjections_coldTableStillFindsEverything: a rule whose read field differs on every token
// (purpose) stops keeping projections after coldAfter lookups and keeps finding.
func TestProjections_coldTableStillFindsEverything(t *testing.T) {
	ctx := context.Background()
	e, err := NewEngine(ctx, Options{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	n := coldAfter * 2
	tokens := make([]Token, n)
	for i := range tokens {
		purpose := fmt.Sprintf("p%d", i) // unique, and shorter than 12 characters: MIN-001 fires
		tokens[i] = Token{
			Address: fmt.Sprintf("tokenguard_api_token.t%d", i), Type: TokenguardType, ManagedBy: "tokenguard",
			Actions: []string{"create"}, Fields: Fields{Purpose: &purpose},
		}
	}
	fs, err := e.EvaluateTokens(ctx, tokens, PlanFacts{Timestamp: &planTime})
	if err != nil {
		t.Fatal(err)
	}
	short := 0
	for _, f := range fs {
		if f.RuleID == "CPRA-MIN-001" {
			short++
			i := strings.TrimPrefix(f.Address, "tokenguard_api_token.t")
			if !strings.Contains(f.Message, "2 characters") && !strings.Contains(f.Message, "3 characters") && !strings.Contains(f.Message, "4 characters") && !strings.Contains(f.Message, "5 characters") {
				t.Fatalf("token %s: %q", i, f.Message)
			}
		}
	}
	if short != n {
		t.Fatalf("MIN-001 fired on %d of %d tokens", short, n)
	}
}

// TestReads_badDeclarationsAreRefused: a reads entry that is no token path is an error that
// names the rule and the path.
func TestReads_badDeclarationsAreRefused(t *testing.T) {
	for entry, want := range map[string]string{ //nolint:gosec // rule paths and error texts, not credentials
		"fields.purpos": `reads "fields.purpos", which is not a field`,
		"fields":        "reads all of fields",
		"token.purpose": `reads "token.purpose", which is not a path of input.token`,
	} {
		bundle := fstest.MapFS{"p.rego": &fstest.MapFile{Data: []byte(`# METADATA
# title: T
# custom:
#   id: X-1
#   reads: [` + entry + `]
package x

deny contains "x" if input.token.fields.purpose == ""
`)}}
		_, err := NewEngine(context.Background(), Options{Bundle: bundle})
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "X-1") {
			t.Errorf("reads [%s]: error %v, want one containing %q and the rule id", entry, err, want)
		}
	}
}

// randomTokens builds tokens whose fields take the values the rules distinguish: unset,
// blank, generic, short, unknown, sensitive, out of bounds and within bounds.
func randomTokens(r *rand.Rand, n int) []Token {
	pick := func(xs ...string) *string {
		s := xs[r.IntN(len(xs))]
		if s == "<nil>" {
			return nil
		}
		return &s
	}
	num := func(xs ...int64) *int64 {
		if r.IntN(6) == 0 {
			return nil
		}
		v := xs[r.IntN(len(xs))]
		return &v
	}
	list := func(pool ...string) []string {
		if r.IntN(5) == 0 {
			return nil
		}
		var out []string
		for range r.IntN(4) {
			out = append(out, pool[r.IntN(len(pool))])
		}
		if out == nil {
			out = []string{}
		}
		return out
	}
	day := int64(86400)
	paths := []string{"purpose", "owner", "scopes", "data_categories", "data_subjects", "audiences", "ttl", "rotation",
		"rotation.interval", "rotation.overlap", "renewal", "renewal.reason", "renewal.reviewed_by", "status",
		"last_used_at", "expires_at", "secret", "id"}
	out := make([]Token, n)
	for i := range out {
		external := r.IntN(4) == 0
		tok := Token{
			Address: fmt.Sprintf("tokenguard_api_token.t%d", i), Type: TokenguardType, Name: fmt.Sprintf("t%d", i),
			Provider: "registry.terraform.io/tokenguard/tokenguard", ManagedBy: "tokenguard",
			Actions: [][]string{{"create"}, {"update"}, {"no-op"}, {"delete", "create"}}[r.IntN(4)],
		}
		if i%7 == 0 {
			tok.Module = "module.m"
			tok.Address = "module.m." + tok.Address
		}
		if external {
			tok.Type, tok.ManagedBy = []string{"gitlab_project_access_token", "aws_iam_access_key"}[r.IntN(2)], "external"
			tok.Address = tok.Type + fmt.Sprintf(".e%d", i)
		}
		for range r.IntN(3) {
			tok.Unknown = append(tok.Unknown, paths[r.IntN(len(paths))])
		}
		if r.IntN(3) == 0 {
			tok.Sensitive = append(tok.Sensitive, paths[r.IntN(len(paths))])
		}
		f := &tok.Fields
		f.Name = &tok.Name
		f.Purpose = pick("<nil>", "", "  ", "test", "TODO ", "short one", "Reads invoice totals for the monthly revenue report", fmt.Sprintf("Reads the ledger of account group %d for reconciliation", i))
		f.Owner = pick("<nil>", "", " ", "team-billing", "alice@example.com")
		f.Scopes = list("invoices:read", "reports:write", "*", "invoices:*", "admin", "billing:Admin", "root", "api", "sudo", "read_api")
		f.DataCategories = list("identifiers", "commercial", "health", "precise_geolocation", "biometric", "made_up", "internet_activity", "religious_beliefs")
		f.DataSubjects = list("subject-1", "subject-erased", "subject-2")
		f.Audiences = list("billing-api", "", " ", "reports")
		f.TTLSeconds = num(-1, 0, 3600, 7*day, 30*day, 31*day, 90*day, 91*day, 400*day)
		f.ExpiresInSeconds = num(-5*day, -1, 3600, 20*day, 45*day, 120*day, 800*day)
		f.NeverExpires = r.IntN(5) == 0
		f.RotationIntervalSeconds = num(0, 3600, 7*day, 8*day, 30*day, 31*day, 100*day)
		f.RotationOverlapSeconds = num(0, 3600, 24*3600, 25*3600, 7*day, 9*day)
		f.RotationConfigured = r.IntN(2) == 0
		if r.IntN(3) == 0 {
			f.Renewal = &Renewal{Reason: pick("<nil>", "", "quarterly access still needed"), ReviewedBy: pick("<nil>", " ", "Team-Billing", "bob@example.com", "alice@example.com")}
		}
		f.RenewalRequested = r.IntN(3) == 0
		f.Status = pick("<nil>", "active", "revoked", "expired")
		f.UnusedSeconds = num(0, 10*day, 31*day, 200*day)
		if f.UnusedSeconds != nil {
			at := planTime.Add(-time.Duration(*f.UnusedSeconds) * time.Second)
			f.LastUsedAt = &at
		}
		out[i] = tok
	}
	return out
}

// TestReads_rawValuesReachRulesThatDeclareThem: a rule that declares after sees the raw planned
// values; one that does not sees them absent, in its projection.
func TestReads_rawValuesReachRulesThatDeclareThem(t *testing.T) {
	rule := func(id, reads string) string {
		return `# METADATA
# title: Cost centre label
# custom:
#   id: ` + id + `
#   reads: [` + reads + `]
package acme.` + strings.ToLower(strings.ReplaceAll(id, "-", "_")) + `

deny contains "label cost_centre is missing" if not input.token.after.labels.cost_centre
`
	}
	bundle := fstest.MapFS{
		"a.rego": &fstest.MapFile{Data: []byte(rule("ACME-1", "after"))},
		"b.rego": &fstest.MapFile{Data: []byte(rule("ACME-2", "fields.owner"))},
	}
	e, err := NewEngine(context.Background(), Options{Bundle: bundle, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	tok := Token{Address: "tokenguard_api_token.a", Type: TokenguardType, ManagedBy: "tokenguard", Actions: []string{"create"},
		After: map[string]any{"labels": map[string]any{"cost_centre": "cc-1"}}}
	fs, err := e.EvaluateTokens(context.Background(), []Token{tok}, PlanFacts{Timestamp: &planTime})
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 || fs[0].RuleID != "ACME-2" {
		t.Fatalf("findings %+v, want only ACME-2 (its projection has no after)", fs)
	}
}

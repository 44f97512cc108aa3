package policy

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// clockBundle has one rule per scope, and one with declared reads, that each report the time
// the rule sees (time.now_ns) in their message.
var clockBundle = fstest.MapFS{
	"clock.rego": {Data: []byte(`# METADATA
# custom:
#   id: TEST-CLOCK-TOKEN
#   severity: warning
#   scope: token
package test.clock_token

deny contains sprintf("now %d", [time.now_ns()])
`)},
	"clock_reads.rego": {Data: []byte(`# METADATA
# custom:
#   id: TEST-CLOCK-READS
#   severity: warning
#   scope: token
#   reads: [fields.name]
package test.clock_reads

deny contains sprintf("now %d", [time.now_ns()])
`)},
	"clock_plan.rego": {Data: []byte(`# METADATA
# custom:
#   id: TEST-CLOCK-PLAN
#   severity: warning
#   scope: plan
package test.clock_plan

deny contains sprintf("now %d", [time.now_ns()])
`)},
}

// TestEngine_rulesSeeTheCheckedInstant: time.now_ns() in every kind of rule (whole token,
// declared reads, plan) is the instant the plan is checked against: the plan's timestamp,
// else Options.Now; for EvaluateTokens the facts' timestamp, else Options.Now. Before, every
// rule saw the wall clock.
func TestEngine_rulesSeeTheCheckedInstant(t *testing.T) {
	clock := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	factsTime := time.Date(2029, 1, 2, 3, 4, 5, 0, time.UTC)
	withTimestamp := planJSON(t, change(TokenguardType, "a", []string{"create"}, nil, map[string]any{"name": "a"}, nil))
	withoutTimestamp := bytes.Replace(withTimestamp, []byte(`"timestamp":"`+planTime.Format(time.RFC3339)+`"`), []byte(`"timestamp":null`), 1)
	if bytes.Equal(withTimestamp, withoutTimestamp) {
		t.Fatal("the plan without a timestamp still has one")
	}
	e := testEngine(t, Options{Bundle: clockBundle, Now: func() time.Time { return clock }})
	check := func(name string, fs []Finding, want time.Time, rules int) {
		t.Helper()
		if len(fs) != rules {
			t.Fatalf("%s: %d findings, want %d: %+v", name, len(fs), rules, fs)
		}
		for _, f := range fs {
			if want := "now " + strconv.FormatInt(want.UnixNano(), 10); f.Message != want {
				t.Errorf("%s: %s says %q, want %q", name, f.RuleID, f.Message, want)
			}
		}
	}
	res, err := e.EvaluatePlan(context.Background(), bytes.NewReader(withTimestamp))
	if err != nil {
		t.Fatal(err)
	}
	check("plan with timestamp", res.Findings, planTime, 3)
	res, err = e.EvaluatePlan(context.Background(), bytes.NewReader(withoutTimestamp))
	if err != nil {
		t.Fatal(err)
	}
	check("plan without timestamp", res.Findings, clock, 3)
	tok := Token{Address: "tokenguard_api_token.a", Type: TokenguardType, ManagedBy: "tokenguard"}
	fs, err := e.EvaluateTokens(context.Background(), []Token{tok}, PlanFacts{Timestamp: &factsTime})
	if err != nil {
		t.Fatal(err)
	}
	check("tokens with facts timestamp", fs, factsTime, 2)
	fs, err = e.EvaluateTokens(context.Background(), []Token{tok}, PlanFacts{})
	if err != nil {
		t.Fatal(err)
	}
	check("tokens without timestamp", fs, clock, 2)
}

// TestEngine_cancellationStopsASlowUserRule: a user rule that loops over a comprehension of
// 10^10 iterations (hours) is stopped mid-rule when the caller's context ends, and the check
// says it stopped and why. The rule first calls http.send on a loopback server, which cancels
// the context once the rule has started: no timing guess. Were cancellation not to reach the
// rule, the check would run for hours and the test would fail on its deadline.
func TestEngine_cancellationStopsASlowUserRule(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		cancel()
	}))
	defer started.Close()
	bundle := fstest.MapFS{"slow.rego": {Data: []byte(`# METADATA
# custom:
#   id: TEST-SLOW
#   severity: error
#   scope: token
package test.slow

deny contains "never" if {
	http.send({"method": "GET", "url": "` + started.URL + `", "raise_error": false})
	n := count([1 | some i in numbers.range(1, 100000); some j in numbers.range(1, 100000); i == j + 100000])
	n > 0
}
`)}}
	e := testEngine(t, Options{Bundle: bundle})
	plan := planJSON(t, change(TokenguardType, "slow", []string{"create"}, nil, map[string]any{"name": "slow"}, nil))
	done := make(chan error, 1)
	go func() {
		_, err := e.EvaluatePlan(ctx, bytes.NewReader(plan))
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("the check still runs 2 minutes after its context was cancelled")
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want one that wraps context.Canceled", err)
	}
	for _, want := range []string{"tokenguard_api_token.slow", "stopped before the policies finished"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

package policy

import (
	"bytes"
	"context"
	"fmt"
	"testing"
)

// benchPlan is a plan of 1000 tokenguard tokens and 1000 unrelated resources.
func benchPlan(b *testing.B) []byte {
	var changes []map[string]any
	for i := range 1000 {
		after := map[string]any{
			"name": fmt.Sprintf("t%d", i), "owner": "team-billing", "purpose": "Reads invoice totals for the monthly revenue report",
			"scopes": []any{"invoices:read"}, "data_categories": []any{"commercial"}, "ttl": "30d",
			"rotation": map[string]any{"interval": "7d", "overlap": "1h"},
		}
		changes = append(changes,
			change(TokenguardType, fmt.Sprintf("t%d", i), []string{"create"}, nil, after, map[string]any{"id": true, "secret": true}),
			change("null_resource", fmt.Sprintf("n%d", i), []string{"create"}, nil, map[string]any{"triggers": nil}, nil))
	}
	return planJSON(b, changes...)
}

// BenchmarkEvaluatePlan reads, normalises and checks a plan of 1000 tokenguard tokens and
// 1000 unrelated resources against the embedded bundle (go test -bench EvaluatePlan).
func BenchmarkEvaluatePlan(b *testing.B) {
	plan := benchPlan(b)
	e, err := NewEngine(context.Background(), Options{Now: fixedNow})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(plan)))
	b.ResetTimer()
	for b.Loop() {
		res, err := e.EvaluatePlan(context.Background(), bytes.NewReader(plan))
		if err != nil || res.ResourcesChecked != 1000 {
			b.Fatalf("%v, %d resources", err, res.ResourcesChecked)
		}
	}
}

// BenchmarkEvaluateTokens evaluates the provider gate on one token at a time, as the
// provider and the service do on every planned token and every write.
func BenchmarkEvaluateTokens(b *testing.B) {
	p, err := ReadPlan(bytes.NewReader(benchPlan(b)))
	if err != nil {
		b.Fatal(err)
	}
	now := fixedNow()
	tokens := Normalize(p, now)
	e, err := NewEngine(context.Background(), Options{Now: fixedNow, Gate: GateProvider})
	if err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		if _, err := e.EvaluateTokens(context.Background(), tokens[i%len(tokens):i%len(tokens)+1], PlanFacts{Timestamp: &now}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

package provider

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// memoGate configures the provider's default policy gate on cache with clock, learning the
// erased subjects from *erased (as from the token service, once per Configure).
func memoGate(t *testing.T, cache *engineCache, clock func() time.Time, mu *sync.Mutex, erased *[]string) *policyGate {
	t.Helper()
	source := func(context.Context) ([]string, error) {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(*erased), nil
	}
	var diags diag.Diagnostics
	g := configurePolicy(context.Background(), types.ObjectNull(policyAttrTypes), cache, clock, source, &diags)
	if diags.HasError() || g == nil || g.engine == nil {
		t.Fatalf("configurePolicy: %v", diags)
	}
	return g
}

// memoTokenValue is a compliant planned token named name, with attrs over its values.
func memoTokenValue(t *testing.T, name string, attrs map[string]tftypes.Value) tftypes.Value {
	t.Helper()
	typ := tokenType(t)
	base := map[string]tftypes.Value{
		"name": tfString(name), "owner": tfString("team-billing@example.com"),
		"purpose": tfString("Reads invoice totals for the monthly revenue report"),
		"scopes":  strSet("invoices:read"), "data_categories": strSet("commercial"), "ttl": tfString("30d"),
		"rotation": tftypes.NewValue(typ.AttributeTypes["rotation"], map[string]tftypes.Value{
			"interval": tfString("7d"), "overlap": tfString("1h")}),
		"secret": tftypes.NewValue(tftypes.String, tftypes.UnknownValue),
	}
	for k, v := range attrs {
		base[k] = v
	}
	return tokenValue(t, base)
}

// gateRules plans c through g and returns the rule ids of its diagnostics.
func gateRules(t *testing.T, g *policyGate, c plannedToken) []string {
	t.Helper()
	ctx := context.Background()
	var sr resource.SchemaResponse
	(&apiTokenResource{}).Schema(ctx, resource.SchemaRequest{}, &sr)
	var diags diag.Diagnostics
	g.check(ctx, sr.Schema, c, atPlan, &diags)
	var ids []string
	for _, d := range diags {
		id, _, _ := strings.Cut(d.Detail(), " ")
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func createOf(t *testing.T, after tftypes.Value) plannedToken {
	return plannedToken{actions: []string{"create"}, before: tftypes.NewValue(tokenType(t), nil), after: after}
}

// TestPolicyGate_repeatedPlanEvaluatesOnce: the provider process keeps the gate's verdicts
// (policy.Options.KeepVerdicts): planning the same token again within the same second runs no
// policy query, nor do 50 more tokens that differ only in their names (as a count = 50
// resource does); the findings are each token's own.
func TestPolicyGate_repeatedPlanEvaluatesOnce(t *testing.T) {
	var cache engineCache
	var mu sync.Mutex
	erased := []string{}
	clock := newFakeClock()
	g := memoGate(t, &cache, clock.Now, &mu, &erased)
	wildcard := memoTokenValue(t, "orders-sync", map[string]tftypes.Value{"scopes": strSet("orders:read", "*")})
	if got := gateRules(t, g, createOf(t, wildcard)); !slices.Equal(got, []string{"CPRA-MIN-002"}) {
		t.Fatalf("first plan: rules %v, want CPRA-MIN-002", got)
	}
	once := g.engine.Evaluations()
	if once == 0 {
		t.Fatal("the first plan evaluated no policy query")
	}
	clock.Advance(400 * time.Millisecond) // the same second
	if got := gateRules(t, g, createOf(t, wildcard)); !slices.Equal(got, []string{"CPRA-MIN-002"}) {
		t.Fatalf("repeated plan: rules %v, want CPRA-MIN-002", got)
	}
	for i := range 50 {
		name := "orders-sync-" + strings.Repeat("x", i%5) + string(rune('a'+i%26)) + string(rune('a'+i/26))
		if got := gateRules(t, g, createOf(t, memoTokenValue(t, name, map[string]tftypes.Value{"scopes": strSet("orders:read", "*")}))); !slices.Equal(got, []string{"CPRA-MIN-002"}) {
			t.Fatalf("token %s: rules %v, want CPRA-MIN-002", name, got)
		}
	}
	if n := g.engine.Evaluations(); n != once {
		t.Errorf("the repeated plan and 50 look-alike tokens ran %d more policy queries, want 0", n-once)
	}
}

// TestPolicyGate_keptVerdictsFollowTheirInput: a kept verdict never answers for a changed
// input: a scope or a data category changed, a subject erased at the service since the last
// Configure, or the clock passing a token's expiry each give the verdict of the new input, and
// going back gives the old one again.
func TestPolicyGate_keptVerdictsFollowTheirInput(t *testing.T) {
	var cache engineCache
	var mu sync.Mutex
	erased := []string{"customer:1"}
	clock := newFakeClock()
	g := memoGate(t, &cache, clock.Now, &mu, &erased)
	check := func(g *policyGate, c plannedToken, want ...string) {
		t.Helper()
		if got := gateRules(t, g, c); !slices.Equal(got, want) {
			t.Errorf("rules %v, want %v", got, want)
		}
	}
	base := createOf(t, memoTokenValue(t, "orders-sync", nil))
	check(g, base)
	check(g, createOf(t, memoTokenValue(t, "orders-sync", map[string]tftypes.Value{"scopes": strSet("orders:read", "*")})), "CPRA-MIN-002")
	check(g, base)
	check(g, createOf(t, memoTokenValue(t, "orders-sync", map[string]tftypes.Value{"data_categories": strSet("commercial", "health")})), "CPRA-SEC-003", "CPRA-SPI-001")
	check(g, base)

	// A subject erased at the service since the last Configure: the next Configure's gate
	// blocks the token bound to it, at the same instant.
	bound := createOf(t, memoTokenValue(t, "orders-sync", map[string]tftypes.Value{"data_subjects": strSet("customer:2")}))
	check(g, bound)
	mu.Lock()
	erased = append(erased, "customer:2")
	mu.Unlock()
	check(memoGate(t, &cache, clock.Now, &mu, &erased), bound, "CPRA-DEL-001")

	// An existing token that expires 1.5 s from now, planned as a no-op: not expired; the same
	// plan 3 s later: expired (CPRA-RET-004), though the token is unchanged.
	existing := memoTokenValue(t, "orders-sync", map[string]tftypes.Value{
		"id": tfString("tok_01J0000000000000000000000"), "status": tfString("active"),
		"secret":     tfString("tg_test_not_a_real_secret"),
		"expires_at": tfString(clock.Now().Add(1500 * time.Millisecond).Format(time.RFC3339Nano)),
	})
	noop := plannedToken{actions: []string{"no-op"}, before: existing, after: existing}
	check(g, noop)
	clock.Advance(3 * time.Second)
	check(g, noop, "CPRA-RET-004")
	check(g, base)
}

package policy

import "testing"

func TestOnUnchanged(t *testing.T) {
	before := map[string]any{"ttl": "60d", "labels": map[string]any{"env": "prod"}, "rotation": map[string]any{"interval": "7d"}}
	changedLabels := map[string]any{"ttl": "60d", "labels": map[string]any{"env": "dev"}, "rotation": map[string]any{"interval": "7d"}}
	changedTTL := map[string]any{"ttl": "61d", "labels": map[string]any{"env": "prod"}, "rotation": map[string]any{"interval": "7d"}}
	cases := []struct {
		name  string
		c     TokenChange
		field string
		want  bool
	}{
		{"no-op, finding on ttl", TokenChange{Actions: []string{"no-op"}, Before: before, After: before}, "ttl", true},
		{"labels change, finding on ttl", TokenChange{Actions: []string{"update"}, Before: before, After: changedLabels}, "ttl", true},
		{"ttl change, finding on ttl", TokenChange{Actions: []string{"update"}, Before: before, After: changedTTL}, "ttl", false},
		{"labels change, finding on labels.env", TokenChange{Actions: []string{"update"}, Before: before, After: changedLabels}, "labels.env", false},
		{"create", TokenChange{Actions: []string{"create"}, After: before}, "ttl", false},
		{"replacement", TokenChange{Actions: []string{"delete", "create"}, Before: before, After: before}, "ttl", false},
		{"rotation interval unknown", TokenChange{Actions: []string{"update"}, Before: before, After: before, Unknown: []string{"rotation.interval"}}, "rotation.interval", false},
		{"update, finding with no field", TokenChange{Actions: []string{"update"}, Before: before, After: changedLabels}, "", false},
		{"no-op, finding with no field", TokenChange{Actions: []string{"no-op"}, Before: before, After: before}, "", true},
		{"update, field not an attribute", TokenChange{Actions: []string{"update"}, Before: before, After: changedLabels}, "expiry_days", false},
	}
	for _, tc := range cases {
		if got := OnUnchanged(tc.c, Finding{Field: tc.field}); got != tc.want {
			t.Errorf("%s: OnUnchanged = %v, want %v", tc.name, got, tc.want)
		}
	}
}

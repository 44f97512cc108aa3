package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// secPlan is a plan with a root token, a token in module "vault" and root outputs with the
// given references (as Terraform lists them); the module's outputs are declared in its
// module call.
func secPlan(t *testing.T, outputs map[string][]string) string {
	t.Helper()
	state := func(name string) map[string]any {
		return map[string]any{"name": name, "purpose": "Reads invoice totals for the monthly revenue report", "owner": "team-finance", //nolint:gosec // G101: a fake secret that must not reach the report
			"scopes": []string{"invoices:read"}, "data_categories": []string{}, "ttl": "30d", "expires_at": "2026-12-20T00:00:00Z",
			"rotation": map[string]any{"interval": "7d", "overlap": "1h"},
			"secret":   "tg_live_SECRETSECRET"}
	}
	token := func(addr, module, name string) map[string]any {
		return map[string]any{"address": addr, "module_address": module, "mode": "managed", "type": "tokenguard_api_token", "name": name,
			"provider_name": "registry.terraform.io/tokenguard/tokenguard",
			"change": map[string]any{"actions": []string{"no-op"}, "before": state(name), "after": state(name),
				"after_unknown": map[string]any{}, "before_sensitive": map[string]any{"secret": true}, "after_sensitive": map[string]any{"secret": true}}}
	}
	outs := map[string]any{}
	for name, refs := range outputs {
		outs[name] = map[string]any{"expression": map[string]any{"references": refs}}
	}
	plan := map[string]any{
		"format_version": "1.2", "terraform_version": "1.11.4", "timestamp": "2026-11-27T12:00:00Z",
		"planned_values":   map[string]any{"root_module": map[string]any{}},
		"resource_changes": []any{token("tokenguard_api_token.root", "", "root"), token("module.vault.tokenguard_api_token.inner", "module.vault", "inner")},
		"configuration": map[string]any{"root_module": map[string]any{
			"outputs": outs,
			"module_calls": map[string]any{"vault": map[string]any{"source": "./vault", "module": map[string]any{"outputs": map[string]any{
				"secret": map[string]any{"sensitive": true, "expression": map[string]any{"references": []string{"tokenguard_api_token.inner.secret", "tokenguard_api_token.inner"}}},
				"id":     map[string]any{"expression": map[string]any{"references": []string{"tokenguard_api_token.inner.id", "tokenguard_api_token.inner"}}},
				"passed": map[string]any{"expression": map[string]any{"references": []string{"local.s"}}},
			}}}},
		}},
	}
	b, err := json.Marshal(plan)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCheck_secretOutputsFollowedThroughModulesLocalsAndNonsensitive (issue 15 point 4):
// CPRA-SEC-001 follows an output's references through module outputs, through local values
// (from --config-dir: plan JSON has no locals) and through nonsensitive(), whose argument
// Terraform lists as a reference; outputs of non-secret attributes stay clean.
func TestCheck_secretOutputsFollowedThroughModulesLocalsAndNonsensitive(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "config/main.tf", []byte(`locals {
  s     = tokenguard_api_token.root.secret
  both  = [local.s, "x"]
  label = tokenguard_api_token.root.name
}

module "vault" {
  source = "./vault"
}

resource "tokenguard_api_token" "root" {
  name = "root"
}
`))
	writeFile(t, dir, "config/vault/main.tf", []byte(`locals {
  s = nonsensitive(tokenguard_api_token.inner.secret)
}

resource "tokenguard_api_token" "inner" {
  name = "inner"
}
`))
	cases := []struct {
		name      string
		refs      []string
		configDir bool
		want      string
	}{
		{"module output passes a secret", []string{"module.vault.secret", "module.vault"}, false, "module.vault.tokenguard_api_token.inner: CPRA-SEC-001"},
		{"module output of an id", []string{"module.vault.id", "module.vault"}, false, ""},
		{"nonsensitive of a secret", []string{"tokenguard_api_token.root.secret", "tokenguard_api_token.root"}, false, "tokenguard_api_token.root: CPRA-SEC-001"},
		{"local holding a secret", []string{"local.s"}, true, "tokenguard_api_token.root: CPRA-SEC-001"},
		{"local through a local", []string{"local.both"}, true, "tokenguard_api_token.root: CPRA-SEC-001"},
		{"local of a name", []string{"local.label"}, true, ""},
		{"module local through nonsensitive", []string{"module.vault.passed", "module.vault"}, true, "module.vault.tokenguard_api_token.inner: CPRA-SEC-001"},
		{"local without --config-dir is not seen", []string{"local.s"}, false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeFile(t, dir, strings.ReplaceAll(c.name, " ", "_")+".json", []byte(secPlan(t, map[string][]string{"out": c.refs})))
			args := []string{"check", "--format", "json", "--path-prefix", ""}
			if c.configDir {
				args = append(args, "--config-dir", filepath.Join(dir, "config"))
			}
			_, stdout, stderr := runCLI(t, "", append(args, p)...)
			if got := rulesByAddress(decodeReport(t, stdout)); got != c.want {
				t.Errorf("findings %q, want %q (stderr %q)", got, c.want, stderr)
			}
			if strings.Contains(stdout, "SECRETSECRET") {
				t.Error("the secret is in the report")
			}
		})
	}
}

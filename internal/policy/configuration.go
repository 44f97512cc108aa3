package policy

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"
)

// configuration is the part of the plan's "configuration" section the checker reads.
type configuration struct {
	ProviderConfig map[string]providerConfig `json:"provider_config"`
	RootModule     struct {
		Outputs     map[string]configOutput `json:"outputs"`
		ModuleCalls map[string]moduleCall   `json:"module_calls"`
	} `json:"root_module"`
}

type configOutput struct {
	Sensitive  bool `json:"sensitive"`
	Expression struct {
		References []string `json:"references"`
	} `json:"expression"`
}

// moduleCall is a module block of the configuration with the called module's outputs and
// its own module calls.
type moduleCall struct {
	Module struct {
		Outputs     map[string]configOutput `json:"outputs"`
		ModuleCalls map[string]moduleCall   `json:"module_calls"`
	} `json:"module"`
}

// moduleOutputs maps each module output, by its address from the root ("module.a.x",
// "module.a.module.b.y"), to the references of its expression, made root-relative
// ("module.a.tokenguard_api_token.t.secret").
func moduleOutputs(calls map[string]moduleCall, prefix string, into map[string][]string, depth int) {
	if depth > maxModuleDepth {
		return
	}
	for name, c := range calls {
		p := prefix + "module." + name + "."
		for out, o := range c.Module.Outputs {
			refs := make([]string, 0, len(o.Expression.References))
			for _, r := range o.Expression.References {
				refs = append(refs, p+r)
			}
			into[p+out] = refs
		}
		moduleOutputs(c.Module.ModuleCalls, p, into, depth+1)
	}
}

// ExpandReferences follows references through named values until it reaches what they
// name: a module output ("module.a.x") to the references of its expression inside the
// module, a local value ("local.s", "module.a.local.s") to those of its definition. values
// maps each such name to its references (root-relative). The result holds refs and every
// reference reached; it is bounded by the number of named values.
func ExpandReferences(refs []string, values map[string][]string) []string {
	if len(values) == 0 {
		return refs
	}
	seen := map[string]bool{}
	out := make([]string, 0, len(refs))
	lists := [][]string{refs}
	for len(lists) > 0 {
		list := lists[0]
		lists = lists[1:]
		for _, r := range list {
			if seen[r] {
				continue
			}
			seen[r] = true
			out = append(out, r)
			for _, name := range namedValues(r, list, values) {
				lists = append(lists, values[name])
			}
		}
	}
	return out
}

// namedValues are the keys of values that reference r names: the value itself or one inside
// it ("module.a.x.secret" names "module.a.x"), or every output of a module named whole. A
// module named whole beside one of its outputs in the same expression (Terraform lists both
// "module.a.id" and "module.a" for module.a.id) names only that output.
func namedValues(r string, siblings []string, values map[string][]string) []string {
	whole := strings.HasPrefix(r, "module.") && !slices.ContainsFunc(siblings, func(s string) bool {
		return strings.HasPrefix(s, r+".")
	})
	var out []string
	for k := range values {
		if r == k || strings.HasPrefix(r, k+".") || strings.HasPrefix(r, k+"[") ||
			whole && strings.HasPrefix(k, r+".") && !strings.Contains(k[len(r)+1:], ".") {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

type providerConfig struct {
	Name              string                `json:"name"`
	FullName          string                `json:"full_name"`
	Alias             string                `json:"alias"`
	ModuleAddress     string                `json:"module_address"`
	Expressions       map[string]expression `json:"expressions"`
	VersionConstraint string                `json:"version_constraint"`
}

type expression struct {
	ConstantValue any      `json:"constant_value"`
	References    []string `json:"references"`
}

// UnmarshalJSON reads an expression; a nested block, which Terraform writes as an array of
// block objects (aws's default_tags, assume_role) or an object of nested expressions, is
// accepted and left empty: the checker reads only attributes of the tokenguard provider.
func (e *expression) UnmarshalJSON(b []byte) error {
	var x struct {
		ConstantValue any             `json:"constant_value"`
		References    json.RawMessage `json:"references"`
	}
	if len(b) == 0 || b[0] != '{' {
		return nil
	}
	if err := json.Unmarshal(b, &x); err != nil {
		return nil //nolint:nilerr // a nested block's object is not an expression: nothing to read
	}
	e.ConstantValue = x.ConstantValue
	if err := json.Unmarshal(x.References, &e.References); err != nil {
		e.References = nil
	}
	return nil
}

// rawOutputs are the root outputs with their references as the plan lists them.
func (c configuration) rawOutputs() []Output {
	out := make([]Output, 0, len(c.RootModule.Outputs))
	for name, o := range c.RootModule.Outputs {
		out = append(out, Output{Name: name, Sensitive: o.Sensitive, References: o.Expression.References})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (c configuration) outputs() []Output {
	out := make([]Output, 0, len(c.RootModule.Outputs))
	values := map[string][]string{}
	moduleOutputs(c.RootModule.ModuleCalls, "", values, 0)
	for name, o := range c.RootModule.Outputs {
		refs := ExpandReferences(o.Expression.References, values)
		if refs == nil {
			refs = []string{}
		}
		out = append(out, Output{Name: name, Sensitive: o.Sensitive, References: refs})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// providerEndpoints lists the tokenguard provider configurations, keyed in the plan as
// "tokenguard" or "tokenguard.ALIAS" (and "module.x:tokenguard" inside modules).
func (c configuration) providerEndpoints() []ProviderEndpoint {
	out := []ProviderEndpoint{}
	for _, pc := range c.ProviderConfig {
		if pc.Name != "tokenguard" && !strings.HasSuffix(pc.FullName, "/tokenguard") {
			continue
		}
		e := ProviderEndpoint{Provider: "tokenguard", Alias: pc.Alias}
		if ex, ok := pc.Expressions["endpoint"]; ok {
			if s, ok := ex.ConstantValue.(string); ok {
				e.Endpoint = &s
			}
		}
		if ex, ok := pc.Expressions["insecure_http"]; ok {
			e.InsecureHTTP, _ = ex.ConstantValue.(bool)
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Alias < out[j].Alias })
	return out
}

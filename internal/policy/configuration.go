package policy

import (
	"encoding/json"
	"sort"
	"strings"
)

// configuration is the part of the plan's "configuration" section the checker reads.
type configuration struct {
	ProviderConfig map[string]providerConfig `json:"provider_config"`
	RootModule     struct {
		Outputs map[string]struct {
			Sensitive  bool `json:"sensitive"`
			Expression struct {
				References []string `json:"references"`
			} `json:"expression"`
		} `json:"outputs"`
	} `json:"root_module"`
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

func (c configuration) outputs() []Output {
	out := make([]Output, 0, len(c.RootModule.Outputs))
	for name, o := range c.RootModule.Outputs {
		refs := o.Expression.References
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

package policy

import (
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

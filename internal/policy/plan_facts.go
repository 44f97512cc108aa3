package policy

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// PlanFacts are the plan-wide facts of input.plan.
type PlanFacts struct {
	Timestamp         *time.Time
	Outputs           []Output
	ProviderEndpoints []ProviderEndpoint
	// Tokens are the token-like resources of the root module that a root output references
	// (input.plan.tokens), for plan rules about outputs; filled for plan-scope rules only.
	Tokens []PlanToken
}

// PlanToken names one token-like resource in input.plan.tokens.
type PlanToken struct {
	Address, Module, Type, Name, ManagedBy string
	Sensitive                              []string
	// Ref is how configuration references name the resource: "type.name", or
	// "module.a.type.name" inside a module (instance keys removed).
	Ref string
}

// referencedResources are the resources ("type.name", "module.a.type.name") that root outputs
// reference, directly or through module outputs and local values (Output.References are
// expanded with ExpandReferences).
func (p PlanFacts) referencedResources() map[string]bool {
	out := map[string]bool{}
	for _, o := range p.Outputs {
		for _, r := range o.References {
			module := ""
			for strings.HasPrefix(r, "module.") {
				name, rest, ok := strings.Cut(r[len("module."):], ".")
				if !ok {
					r = ""
					break
				}
				module += "module." + StripInstanceKeys(name) + "."
				r = rest
			}
			typ, rest, ok := strings.Cut(r, ".")
			if !ok || typ == "data" || typ == "var" || typ == "local" || typ == "each" || typ == "count" || typ == "path" || typ == "terraform" || typ == "self" {
				continue
			}
			if i := strings.IndexAny(rest, ".["); i >= 0 {
				rest = rest[:i]
			}
			out[module+typ+"."+rest] = true
		}
	}
	return out
}

// planToken is t as listed in input.plan.tokens, or nil when no root output references it.
func planToken(t Token, referenced map[string]bool) *PlanToken {
	ref := t.Type + "." + t.Name
	if t.Module != "" {
		ref = StripInstanceKeys(t.Module) + "." + ref
	}
	if !referenced[ref] {
		return nil
	}
	return &PlanToken{Address: t.Address, Module: t.Module, Type: t.Type, Name: t.Name, ManagedBy: t.ManagedBy, Sensitive: slices.Clone(t.Sensitive), Ref: ref}
}

func (p PlanFacts) value() map[string]any {
	outputs := make([]any, 0, len(p.Outputs))
	for _, o := range p.Outputs {
		outputs = append(outputs, map[string]any{"name": o.Name, "sensitive": o.Sensitive, "references": stringsValue(nonNil(o.References))})
	}
	endpoints := make([]any, 0, len(p.ProviderEndpoints))
	for _, e := range p.ProviderEndpoints {
		endpoints = append(endpoints, map[string]any{"provider": e.Provider, "alias": e.Alias, "endpoint": strValue(e.Endpoint), "insecure_http": e.InsecureHTTP})
	}
	tokens := make([]any, 0, len(p.Tokens))
	for _, t := range p.Tokens {
		tokens = append(tokens, map[string]any{
			"address": t.Address, "module": t.Module, "type": t.Type, "name": t.Name, "managed_by": t.ManagedBy,
			"sensitive": stringsValue(nonNil(t.Sensitive)), "ref": t.Ref,
		})
	}
	return map[string]any{"timestamp": timeValue(p.Timestamp), "outputs": outputs, "provider_endpoints": endpoints, "tokens": tokens}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// term renders the facts as the OPA value of input.plan.
func (p PlanFacts) term() (*ast.Term, error) {
	v, err := ast.InterfaceToValue(p.value())
	if err != nil {
		return nil, fmt.Errorf("plan facts: %w", err)
	}
	return ast.NewTerm(v), nil
}

func strValue(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

func timeValue(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

// stringsValue keeps the nil/empty distinction: nil is null, an empty slice is [].
func stringsValue(s []string) any {
	if s == nil {
		return nil
	}
	out := make([]any, len(s))
	for i, e := range s {
		out[i] = e
	}
	return out
}

// Package policy embeds OPA: it reads Terraform plan JSON as a stream, normalises every
// token-like resource change into one provider-independent shape, compiles the Rego bundle
// once, evaluates it in parallel with prepared queries, and applies waivers and
// configuration locations to the findings.
package policy

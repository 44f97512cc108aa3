# METADATA
# title: Secret is not exposed through an output
# description: >-
#   A token's secret must never be printed or passed on in clear. A finding
#   is raised, at the token's address, for each root-module output that is
#   not marked sensitive and whose references
#   (input.plan.outputs[_].references) include a token's secret (for
#   tokenguard tokens "secret", for every token each attribute path listed in
#   its sensitive paths), or the token object or its resource collection
#   itself without naming one of its attributes (the object holds the
#   secret). The tokens are input.plan.tokens: the token-like resources that
#   an output references. References are followed through module outputs
#   (a secret a module passes out is caught at the module's token), through
#   local values when tokenguard check has --config-dir (locals are not in
#   plan JSON), and through function calls such as nonsensitive(), whose
#   arguments Terraform lists as references. Outputs that only reference
#   other attributes (e.g. .id) are fine. Needs the whole plan: runs in the
#   check gate.
# custom:
#   id: CPRA-SEC-001
#   severity: error
#   provisions:
#     - cite: "Cal. Civ. Code 1798.100(e)"
#       paraphrase: "Reasonable security procedures and practices protect personal information from unauthorized access."
#     - cite: "Cal. Civ. Code 1798.81.5(b)"
#       paraphrase: "A business that owns, licenses or maintains personal information maintains reasonable security procedures and practices."
#   adds: "Refuses a token secret in a Terraform output that is not sensitive."
#   remediation: "Mark the output sensitive = true, or output a non-secret attribute such as id or fingerprint instead."
#   scope: plan
#   applies_to: [tokenguard, external]
#   gates: [check]
package tokenguard.cpra.sec_output

import data.tokenguard.lib

deny contains f if {
	some o in clear_outputs
	some t in tokens
	exposes_secret(o, t)
	f := {
		"msg": sprintf("output %q exposes the token's secret without sensitive = true", [o.name]),
		"field": sprintf("output.%s", [o.name]),
		"address": t.address,
	}
}

deny contains f if {
	some o in clear_outputs
	some t in tokens
	exposes_object(o, t)
	f := {
		"msg": sprintf("output %q exposes the whole token object, which holds its secret, without sensitive = true", [o.name]),
		"field": sprintf("output.%s", [o.name]),
		"address": t.address,
	}
}

tokens contains t if {
	some t in object.get(input.plan, "tokens", [])
	t.managed_by in {"tokenguard", "external"}
}

clear_outputs contains o if {
	some o in object.get(input.plan, "outputs", [])
	object.get(o, "sensitive", false) != true
}

# bases are the references that name a token: its instance address and its
# resource address ("module.a.type.name" inside a module: references made
# root-relative through module outputs).
bases(t) := {t.address, concat(".", [t.type, t.name])} if t.module == ""

bases(t) := {t.address, t.ref} if {
	t.module != ""
	is_string(object.get(t, "ref", null))
}

secret_paths(t) := {p | some p in object.get(t, "sensitive", [])} | {"secret" | lib.is_tokenguard(t)}

exposes_secret(o, t) if {
	some r in object.get(o, "references", [])
	some b in bases(t)
	some p in secret_paths(t)
	names_path(r, concat(".", [b, p]))
}

exposes_object(o, t) if {
	refs := object.get(o, "references", [])
	some b in bases(t)
	b in refs
	not has_deeper(refs, b)
}

names_path(ref, path) if ref == path

names_path(ref, path) if startswith(ref, concat("", [path, "."]))

names_path(ref, path) if startswith(ref, concat("", [path, "["]))

has_deeper(refs, base) if {
	some r in refs
	startswith(r, concat("", [base, "."]))
}

has_deeper(refs, base) if {
	some r in refs
	startswith(r, concat("", [base, "["]))
}

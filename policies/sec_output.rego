# METADATA
# title: Secret is not exposed through an output
# description: >-
#   A token's secret must never be printed or passed on in clear. A finding
#   is raised for each root-module output that is not marked sensitive and
#   whose references (input.plan.outputs[_].references) include this token's
#   secret (for tokenguard tokens "secret", for every token each attribute
#   path listed in input.token.sensitive), or the token object or its
#   resource collection itself without naming one of its attributes (the
#   object holds the secret). Outputs that only reference other attributes
#   (e.g. .id) are fine. Tokens declared in child modules are not traced
#   through module outputs. Needs the whole plan: runs in the check gate.
# custom:
#   id: CPRA-SEC-001
#   severity: error
#   citation: "Cal. Civ. Code 1798.100(e); 1798.150(a)(1)"
#   remediation: "Mark the output sensitive = true, or output a non-secret attribute such as id or fingerprint instead."
#   scope: token
#   applies_to: [tokenguard, external]
#   gates: [check]
#   reads: [address, module, name]
package tokenguard.cpra.sec_output

import data.tokenguard.lib

deny contains f if {
	t := input.token
	t.managed_by in {"tokenguard", "external"}
	some o in exposed_secret
	f := {
		"msg": sprintf("output %q exposes the token's secret without sensitive = true", [o.name]),
		"field": sprintf("output.%s", [o.name]),
	}
}

deny contains f if {
	t := input.token
	t.managed_by in {"tokenguard", "external"}
	some o in exposed_object
	f := {
		"msg": sprintf("output %q exposes the whole token object, which holds its secret, without sensitive = true", [o.name]),
		"field": sprintf("output.%s", [o.name]),
	}
}

# bases are the references that name this token: its instance address and
# its resource address. Root outputs can only see root-module resources.
bases contains input.token.address if input.token.module == ""

bases contains concat(".", [input.token.type, input.token.name]) if input.token.module == ""

secret_paths contains "secret" if lib.is_tokenguard(input.token)

secret_paths contains p if some p in object.get(input.token, "sensitive", [])

clear_outputs contains o if {
	some o in object.get(object.get(input, "plan", {}), "outputs", [])
	object.get(o, "sensitive", false) != true
}

exposed_secret contains o if {
	some o in clear_outputs
	some r in object.get(o, "references", [])
	some b in bases
	some p in secret_paths
	names_path(r, concat(".", [b, p]))
}

exposed_object contains o if {
	some o in clear_outputs
	refs := object.get(o, "references", [])
	some b in bases
	b in refs
	not has_deeper(refs, b)
}

names_path(ref, path) if ref == path

names_path(ref, path) if startswith(ref, concat("", [path, "."]))

names_path(ref, path) if startswith(ref, concat("", [path, "["]))

# has_deeper is true when a reference goes below base: an attribute or an
# instance key, so base itself is only the prefix Terraform always adds.
has_deeper(refs, base) if {
	some r in refs
	startswith(r, concat("", [base, "."]))
}

has_deeper(refs, base) if {
	some r in refs
	startswith(r, concat("", [base, "["]))
}

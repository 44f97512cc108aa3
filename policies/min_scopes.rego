# METADATA
# title: Scopes are minimal
# description: >-
#   A tokenguard token must list the scopes it needs and nothing broader.
#   A finding is raised when scopes is missing or empty, once per scope that
#   contains a wildcard "*" (e.g. "*", "invoices:*", "read*"), and once per
#   administrative scope: "admin", "root", "sudo" or "all", alone or after a
#   colon (e.g. "billing:admin", "read:all"), compared case-insensitively.
#   Nothing is raised while scopes is unknown until apply.
# custom:
#   id: CPRA-MIN-002
#   severity: error
#   provisions:
#     - cite: "Cal. Civ. Code 1798.100(c)"
#       paraphrase: "Collection, use and retention must be reasonably necessary and proportionate to the disclosed purposes."
#     - cite: "11 CCR 7002(d)(1)"
#       paraphrase: "The minimum personal information necessary to achieve the purpose is a factor in what is reasonably necessary and proportionate."
#     - cite: "11 CCR 7123(c)(3)"
#       paraphrase: "The cybersecurity audit assesses least-privilege access and the revoking of access no longer needed."
#   adds: "Refuses wildcard and administrative scopes; which scopes count as too broad is tokenguard's choice."
#   remediation: "List only the scopes this purpose needs, each naming one resource and one action (e.g. invoices:read)."
#   scope: token
#   applies_to: [tokenguard]
#   gates: [provider, check, service]
#   reads: [fields.scopes]
package tokenguard.cpra.min_scopes

import data.tokenguard.lib

admin_words := {"admin", "root", "sudo", "all"}

deny contains f if {
	t := input.token
	lib.is_tokenguard(t)
	empty(lib.field(t, "scopes"))
	not lib.opaque(t, "scopes")
	f := {
		"msg": "scopes is empty: a token must list the scopes it needs",
		"field": "scopes",
	}
}

deny contains f if {
	t := input.token
	lib.is_tokenguard(t)
	some s in lib.field(t, "scopes")
	is_string(s)
	contains(s, "*")
	not lib.opaque(t, "scopes")
	f := {
		"msg": sprintf("scope %q is a wildcard: name each resource and action instead", [s]),
		"field": "scopes",
	}
}

deny contains f if {
	t := input.token
	lib.is_tokenguard(t)
	some s in lib.field(t, "scopes")
	is_string(s)
	not contains(s, "*")
	administrative(s)
	not lib.opaque(t, "scopes")
	f := {
		"msg": sprintf("scope %q is administrative: grant the narrow scopes this purpose needs", [s]),
		"field": "scopes",
	}
}

empty(scopes) if scopes == null

empty(scopes) if count(scopes) == 0

# administrative is true when the scope, or its last colon-separated part,
# is an administrative word: "admin", "billing:admin", "read:all".
administrative(scope) if {
	parts := split(lower(scope), ":")
	parts[count(parts) - 1] in admin_words
}

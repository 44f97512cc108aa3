# METADATA
# title: Owner is named
# description: >-
#   A tokenguard token must name the team or person accountable for it.
#   A finding is raised when owner is missing or blank. Nothing is raised
#   while owner is unknown until apply.
# custom:
#   id: CPRA-MIN-004
#   severity: error
#   provisions:
#     - cite: "11 CCR 7123(c)(4)(A)"
#       paraphrase: "The cybersecurity audit assesses the inventory and tagging of information systems and their access."
#   adds: "Requires a named owner for every token; a named owner is a control tokenguard chooses, not statutory text."
#   remediation: "Set owner to the accountable team or person (e.g. team-billing) who answers for this token's access."
#   scope: token
#   applies_to: [tokenguard]
#   gates: [provider, check, service]
#   reads: [fields.owner]
package tokenguard.cpra.min_owner

import data.tokenguard.lib

deny contains f if {
	t := input.token
	lib.is_tokenguard(t)
	lib.blank(lib.field(t, "owner"))
	not lib.opaque(t, "owner")
	f := {
		"msg": "owner is not set: nobody is accountable for this token",
		"field": "owner",
	}
}

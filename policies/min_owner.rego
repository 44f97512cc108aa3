# METADATA
# title: Owner is named
# description: >-
#   A tokenguard token must name the team or person accountable for it.
#   A finding is raised when owner is missing or blank. Nothing is raised
#   while owner is unknown until apply.
# custom:
#   id: CPRA-MIN-004
#   severity: error
#   citation: "Cal. Civ. Code 1798.100(c); 11 CCR 7123"
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

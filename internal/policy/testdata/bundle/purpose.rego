# METADATA
# title: Purpose is specific
# description: A token states what it is for.
# custom:
#   id: TEST-PURPOSE
#   severity: error
#   citation: "Cal. Civ. Code 1798.100(c)"
#   remediation: "Write one specific sentence."
#   scope: token
#   applies_to: [tokenguard]
#   gates: [provider, check, service]
package tokenguard.cpra.purpose

deny contains f if {
	input.token.managed_by == "tokenguard"
	not "purpose" in input.token.unknown
	not specific(input.token.fields.purpose)
	f := {"msg": "purpose is missing or generic", "field": "purpose"}
}

specific(p) if {
	is_string(p)
	count(p) >= 12
	not lower(p) in data.tokenguard.generic_purposes
}

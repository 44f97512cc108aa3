# METADATA
# title: Token names a cost centre
# custom:
#   id: ACME-001
#   severity: warning
#   citation: "ACME internal policy 4.2"
#   remediation: "Add a cost_centre label."
#   scope: token
#   applies_to: [tokenguard]
#   gates: [check]
package acme.labels

deny contains {"msg": "label cost_centre is missing", "field": "labels.cost_centre"} if {
	input.token.managed_by == "tokenguard"
	not input.token.after.labels.cost_centre
}

# METADATA
# title: Secret is not exposed by an output
# custom:
#   id: TEST-OUTPUT
#   severity: error
#   citation: "Cal. Civ. Code 1798.150(a)(1)"
#   remediation: "Mark the output sensitive."
#   scope: token
#   applies_to: [tokenguard]
#   gates: [check]
package tokenguard.cpra.output

deny contains f if {
	some o in input.plan.outputs
	not o.sensitive
	concat("", [input.token.address, ".secret"]) in o.references
	f := {"msg": sprintf("output %q exposes the secret", [o.name]), "field": "secret"}
}

# METADATA
# title: Service endpoint uses HTTPS
# custom:
#   id: TEST-ENDPOINT
#   severity: error
#   citation: "Cal. Civ. Code 1798.81.5"
#   remediation: "Use an https:// endpoint."
#   scope: plan
#   gates: [check]
package tokenguard.cpra.endpoint

deny contains f if {
	some e in input.plan.provider_endpoints
	startswith(e.endpoint, "http://")
	not contains(e.endpoint, "localhost")
	f := {"msg": "the tokenguard endpoint uses plain HTTP", "field": "provider.tokenguard.endpoint", "address": "provider.tokenguard"}
}

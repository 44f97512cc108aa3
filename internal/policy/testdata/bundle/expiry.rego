# METADATA
# title: Token expires within the cap
# custom:
#   id: TEST-EXPIRY
#   severity: error
#   citation: "Cal. Civ. Code 1798.100(a)(3)"
#   remediation: "Set an expiry within the cap."
#   scope: token
#   applies_to: [tokenguard, external]
#   gates: [provider, check, service]
package tokenguard.cpra.expiry

max_seconds := data.tokenguard.thresholds.ttl_max_days * 86400

deny contains {"msg": "token never expires", "field": ""} if {
	input.token.fields.never_expires
}

deny contains f if {
	ttl := input.token.fields.ttl_seconds
	ttl > max_seconds
	f := {"msg": sprintf("lifetime of %d days is over the cap of %d days", [ttl / 86400, max_seconds / 86400]), "field": "ttl"}
}

deny contains f if {
	left := input.token.fields.expires_in_seconds
	left > max_seconds
	f := {"msg": "expiry is further away than the cap", "field": "expires_at"}
}

deny contains f if {
	left := input.token.fields.expires_in_seconds
	is_number(left)
	left <= 0
	f := {"msg": "token has already expired", "field": "expires_at"}
}

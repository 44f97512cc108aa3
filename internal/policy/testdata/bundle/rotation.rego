# METADATA
# title: Rotation interval within the cap
# custom:
#   id: TEST-ROTATION
#   severity: warning
#   citation: "Cal. Civ. Code 1798.100(e)"
#   remediation: "Rotate at least every 30 days."
#   scope: token
#   applies_to: [tokenguard]
#   gates: [check]
package tokenguard.cpra.rotation

deny contains {"msg": "rotation interval is over the cap", "field": "rotation.interval"} if {
	input.token.managed_by == "tokenguard"
	input.token.fields.rotation_interval_seconds > data.tokenguard.thresholds.rotation_interval_max_days * 86400
}

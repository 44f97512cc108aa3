# METADATA
# title: Unused token is retired
# description: >-
#   An active token that has not been used for more than
#   data.tokenguard.thresholds.unused_max_days (default 30) days is access
#   nobody needs. A finding is raised when fields.status is "active" and
#   fields.unused_seconds (plan timestamp minus last use, else creation) is
#   above the threshold. New tokens and tokens whose status or last use is
#   unknown are not evaluated. Applies to tokenguard and external tokens
#   alike, whenever the normalised input knows their last use.
# custom:
#   id: CPRA-MIN-003
#   severity: warning
#   provisions:
#     - cite: "11 CCR 7123(c)(3)"
#       paraphrase: "The cybersecurity audit assesses least-privilege access and the revoking of access no longer needed."
#   thresholds:
#     - name: "unused_max_days"
#       basis: tokenguard default
#   adds: "Flags an active token unused for more than 30 days (tokenguard default, configurable); no law sets the number."
#   remediation: "Revoke the token and remove its resource, or record why it is still needed and when it will be used."
#   scope: token
#   applies_to: [tokenguard, external]
#   gates: [provider, check, service]
#   reads: [fields.status, fields.unused_seconds]
package tokenguard.cpra.min_unused

import data.tokenguard.lib

deny contains f if {
	t := input.token
	t.managed_by in {"tokenguard", "external"}
	lib.field(t, "status") == "active"
	unused := lib.field(t, "unused_seconds")
	is_number(unused)
	limit := lib.days(lib.threshold("unused_max_days"))
	unused > limit
	not lib.opaque(t, "last_used_at")
	not lib.opaque(t, "status")
	f := {
		"msg": sprintf("active token has not been used for %s, above the tokenguard default threshold of %s (configurable, not set by law)", [
			lib.duration_text(unused),
			lib.duration_text(limit),
		]),
		"field": "last_used_at",
	}
}

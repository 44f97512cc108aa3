# METADATA
# title: Rotation interval is within the cap
# description: >-
#   A tokenguard token's secret must be rotated on a provable schedule. A
#   finding is raised when rotation.interval exceeds
#   data.tokenguard.thresholds.rotation_interval_max_days (default 30), or
#   rotation_interval_max_days_sensitive (default 7) as soon as one declared
#   data category is sensitive; when rotation.interval is longer than ttl (the
#   token would expire before it ever rotates); and when no rotation is
#   configured although ttl is longer than that rotation cap. Values unknown
#   until apply are not evaluated.
# custom:
#   id: CPRA-ROT-001
#   severity: error
#   provisions:
#     - cite: "Cal. Civ. Code 1798.100(e)"
#       paraphrase: "Reasonable security procedures and practices protect personal information from unauthorized access."
#     - cite: "Cal. Civ. Code 1798.81.5(b)"
#       paraphrase: "A business that owns, licenses or maintains personal information maintains reasonable security procedures and practices."
#     - cite: "11 CCR 7123(c)(1)"
#       paraphrase: "The cybersecurity audit assesses authentication."
#   thresholds:
#     - name: "rotation_interval_max_days, rotation_interval_max_days_sensitive"
#       basis: tokenguard default
#   adds: "Caps the rotation interval at 30 days, 7 for sensitive categories: tokenguard defaults, configurable."
#   remediation: "Add a rotation block whose interval is within the cap and not longer than ttl, or shorten ttl to the rotation cap."
#   scope: token
#   applies_to: [tokenguard]
#   gates: [provider, check, service]
#   reads: [fields.rotation_interval_seconds, fields.ttl_seconds, fields.rotation_configured, fields.data_categories]
package tokenguard.cpra.rot_interval

import data.tokenguard.lib

deny contains f if {
	t := input.token
	lib.is_tokenguard(t)
	interval := lib.field(t, "rotation_interval_seconds")
	is_number(interval)
	cap := lib.rotation_cap(t)
	interval > cap
	not lib.opaque(t, "rotation.interval")
	f := {
		"msg": sprintf("rotation.interval is %s, above %s", [lib.duration_text(interval), lib.cap_text(t, cap)]),
		"field": "rotation.interval",
	}
}

deny contains f if {
	t := input.token
	lib.is_tokenguard(t)
	interval := lib.field(t, "rotation_interval_seconds")
	ttl := lib.field(t, "ttl_seconds")
	is_number(interval)
	is_number(ttl)
	interval > ttl
	not lib.opaque(t, "rotation.interval")
	not lib.opaque(t, "ttl")
	f := {
		"msg": sprintf("rotation.interval is %s, longer than ttl (%s): the token expires before it is ever rotated", [
			lib.duration_text(interval),
			lib.duration_text(ttl),
		]),
		"field": "rotation.interval",
	}
}

deny contains f if {
	t := input.token
	lib.is_tokenguard(t)
	lib.field(t, "rotation_configured") == false
	ttl := lib.field(t, "ttl_seconds")
	is_number(ttl)
	cap := lib.rotation_cap(t)
	ttl > cap
	not lib.opaque(t, "rotation")
	not lib.opaque(t, "ttl")
	f := {
		"msg": sprintf("no rotation is configured and ttl is %s, longer than %s for rotation", [
			lib.duration_text(ttl),
			lib.cap_text(t, cap),
		]),
		"field": "rotation",
	}
}

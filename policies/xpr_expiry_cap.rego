# METADATA
# title: External token expiry is within the cap
# description: >-
#   A token or key of another provider must not stay valid longer than
#   data.tokenguard.thresholds.ttl_max_days (default 90), or
#   ttl_max_days_sensitive (default 30) when its declared data categories
#   reach sensitive personal information. Its validity is the longer of
#   fields.ttl_seconds (a lifetime expressed as a duration) and
#   fields.expires_in_seconds (known expiry minus the plan timestamp). Values
#   unknown until apply are null in the normalised input and not evaluated.
#   The finding's field is "" because the attribute differs per provider.
# custom:
#   id: CPRA-XPR-002
#   severity: error
#   provisions:
#     - cite: "Cal. Civ. Code 1798.100(e)"
#       paraphrase: "Reasonable security procedures and practices protect personal information from unauthorized access."
#     - cite: "Cal. Civ. Code 1798.81.5(b)"
#       paraphrase: "A business that owns, licenses or maintains personal information maintains reasonable security procedures and practices."
#   thresholds:
#     - name: "ttl_max_days, ttl_max_days_sensitive"
#       basis: tokenguard default
#   adds: "Caps another provider's credential lifetime at 90 days, 30 for sensitive categories: tokenguard defaults, configurable; no law sets them."
#   remediation: "Bring the resource's expiry (e.g. expires_at, expiration, ttl) within the cap and renew it through a reviewed change."
#   scope: token
#   applies_to: [external]
#   gates: [check]
#   reads: [fields.ttl_seconds, fields.expires_in_seconds, fields.data_categories]
package tokenguard.cpra.xpr_expiry_cap

import data.tokenguard.lib

deny contains f if {
	t := input.token
	lib.is_external(t)
	valid := lib.validity(t)
	cap := lib.ttl_cap(t)
	valid > cap
	f := {
		"msg": sprintf("%s stays valid for %s, above %s", [t.type, lib.duration_text(valid), lib.cap_text(t, cap)]),
		"field": "",
	}
}

# METADATA
# title: Lifetime is within the cap
# description: >-
#   A tokenguard token's ttl must not exceed
#   data.tokenguard.thresholds.ttl_max_days (default 90), or
#   ttl_max_days_sensitive (default 30) as soon as one declared data category
#   is sensitive personal information. Nothing is raised while ttl is unknown
#   until apply; while data_categories is unknown only the general cap is
#   applied.
# custom:
#   id: CPRA-RET-002
#   severity: error
#   provisions:
#     - cite: "Cal. Civ. Code 1798.100(e)"
#       paraphrase: "Reasonable security procedures and practices protect personal information from unauthorized access."
#     - cite: "Cal. Civ. Code 1798.81.5(b)"
#       paraphrase: "A business that owns, licenses or maintains personal information maintains reasonable security procedures and practices."
#   thresholds:
#     - name: "ttl_max_days, ttl_max_days_sensitive"
#       basis: tokenguard default
#   adds: "Caps a token's lifetime at 90 days, 30 for sensitive categories: tokenguard defaults, configurable; no law sets them."
#   remediation: "Shorten ttl to the cap, and rely on rotation or a reviewed renewal for longer-lived access."
#   scope: token
#   applies_to: [tokenguard]
#   gates: [provider, check, service]
#   reads: [fields.ttl_seconds, fields.data_categories]
package tokenguard.cpra.ret_ttl_cap

import data.tokenguard.lib

deny contains f if {
	t := input.token
	lib.is_tokenguard(t)
	ttl := lib.field(t, "ttl_seconds")
	is_number(ttl)
	cap := lib.ttl_cap(t)
	ttl > cap
	not lib.opaque(t, "ttl")
	f := {
		"msg": sprintf("ttl is %s, above %s", [lib.duration_text(ttl), lib.cap_text(t, cap)]),
		"field": "ttl",
	}
}

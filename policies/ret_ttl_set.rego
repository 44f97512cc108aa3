# METADATA
# title: Token expires
# description: >-
#   Every tokenguard token must carry its own lifetime instead of relying on
#   the server default. A finding is raised when ttl is not set, or when it is
#   zero or negative. Nothing is raised while ttl is unknown until apply.
# custom:
#   id: CPRA-RET-001
#   severity: error
#   provisions:
#     - cite: "Cal. Civ. Code 1798.100(a)(3)"
#       paraphrase: "Personal information is not retained longer than reasonably necessary for the disclosed purpose."
#     - cite: "Cal. Civ. Code 1798.100(e)"
#       paraphrase: "Reasonable security procedures and practices protect personal information from unauthorized access."
#   thresholds:
#     - name: "ttl_max_days, ttl_max_days_sensitive"
#       basis: tokenguard default
#   adds: "Requires an explicit ttl; the caps it names are tokenguard defaults (90 and 30 days, configurable)."
#   remediation: "Set ttl to the shortest lifetime the purpose allows, within the ttl cap (90 days by default, 30 when sensitive categories are reached)."
#   scope: token
#   applies_to: [tokenguard]
#   gates: [provider, check, service]
#   reads: [fields.ttl_seconds, fields.data_categories]
package tokenguard.cpra.ret_ttl_set

import data.tokenguard.lib

deny contains f if {
	t := input.token
	lib.is_tokenguard(t)
	lib.field(t, "ttl_seconds") == null
	not lib.opaque(t, "ttl")
	f := {
		"msg": sprintf("ttl is not set: the token's lifetime is left to the server default; set it explicitly within %s", [lib.cap_text(t, lib.ttl_cap(t))]),
		"field": "ttl",
	}
}

deny contains f if {
	t := input.token
	lib.is_tokenguard(t)
	ttl := lib.field(t, "ttl_seconds")
	is_number(ttl)
	ttl <= 0
	not lib.opaque(t, "ttl")
	f := {
		"msg": "ttl is zero or negative: a token must have a positive lifetime",
		"field": "ttl",
	}
}

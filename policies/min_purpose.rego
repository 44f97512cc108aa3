# METADATA
# title: Purpose is specific
# description: >-
#   A tokenguard token must state the specific purpose it is issued for.
#   A finding is raised when purpose is missing or blank, when it is one of the
#   generic words of data.tokenguard.generic_purposes (compared trimmed and
#   case-insensitively), or when it is shorter than 12 characters once trimmed.
#   Nothing is raised while purpose is unknown until apply.
# custom:
#   id: CPRA-MIN-001
#   severity: error
#   provisions:
#     - cite: "Cal. Civ. Code 1798.100(a)(1)"
#       paraphrase: "Notice at collection states the categories of personal information collected and the purposes for which each is collected or used."
#     - cite: "Cal. Civ. Code 1798.100(c)"
#       paraphrase: "Collection, use and retention must be reasonably necessary and proportionate to the disclosed purposes."
#     - cite: "11 CCR 7002"
#       paraphrase: "Purpose limitation: processing must be reasonably necessary and proportionate to the purpose."
#   thresholds:
#     - name: "purpose_min_length"
#       basis: tokenguard default
#   adds: "Requires a stated purpose of at least 12 characters that is not a generic word; the length and word list are tokenguard's choice."
#   remediation: "Write one sentence that says which data the token reads, for which system, for what."
#   scope: token
#   applies_to: [tokenguard]
#   gates: [provider, check, service]
#   reads: [fields.purpose]
package tokenguard.cpra.min_purpose

import data.tokenguard.lib

min_length := lib.threshold("purpose_min_length")

deny contains f if {
	t := input.token
	lib.is_tokenguard(t)
	lib.blank(lib.field(t, "purpose"))
	not lib.opaque(t, "purpose")
	f := {
		"msg": "purpose is not set: a token must say what it is issued for",
		"field": "purpose",
	}
}

deny contains f if {
	t := input.token
	lib.is_tokenguard(t)
	word := normalised(lib.field(t, "purpose"))
	word in generic
	not lib.opaque(t, "purpose")
	f := {
		"msg": sprintf("purpose %q is generic: it does not say which data the token reaches or why", [word]),
		"field": "purpose",
	}
}

deny contains f if {
	t := input.token
	lib.is_tokenguard(t)
	word := normalised(lib.field(t, "purpose"))
	word != ""
	not word in generic
	n := count(word)
	n < min_length
	not lib.opaque(t, "purpose")
	f := {
		"msg": sprintf("purpose is %d characters long, fewer than the tokenguard default minimum of %d (configurable, not set by law): describe the data, the system and the use", [n, min_length]),
		"field": "purpose",
	}
}

# generic is data.tokenguard.generic_purposes normalised once per evaluation.
generic := {lower(trim_space(g)) | some g in data.tokenguard.generic_purposes}

normalised(s) := lower(trim_space(s)) if is_string(s)

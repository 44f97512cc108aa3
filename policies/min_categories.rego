# METADATA
# title: Data categories are declared
# description: >-
#   A tokenguard token must declare the CPRA categories of personal
#   information it reaches, so the inventory and deletion requests can find
#   it. A finding is raised when data_categories is not set ([] is a valid
#   declaration: "reaches no personal information"), and once per category
#   that is in neither list of data.tokenguard.vocabulary. Nothing is raised
#   while data_categories is unknown until apply.
# custom:
#   id: CPRA-MIN-005
#   severity: error
#   provisions:
#     - cite: "Cal. Civ. Code 1798.100(a)(1)"
#       paraphrase: "Notice at collection states the categories of personal information collected and the purposes for which each is collected or used."
#     - cite: "Cal. Civ. Code 1798.110"
#       paraphrase: "A consumer may request the categories of personal information the business has collected about them."
#     - cite: "Cal. Civ. Code 1798.115"
#       paraphrase: "A consumer may request the categories of personal information sold, shared or disclosed for a business purpose."
#     - cite: "Cal. Civ. Code 1798.130(c)"
#       paraphrase: "Categories are disclosed in the terms of the definitions in 1798.140(v) and (ae)."
#     - cite: "Cal. Civ. Code 1798.140(v)(1)"
#       paraphrase: "The categories of personal information."
#     - cite: "Cal. Civ. Code 1798.140(ae)"
#       paraphrase: "The categories of sensitive personal information."
#   adds: "Requires every token to declare the categories it reaches in the statute's terms, so the business can answer 1798.110/1798.115 requests."
#   remediation: "Set data_categories to the CPRA categories the token reaches (e.g. [\"identifiers\", \"commercial\"]), or [] when it reaches no personal information."
#   scope: token
#   applies_to: [tokenguard]
#   gates: [provider, check, service]
#   reads: [fields.data_categories]
package tokenguard.cpra.min_categories

import data.tokenguard.lib

deny contains f if {
	t := input.token
	lib.is_tokenguard(t)
	lib.field(t, "data_categories") == null
	not lib.opaque(t, "data_categories")
	f := {
		"msg": "data_categories is not set: declare the personal information categories the token reaches, or [] for none",
		"field": "data_categories",
	}
}

deny contains f if {
	t := input.token
	lib.is_tokenguard(t)
	some c in lib.field(t, "data_categories")
	not c in known
	not lib.opaque(t, "data_categories")
	f := {
		"msg": sprintf("data category %q is not in the CPRA vocabulary; use one of the categories of Cal. Civ. Code 1798.140(v) or (ae)", [c]),
		"field": "data_categories",
	}
}

known contains c if some c in data.tokenguard.vocabulary.personal

known contains c if some c in data.tokenguard.vocabulary.sensitive

known contains c if some c, _ in data.tokenguard.vocabulary.aliases

# METADATA
# title: Data categories use their current names
# description: >-
#   A data category declared under a deprecated name of
#   data.tokenguard.vocabulary.aliases (religious_beliefs, now
#   religious_philosophical_beliefs after Cal. Civ. Code 1798.140(ae)'s
#   "religious or philosophical beliefs") still counts as the category it was
#   renamed to, so existing configurations keep planning; this warning asks
#   for the current name.
# custom:
#   id: CPRA-MIN-006
#   severity: warning
#   provisions:
#     - cite: "Cal. Civ. Code 1798.130(c)"
#       paraphrase: "Categories are disclosed in the terms of the definitions in 1798.140(v) and (ae)."
#     - cite: "Cal. Civ. Code 1798.140(ae)"
#       paraphrase: "The categories of sensitive personal information."
#   adds: "Warns on a deprecated category name so inventories use the statute's terms; the old name keeps working."
#   remediation: "Replace the deprecated category name with its current name in data_categories."
#   scope: token
#   applies_to: [tokenguard]
#   gates: [provider, check, service]
#   reads: [fields.data_categories]
package tokenguard.cpra.min_category_alias

import data.tokenguard.lib

deny contains f if {
	t := input.token
	lib.is_tokenguard(t)
	some c in lib.field(t, "data_categories")
	current := data.tokenguard.vocabulary.aliases[c]
	f := {
		"msg": sprintf("data category %q is deprecated: it is now %q", [c, current]),
		"field": "data_categories",
	}
}

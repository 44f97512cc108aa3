# METADATA
# title: Sensitive data needs an audience bound
# description: >-
#   A tokenguard token that reaches sensitive personal information (a declared
#   data category in data.tokenguard.vocabulary.sensitive) must be bound to
#   the systems allowed to use it. A finding, naming the sensitive
#   categories, is raised when audiences is missing, empty or only blank. A specific
#   purpose is required of every token by CPRA-MIN-001. Nothing is raised
#   while audiences or data_categories is unknown until apply.
# custom:
#   id: CPRA-SPI-001
#   severity: error
#   provisions:
#     - cite: "11 CCR 7027(m)"
#       paraphrase: "Sensitive personal information used only for the permitted purposes listed there needs no right-to-limit notice."
#     - cite: "Cal. Civ. Code 1798.121"
#       paraphrase: "A consumer may direct the business to limit its use of sensitive personal information, on request."
#     - cite: "Cal. Civ. Code 1798.140(ae)"
#       paraphrase: "The categories of sensitive personal information."
#   adds: "Requires audiences on a token reaching sensitive categories, so its use stays within the permitted purposes; binding to audiences is tokenguard's control."
#   remediation: "Set audiences to the systems that may present this token, or stop reaching the sensitive categories."
#   scope: token
#   applies_to: [tokenguard]
#   gates: [provider, check, service]
#   reads: [fields.audiences, fields.data_categories]
package tokenguard.cpra.spi_audience

import data.tokenguard.lib

deny contains f if {
	t := input.token
	lib.is_tokenguard(t)
	lib.sensitive_reached(t)
	count({a |
		some a in lib.field(t, "audiences")
		not lib.blank(a)
	}) == 0
	not lib.opaque(t, "audiences")
	not lib.opaque(t, "data_categories")
	f := {
		"msg": sprintf("token reaches sensitive categories (%s) but audiences is empty: bind it to the systems allowed to use it", [lib.sensitive_list(t)]),
		"field": "audiences",
	}
}

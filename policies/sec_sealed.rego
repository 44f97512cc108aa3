# METADATA
# title: Secret of a token reaching sensitive data is sealed
# description: >-
#   A tokenguard token that reaches sensitive personal information (a declared
#   data category in data.tokenguard.vocabulary.sensitive) should name a
#   recipient (an age X25519 public key), so that the token service seals its
#   secret to it and Terraform state, which is copied, cached and backed up,
#   holds only sealed_secret and never the secret in clear. A warning is
#   raised when recipient is missing or blank. Nothing is raised while
#   recipient or data_categories is unknown until apply. The token service
#   does not run this rule: it cannot know where a secret it answers is kept.
# custom:
#   id: CPRA-SEC-003
#   severity: warning
#   provisions:
#     - cite: "Cal. Civ. Code 1798.100(e)"
#       paraphrase: "Reasonable security procedures and practices protect personal information from unauthorized access."
#     - cite: "Cal. Civ. Code 1798.81.5(b)"
#       paraphrase: "A business that owns, licenses or maintains personal information maintains reasonable security procedures and practices."
#     - cite: "Cal. Civ. Code 1798.140(ae)"
#       paraphrase: "The categories of sensitive personal information."
#   adds: "Advises sealing the secret of a token reaching sensitive categories to a recipient key, so state never holds it in clear; sealing is tokenguard's control, and a warning, not a requirement of law."
#   remediation: "Set recipient to an age X25519 public key (age-keygen -y key.txt) of the system that uses the token, and read the secret from sealed_secret with age -d -i key.txt; or use the ephemeral resource, whose secret never reaches state."
#   scope: token
#   applies_to: [tokenguard]
#   gates: [provider, check]
#   reads: [fields.recipient, fields.data_categories]
package tokenguard.cpra.sec_sealed

import data.tokenguard.lib

deny contains f if {
	t := input.token
	lib.is_tokenguard(t)
	lib.sensitive_reached(t)
	lib.blank(lib.field(t, "recipient"))
	not lib.opaque(t, "recipient")
	not lib.opaque(t, "data_categories")
	f := {
		"msg": sprintf("token reaches sensitive categories (%s) but sets no recipient, so its secret would be stored in Terraform state in clear (marked sensitive only): set recipient to seal it", [lib.sensitive_list(t)]),
		"field": "recipient",
	}
}

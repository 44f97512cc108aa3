# METADATA
# title: Token is not bound to an erased subject
# description: >-
#   A consumer's deletion request must end every token acting for them. A
#   finding is raised for each entry of data_subjects that is listed in
#   data.tokenguard.erased_subjects (subjects with a pending or completed
#   deletion request), on any create, update, replacement or no-op. The
#   message names the entry by position only: subject identifiers are
#   personal information. Nothing is raised while data_subjects is unknown.
# custom:
#   id: CPRA-DEL-001
#   severity: error
#   provisions:
#     - cite: "Cal. Civ. Code 1798.105(c)(1)"
#       paraphrase: "On a verifiable request to delete, the business deletes the consumer's personal information and notifies its service providers, contractors and third parties."
#     - cite: "Cal. Civ. Code 1798.105(c)(2)"
#       paraphrase: "The business may keep a confidential record of deletion requests to keep the deleted information from coming back."
#     - cite: "11 CCR 7022(e)"
#       paraphrase: "The business keeps a record of the deletion request so the consumer's personal information stays deleted."
#   adds: "Blocks on pending as well as completed requests: stricter than the law, whose duty starts on a verifiable request."
#   remediation: "Remove the subject from data_subjects, or revoke the token (tokenguard erase revokes every token bound to the subject)."
#   scope: token
#   applies_to: [tokenguard, external]
#   gates: [provider, check, service]
#   reads: [fields.data_subjects]
package tokenguard.cpra.del_erased_subject

import data.tokenguard.lib

deny contains f if {
	t := input.token
	t.managed_by in {"tokenguard", "external"}
	some i, subject in lib.field(t, "data_subjects")
	subject in data.tokenguard.erased_subjects
	not lib.opaque(t, "data_subjects")
	f := {
		"msg": sprintf("data_subjects[%d] has a pending or completed deletion request: the token must stop acting for that subject", [i]),
		"field": "data_subjects",
	}
}

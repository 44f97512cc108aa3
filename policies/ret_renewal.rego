# METADATA
# title: Renewal is justified and reviewed
# description: >-
#   Moving a tokenguard token's expiry later is a renewal. When the change is
#   a renewal (fields.renewal_requested), the renewal block must give a
#   non-blank reason and a non-blank reviewed_by. Whenever a renewal block is
#   present, reviewed_by must not be the owner (compared trimmed and
#   case-insensitively). Values unknown until apply
#   are not evaluated. Messages never repeat the owner or reviewer.
# custom:
#   id: CPRA-RET-003
#   severity: error
#   provisions:
#     - cite: "11 CCR 7123(c)(5)(E)"
#       paraphrase: "The cybersecurity audit assesses change management."
#     - cite: "11 CCR 7123(c)(3)"
#       paraphrase: "The cybersecurity audit assesses least-privilege access and the revoking of access no longer needed."
#   adds: "Requires a reason and a second reviewer (not the owner) to extend a token; the second reviewer is tokenguard's choice."
#   remediation: "Add a renewal block with the reason the token is still needed and reviewed_by set to a person other than the owner."
#   scope: token
#   applies_to: [tokenguard]
#   gates: [provider, check, service]
#   reads: [fields.renewal_requested, fields.renewal, fields.owner]
package tokenguard.cpra.ret_renewal

import data.tokenguard.lib

deny contains f if {
	t := input.token
	lib.is_tokenguard(t)
	lib.field(t, "renewal_requested") == true
	lib.blank(renewal_value(t, "reason"))
	not lib.opaque(t, "renewal.reason")
	f := {
		"msg": "this change extends the token's expiry but renewal.reason is not set: say why the token is still needed",
		"field": "renewal.reason",
	}
}

deny contains f if {
	t := input.token
	lib.is_tokenguard(t)
	lib.field(t, "renewal_requested") == true
	lib.blank(renewal_value(t, "reviewed_by"))
	not lib.opaque(t, "renewal.reviewed_by")
	f := {
		"msg": "this change extends the token's expiry but renewal.reviewed_by is not set: name the person who reviewed the renewal",
		"field": "renewal.reviewed_by",
	}
}

deny contains f if {
	t := input.token
	lib.is_tokenguard(t)
	reviewer := renewal_value(t, "reviewed_by")
	owner := lib.field(t, "owner")
	not lib.blank(reviewer)
	not lib.blank(owner)
	lower(trim_space(reviewer)) == lower(trim_space(owner))
	not lib.opaque(t, "renewal.reviewed_by")
	not lib.opaque(t, "owner")
	f := {
		"msg": "renewal.reviewed_by is the token's owner: a renewal must be reviewed by someone other than the owner",
		"field": "renewal.reviewed_by",
	}
}

# renewal_value is an attribute of the renewal block, null when the block or
# the attribute is absent.
renewal_value(t, name) := object.get(lib.field(t, "renewal"), name, null) if is_object(lib.field(t, "renewal"))

else := null

# METADATA
# title: External token expires
# description: >-
#   A token or key of another provider (gitlab, cloudflare, tfe, grafana,
#   vault, aws, google, azuread, datadog, ...) must expire. A finding is raised
#   when the normalised token is known to have no expiry at all
#   (fields.never_expires), e.g. an aws_iam_access_key or a gitlab token
#   without expires_at. A disabled key (status revoked, or an aws key that
#   is Inactive) cannot authenticate and is not evaluated. A rotation mechanism (keepers, time_rotating) does not
#   clear it: rotation only happens when someone applies, so the message says
#   so and points at expiry first. The finding's field is "" because the
#   attribute to set differs per provider.
# custom:
#   id: CPRA-XPR-001
#   severity: error
#   provisions:
#     - cite: "Cal. Civ. Code 1798.100(e)"
#       paraphrase: "Reasonable security procedures and practices protect personal information from unauthorized access."
#     - cite: "Cal. Civ. Code 1798.81.5(b)"
#       paraphrase: "A business that owns, licenses or maintains personal information maintains reasonable security procedures and practices."
#   adds: "Refuses another provider's credential that never expires and is never rotated."
#   remediation: "Set the resource's expiry (e.g. expires_at, expiration, ttl) within the ttl cap (90 days by default); where the provider cannot expire the key, rotate it with time_rotating and record a waiver."
#   scope: token
#   applies_to: [external]
#   gates: [check]
#   reads: [fields.never_expires, fields.rotation_configured, fields.status]
package tokenguard.cpra.xpr_no_expiry

import data.tokenguard.lib

deny contains f if {
	t := input.token
	lib.is_external(t)
	lib.field(t, "never_expires") == true
	not lib.disabled(t)
	f := {
		"msg": sprintf("%s never expires%s", [t.type, rotation_note(t)]),
		"field": "",
	}
}

rotation_note(t) := ": rotation is configured, but the key stays valid for as long as nobody applies" if {
	lib.field(t, "rotation_configured") == true
} else := ": set an expiry, or rotate it and record a waiver where the provider cannot expire it"

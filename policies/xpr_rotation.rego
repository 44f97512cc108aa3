# METADATA
# title: Long-lived external token is rotated
# description: >-
#   A token or key of another provider that does expire, but stays valid
#   longer than data.tokenguard.thresholds.rotation_interval_max_days
#   (default 30; rotation_interval_max_days_sensitive, default 7, when its
#   data categories reach sensitive ones), must have a rotation mechanism
#   (fields.rotation_configured: gitlab rotation_configuration, keepers,
#   rotate_when_changed, ...). Whether a token that never expires should
#   expire is CPRA-XPR-001's concern; here such a token is evaluated only on
#   its age (fields.age_seconds, e.g. an aws_iam_access_key's create_date):
#   older than the rotation cap with no rotation configured is a finding.
#   Disabled tokens (status revoked, aws Inactive) are not evaluated. Validity is the longer of
#   fields.ttl_seconds and fields.expires_in_seconds; unknown values are not
#   evaluated. The finding's field is "" because the attribute differs per
#   provider.
# custom:
#   id: CPRA-XPR-003
#   severity: warning
#   provisions:
#     - cite: "Cal. Civ. Code 1798.100(e)"
#       paraphrase: "Reasonable security procedures and practices protect personal information from unauthorized access."
#     - cite: "Cal. Civ. Code 1798.81.5(b)"
#       paraphrase: "A business that owns, licenses or maintains personal information maintains reasonable security procedures and practices."
#     - cite: "11 CCR 7123(c)(1)"
#       paraphrase: "The cybersecurity audit assesses authentication."
#   thresholds:
#     - name: "rotation_interval_max_days, rotation_interval_max_days_sensitive"
#       basis: tokenguard default
#   adds: "Requires rotation on a long-lived external credential past 30 days (tokenguard default, configurable)."
#   remediation: "Configure the provider's rotation (e.g. gitlab rotation_configuration, or keepers driven by time_rotating), or shorten the expiry to the rotation cap."
#   scope: token
#   applies_to: [external]
#   gates: [check]
#   reads: [fields.never_expires, fields.rotation_configured, fields.ttl_seconds, fields.expires_in_seconds, fields.data_categories, fields.age_seconds, fields.status]
package tokenguard.cpra.xpr_rotation

import data.tokenguard.lib

deny contains f if {
	t := input.token
	lib.is_external(t)
	lib.field(t, "never_expires") != true
	lib.field(t, "rotation_configured") != true
	not lib.disabled(t)
	valid := lib.validity(t)
	cap := lib.rotation_cap(t)
	valid > cap
	f := {
		"msg": sprintf("%s stays valid for %s with no rotation configured, longer than %s for rotation", [
			t.type,
			lib.duration_text(valid),
			lib.cap_text(t, cap),
		]),
		"field": "",
	}
}

deny contains f if {
	t := input.token
	lib.is_external(t)
	lib.field(t, "never_expires") == true
	lib.field(t, "rotation_configured") != true
	not lib.disabled(t)
	age := lib.field(t, "age_seconds")
	is_number(age)
	cap := lib.rotation_cap(t)
	age > cap
	f := {
		"msg": sprintf("%s was created %s ago, never expires and has no rotation configured, older than %s for rotation", [
			t.type,
			lib.duration_text(age),
			lib.cap_text(t, cap),
		]),
		"field": "",
	}
}

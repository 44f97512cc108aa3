# METADATA
# title: Expired token is not kept
# description: >-
#   A token that has already expired at the plan timestamp
#   (fields.expires_in_seconds below zero) must be replaced or removed, not
#   kept in configuration as if it still worked. A finding is raised when such
#   a token's planned action is no-op or an in-place update; a replacement or
#   a create is fine. Nothing is raised while the expiry is unknown. Applies
#   to tokenguard and external tokens alike.
# custom:
#   id: CPRA-RET-004
#   severity: error
#   basis: configuration hygiene
#   provisions: []
#   adds: "Configuration hygiene: an expired token holds no personal information and grants no access, so no provision is cited."
#   remediation: "Replace the token (terraform apply -replace=ADDRESS) if it is still needed, otherwise remove the resource."
#   scope: token
#   applies_to: [tokenguard, external]
#   gates: [provider, check]
#   reads: [fields.expires_in_seconds]
package tokenguard.cpra.ret_expired

import data.tokenguard.lib

deny contains f if {
	t := input.token
	t.managed_by in {"tokenguard", "external"}
	lib.keeps_token(t)
	remaining := lib.field(t, "expires_in_seconds")
	is_number(remaining)
	remaining < 0
	not lib.opaque(t, "expires_at")
	f := {
		"msg": sprintf("token expired %s before the plan but the plan keeps it (%s) instead of replacing it", [
			lib.duration_text(abs(remaining)),
			lib.action_text(t),
		]),
		"field": "expires_at",
	}
}

package tokenguard.cpra.xpr_no_expiry_test

import data.tokenguard.cpra.xpr_no_expiry
import data.tokenguard.fixtures

test_expiring_external_token_passes if {
	count(xpr_no_expiry.deny) == 0 with input as fixtures.input_for(fixtures.external)
}

test_never_expiring_external_token if {
	tok := fixtures.external_fields({"never_expires": true, "expires_at": null, "expires_in_seconds": null})
	r := xpr_no_expiry.deny with input as fixtures.input_for(tok)
	r == {{
		"msg": "gitlab_project_access_token never expires: set an expiry, or rotate it and record a waiver where the provider cannot expire it",
		"field": "",
	}}
}

test_rotation_is_noted_but_does_not_clear if {
	tok := fixtures.with_top(
		fixtures.external_fields({"never_expires": true, "rotation_configured": true}),
		{"type": "aws_iam_access_key", "address": "aws_iam_access_key.ci"},
	)
	r := xpr_no_expiry.deny with input as fixtures.input_for(tok)
	count(r) == 1
	some f in r
	startswith(f.msg, "aws_iam_access_key never expires: rotation is configured")
}

test_unknown_expiry_is_not_never_expires if {
	# The engine sets never_expires only when it knows; an unknown expiry
	# leaves it false.
	tok := fixtures.with_top(
		fixtures.external_fields({"never_expires": false, "expires_at": null, "expires_in_seconds": null}),
		{"unknown": ["token", "expires_at"]},
	)
	count(xpr_no_expiry.deny) == 0 with input as fixtures.input_for(tok)
}

test_tokenguard_tokens_are_ignored if {
	tok := fixtures.fields({"never_expires": true})
	count(xpr_no_expiry.deny) == 0 with input as fixtures.input_for(tok)
}

test_inactive_key_is_not_evaluated if {
	tok := fixtures.external_fields({"never_expires": true, "status": "revoked"})
	count(xpr_no_expiry.deny) == 0 with input as fixtures.input_for(tok)
}

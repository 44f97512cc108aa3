package tokenguard.cpra.xpr_rotation_test

import data.tokenguard.cpra.xpr_rotation
import data.tokenguard.fixtures

test_short_lived_token_without_rotation_passes if {
	count(xpr_rotation.deny) == 0 with input as fixtures.input_for(fixtures.external)
}

test_long_lived_token_with_rotation_passes if {
	tok := fixtures.external_fields({"expires_in_seconds": 60 * 86400, "rotation_configured": true})
	count(xpr_rotation.deny) == 0 with input as fixtures.input_for(tok)
}

test_long_lived_token_without_rotation if {
	tok := fixtures.external_fields({"expires_in_seconds": 60 * 86400})
	r := xpr_rotation.deny with input as fixtures.input_for(tok)
	r == {{
		"msg": "gitlab_project_access_token stays valid for 60 days with no rotation configured, longer than the tokenguard default cap of 30 days (configurable, not set by law) for rotation",
		"field": "",
	}}
}

test_sensitive_categories_tighten_cap if {
	tok := fixtures.external_fields({"expires_in_seconds": 10 * 86400, "data_categories": ["health"]})
	r := xpr_rotation.deny with input as fixtures.input_for(tok)
	count(r) == 1
	some f in r
	contains(f.msg, "the tokenguard default cap of 7 days for tokens reaching sensitive categories (health; configurable, not set by law)")
}

test_never_expiring_token_is_left_to_xpr_001 if {
	tok := fixtures.external_fields({"never_expires": true, "ttl_seconds": 400 * 86400})
	count(xpr_rotation.deny) == 0 with input as fixtures.input_for(tok)
}

test_unknown_expiry_is_not_guessed if {
	tok := fixtures.with_top(
		fixtures.external_fields({"expires_at": null, "expires_in_seconds": null}),
		{"unknown": ["token", "expires_at"]},
	)
	count(xpr_rotation.deny) == 0 with input as fixtures.input_for(tok)
}

test_cap_from_data if {
	r := xpr_rotation.deny with input as fixtures.input_for(fixtures.external)
		with data.tokenguard.thresholds as {"rotation_interval_max_days": 7}
	count(r) == 1
}

test_tokenguard_tokens_are_ignored if {
	tok := fixtures.fields({"expires_in_seconds": 60 * 86400, "rotation_configured": false})
	count(xpr_rotation.deny) == 0 with input as fixtures.input_for(tok)
}

test_old_key_that_never_expires_without_rotation if {
	tok := fixtures.external_fields({"never_expires": true, "age_seconds": 200 * 86400, "expires_in_seconds": null})
	r := xpr_rotation.deny with input as fixtures.input_for(tok)
	r == {{
		"msg": "gitlab_project_access_token was created 200 days ago, never expires and has no rotation configured, older than the tokenguard default cap of 30 days (configurable, not set by law) for rotation",
		"field": "",
	}}
}

test_young_key_that_never_expires_passes if {
	tok := fixtures.external_fields({"never_expires": true, "age_seconds": 10 * 86400, "expires_in_seconds": null})
	count(xpr_rotation.deny) == 0 with input as fixtures.input_for(tok)
}

test_disabled_key_is_not_evaluated if {
	tok := fixtures.external_fields({"never_expires": true, "age_seconds": 200 * 86400, "status": "revoked", "expires_in_seconds": 60 * 86400})
	count(xpr_rotation.deny) == 0 with input as fixtures.input_for(tok)
}

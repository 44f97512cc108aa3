package tokenguard.cpra.xpr_expiry_cap_test

import data.tokenguard.cpra.xpr_expiry_cap
import data.tokenguard.fixtures

test_expiry_within_cap_passes if {
	count(xpr_expiry_cap.deny) == 0 with input as fixtures.input_for(fixtures.external)
	tok := fixtures.external_fields({"expires_in_seconds": 90 * 86400})
	count(xpr_expiry_cap.deny) == 0 with input as fixtures.input_for(tok)
}

test_expiry_beyond_cap if {
	tok := fixtures.external_fields({"expires_at": "2027-11-27T12:00:00Z", "expires_in_seconds": 365 * 86400})
	r := xpr_expiry_cap.deny with input as fixtures.input_for(tok)
	r == {{"msg": "gitlab_project_access_token stays valid for 365 days, above the tokenguard default cap of 90 days (configurable, not set by law)", "field": ""}}
}

test_lifetime_beyond_cap if {
	tok := fixtures.external_fields({"ttl_seconds": 100 * 86400, "expires_at": null, "expires_in_seconds": null})
	r := xpr_expiry_cap.deny with input as fixtures.input_for(tok)
	count(r) == 1
	some f in r
	contains(f.msg, "100 days")
}

test_longer_of_ttl_and_expiry_is_reported_once if {
	tok := fixtures.external_fields({"ttl_seconds": 100 * 86400, "expires_in_seconds": 120 * 86400})
	r := xpr_expiry_cap.deny with input as fixtures.input_for(tok)
	count(r) == 1
	some f in r
	contains(f.msg, "120 days")
}

test_sensitive_categories_tighten_cap if {
	tok := fixtures.external_fields({"expires_in_seconds": 60 * 86400, "data_categories": ["health"]})
	r := xpr_expiry_cap.deny with input as fixtures.input_for(tok)
	r == {{
		"msg": "gitlab_project_access_token stays valid for 60 days, above the tokenguard default cap of 30 days for tokens reaching sensitive categories (health; configurable, not set by law)",
		"field": "",
	}}
}

test_unknown_expiry_is_not_guessed if {
	tok := fixtures.with_top(
		fixtures.external_fields({"expires_at": null, "expires_in_seconds": null}),
		{"unknown": ["token", "expires_at"]},
	)
	count(xpr_expiry_cap.deny) == 0 with input as fixtures.input_for(tok)
}

test_cap_from_data if {
	r := xpr_expiry_cap.deny with input as fixtures.input_for(fixtures.external)
		with data.tokenguard.thresholds as {"ttl_max_days": 14}
	count(r) == 1
}

test_tokenguard_tokens_are_ignored if {
	tok := fixtures.fields({"expires_in_seconds": 365 * 86400})
	count(xpr_expiry_cap.deny) == 0 with input as fixtures.input_for(tok)
}

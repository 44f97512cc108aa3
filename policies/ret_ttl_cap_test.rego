package tokenguard.cpra.ret_ttl_cap_test

import data.tokenguard.cpra.ret_ttl_cap
import data.tokenguard.fixtures

test_ttl_at_cap_passes if {
	count(ret_ttl_cap.deny) == 0 with input as fixtures.input_for(fixtures.fields({"ttl_seconds": 90 * 86400}))
}

test_ttl_above_cap if {
	r := ret_ttl_cap.deny with input as fixtures.input_for(fixtures.fields({"ttl_seconds": 120 * 86400}))
	r == {{"msg": "ttl is 120 days, above the tokenguard default cap of 90 days (configurable, not set by law)", "field": "ttl"}}
}

test_sensitive_category_tightens_cap if {
	tok := fixtures.fields({"ttl_seconds": 60 * 86400, "data_categories": ["commercial", "health", "genetic"]})
	r := ret_ttl_cap.deny with input as fixtures.input_for(tok)
	r == {{
		"msg": "ttl is 60 days, above the tokenguard default cap of 30 days for tokens reaching sensitive categories (genetic, health; configurable, not set by law)",
		"field": "ttl",
	}}
}

test_sensitive_token_at_its_cap_passes if {
	tok := fixtures.fields({"ttl_seconds": 30 * 86400, "data_categories": ["health"]})
	count(ret_ttl_cap.deny) == 0 with input as fixtures.input_for(tok)
}

test_unknown_ttl_is_not_guessed if {
	tok := fixtures.with_top(fixtures.fields({"ttl_seconds": null}), {"unknown": ["ttl"]})
	count(ret_ttl_cap.deny) == 0 with input as fixtures.input_for(tok)
}

test_unknown_categories_keep_general_cap if {
	tok := fixtures.with_top(
		fixtures.fields({"ttl_seconds": 60 * 86400, "data_categories": null}),
		{"unknown": ["data_categories"]},
	)
	count(ret_ttl_cap.deny) == 0 with input as fixtures.input_for(tok)
}

test_caps_from_data if {
	tok := fixtures.fields({"ttl_seconds": 20 * 86400})
	r := ret_ttl_cap.deny with input as fixtures.input_for(tok) with data.tokenguard.thresholds as {"ttl_max_days": 14}
	fixtures.fields_of(r) == ["ttl"]
	sens := fixtures.fields({"ttl_seconds": 20 * 86400, "data_categories": ["health"]})
	r2 := ret_ttl_cap.deny with input as fixtures.input_for(sens)
		with data.tokenguard.thresholds as {"ttl_max_days_sensitive": 7}
	fixtures.fields_of(r2) == ["ttl"]
}

test_external_tokens_are_ignored if {
	tok := fixtures.as_external(fixtures.fields({"ttl_seconds": 365 * 86400}))
	count(ret_ttl_cap.deny) == 0 with input as fixtures.input_for(tok)
}

test_unknown_ttl_with_stale_value_is_not_guessed if {
	tok := fixtures.with_top(fixtures.fields({"ttl_seconds": 365 * 86400}), {"unknown": ["ttl"]})
	count(ret_ttl_cap.deny) == 0 with input as fixtures.input_for(tok)
}

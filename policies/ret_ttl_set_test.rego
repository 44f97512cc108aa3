package tokenguard.cpra.ret_ttl_set_test

import data.tokenguard.cpra.ret_ttl_set
import data.tokenguard.fixtures

test_ttl_set_passes if {
	count(ret_ttl_set.deny) == 0 with input as fixtures.input_for(fixtures.token)
}

test_missing_ttl if {
	r := ret_ttl_set.deny with input as fixtures.input_for(fixtures.fields({"ttl_seconds": null}))
	r == {{
		"msg": "ttl is not set: the token's lifetime is left to the server default; set it explicitly within the tokenguard default cap of 90 days (configurable, not set by law)",
		"field": "ttl",
	}}
}

test_missing_ttl_names_sensitive_cap if {
	tok := fixtures.fields({"ttl_seconds": null, "data_categories": ["health"]})
	r := ret_ttl_set.deny with input as fixtures.input_for(tok)
	fixtures.fields_of(r) == ["ttl"]
	some f in r
	contains(f.msg, "the tokenguard default cap of 30 days for tokens reaching sensitive categories (health; configurable, not set by law)")
}

test_zero_ttl if {
	r := ret_ttl_set.deny with input as fixtures.input_for(fixtures.fields({"ttl_seconds": 0}))
	fixtures.fields_of(r) == ["ttl"]
	some f in r
	contains(f.msg, "zero or negative")
}

test_unknown_ttl_is_not_guessed if {
	tok := fixtures.with_top(fixtures.fields({"ttl_seconds": null}), {"unknown": ["ttl"]})
	count(ret_ttl_set.deny) == 0 with input as fixtures.input_for(tok)
}

test_cap_in_message_from_data if {
	r := ret_ttl_set.deny with input as fixtures.input_for(fixtures.fields({"ttl_seconds": null}))
		with data.tokenguard.thresholds as {"ttl_max_days": 14}
	some f in r
	contains(f.msg, "within the tokenguard default cap of 14 days (configurable, not set by law)")
}

test_external_tokens_are_ignored if {
	tok := fixtures.as_external(fixtures.fields({"ttl_seconds": null}))
	count(ret_ttl_set.deny) == 0 with input as fixtures.input_for(tok)
}

test_unknown_ttl_with_stale_value_is_not_guessed if {
	tok := fixtures.with_top(fixtures.fields({"ttl_seconds": 0}), {"unknown": ["ttl"]})
	count(ret_ttl_set.deny) == 0 with input as fixtures.input_for(tok)
}

test_external_zero_ttl_is_ignored if {
	tok := fixtures.as_external(fixtures.fields({"ttl_seconds": 0}))
	count(ret_ttl_set.deny) == 0 with input as fixtures.input_for(tok)
}

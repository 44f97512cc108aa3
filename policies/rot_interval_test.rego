package tokenguard.cpra.rot_interval_test

import data.tokenguard.cpra.rot_interval
import data.tokenguard.fixtures

test_interval_within_cap_passes if {
	count(rot_interval.deny) == 0 with input as fixtures.input_for(fixtures.fields({"rotation_interval_seconds": 30 * 86400}))
}

test_interval_above_cap if {
	tok := fixtures.fields({"ttl_seconds": 90 * 86400, "rotation_interval_seconds": 45 * 86400})
	r := rot_interval.deny with input as fixtures.input_for(tok)
	r == {{"msg": "rotation.interval is 45 days, above the tokenguard default cap of 30 days (configurable, not set by law)", "field": "rotation.interval"}}
}

test_sensitive_category_tightens_interval_cap if {
	tok := fixtures.fields({"rotation_interval_seconds": 14 * 86400, "data_categories": ["biometric_identification"]})
	r := rot_interval.deny with input as fixtures.input_for(tok)
	r == {{
		"msg": "rotation.interval is 14 days, above the tokenguard default cap of 7 days for tokens reaching sensitive categories (biometric_identification; configurable, not set by law)",
		"field": "rotation.interval",
	}}
}

test_interval_longer_than_ttl if {
	tok := fixtures.fields({"ttl_seconds": 10 * 86400, "rotation_interval_seconds": 20 * 86400})
	r := rot_interval.deny with input as fixtures.input_for(tok)
	r == {{
		"msg": "rotation.interval is 20 days, longer than ttl (10 days): the token expires before it is ever rotated",
		"field": "rotation.interval",
	}}
}

test_interval_above_cap_and_ttl_gives_two_findings if {
	tok := fixtures.fields({"ttl_seconds": 40 * 86400, "rotation_interval_seconds": 60 * 86400})
	r := rot_interval.deny with input as fixtures.input_for(tok)
	fixtures.fields_of(r) == ["rotation.interval", "rotation.interval"]
}

test_long_ttl_without_rotation if {
	tok := fixtures.fields({
		"ttl_seconds": 60 * 86400, "rotation_configured": false,
		"rotation_interval_seconds": null, "rotation_overlap_seconds": null,
	})
	r := rot_interval.deny with input as fixtures.input_for(tok)
	r == {{
		"msg": "no rotation is configured and ttl is 60 days, longer than the tokenguard default cap of 30 days (configurable, not set by law) for rotation",
		"field": "rotation",
	}}
}

test_short_ttl_needs_no_rotation if {
	tok := fixtures.fields({
		"ttl_seconds": 30 * 86400, "rotation_configured": false,
		"rotation_interval_seconds": null, "rotation_overlap_seconds": null,
	})
	count(rot_interval.deny) == 0 with input as fixtures.input_for(tok)
}

test_unknown_values_are_not_guessed if {
	unknown_interval := fixtures.with_top(
		fixtures.fields({"rotation_interval_seconds": null}),
		{"unknown": ["rotation.interval"]},
	)
	count(rot_interval.deny) == 0 with input as fixtures.input_for(unknown_interval)
	unknown_ttl := fixtures.with_top(
		fixtures.fields({"ttl_seconds": null, "rotation_configured": false, "rotation_interval_seconds": null}),
		{"unknown": ["ttl"]},
	)
	count(rot_interval.deny) == 0 with input as fixtures.input_for(unknown_ttl)
	unknown_rotation := fixtures.with_top(
		fixtures.fields({"ttl_seconds": 60 * 86400, "rotation_configured": false, "rotation_interval_seconds": null}),
		{"unknown": ["rotation"]},
	)
	count(rot_interval.deny) == 0 with input as fixtures.input_for(unknown_rotation)
}

test_caps_from_data if {
	tok := fixtures.fields({"rotation_interval_seconds": 7 * 86400})
	r := rot_interval.deny with input as fixtures.input_for(tok)
		with data.tokenguard.thresholds as {"rotation_interval_max_days": 3}
	fixtures.fields_of(r) == ["rotation.interval"]
	sens := fixtures.fields({"rotation_interval_seconds": 7 * 86400, "data_categories": ["health"]})
	count(rot_interval.deny) == 0 with input as fixtures.input_for(sens)
		with data.tokenguard.thresholds as {"rotation_interval_max_days_sensitive": 7}
}

test_external_tokens_are_ignored if {
	tok := fixtures.as_external(fixtures.fields({"rotation_interval_seconds": 365 * 86400}))
	count(rot_interval.deny) == 0 with input as fixtures.input_for(tok)
}

test_unknown_values_with_stale_values_are_not_guessed if {
	long_interval := fixtures.fields({"ttl_seconds": 10 * 86400, "rotation_interval_seconds": 60 * 86400})
	every unknown in [["rotation.interval"], ["rotation"]] {
		tok := fixtures.with_top(long_interval, {"unknown": unknown})
		count(rot_interval.deny) == 0 with input as fixtures.input_for(tok)
	}
	long_ttl := fixtures.fields({"ttl_seconds": 60 * 86400, "rotation_interval_seconds": 90 * 86400})
	r := rot_interval.deny with input as fixtures.input_for(fixtures.with_top(long_ttl, {"unknown": ["ttl"]}))
	r == {{"msg": "rotation.interval is 90 days, above the tokenguard default cap of 30 days (configurable, not set by law)", "field": "rotation.interval"}}
	no_rotation := fixtures.fields({"ttl_seconds": 60 * 86400, "rotation_configured": false, "rotation_interval_seconds": null})
	count(rot_interval.deny) == 0 with input as fixtures.input_for(fixtures.with_top(no_rotation, {"unknown": ["ttl"]}))
}

test_external_without_rotation_is_ignored if {
	tok := fixtures.as_external(fixtures.fields({"ttl_seconds": 60 * 86400, "rotation_configured": false, "rotation_interval_seconds": null}))
	count(rot_interval.deny) == 0 with input as fixtures.input_for(tok)
}

test_interval_without_ttl_is_only_checked_against_the_cap if {
	tok := fixtures.fields({"ttl_seconds": null, "rotation_interval_seconds": 7 * 86400})
	count(rot_interval.deny) == 0 with input as fixtures.input_for(tok)
}

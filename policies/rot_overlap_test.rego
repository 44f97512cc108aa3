package tokenguard.cpra.rot_overlap_test

import data.tokenguard.cpra.rot_overlap
import data.tokenguard.fixtures

test_overlap_within_cap_passes if {
	count(rot_overlap.deny) == 0 with input as fixtures.input_for(fixtures.fields({"rotation_overlap_seconds": 24 * 3600}))
}

test_no_overlap_passes if {
	count(rot_overlap.deny) == 0 with input as fixtures.input_for(fixtures.fields({"rotation_overlap_seconds": 0}))
}

test_overlap_above_cap if {
	r := rot_overlap.deny with input as fixtures.input_for(fixtures.fields({"rotation_overlap_seconds": 48 * 3600}))
	r == {{
		"msg": "rotation.overlap is 2 days, above the tokenguard default cap of 1 day (configurable, not set by law): the previous secret stays valid too long",
		"field": "rotation.overlap",
	}}
}

test_overlap_not_shorter_than_interval if {
	tok := fixtures.fields({"rotation_interval_seconds": 12 * 3600, "rotation_overlap_seconds": 12 * 3600})
	r := rot_overlap.deny with input as fixtures.input_for(tok)
	r == {{
		"msg": "rotation.overlap (12 hours) is not shorter than rotation.interval (12 hours): two secrets would be valid at all times",
		"field": "rotation.overlap",
	}}
}

test_overlap_above_cap_and_interval_gives_two_findings if {
	tok := fixtures.fields({"rotation_interval_seconds": 86400, "rotation_overlap_seconds": 2 * 86400})
	r := rot_overlap.deny with input as fixtures.input_for(tok)
	fixtures.fields_of(r) == ["rotation.overlap", "rotation.overlap"]
}

test_unknown_overlap_is_not_guessed if {
	tok := fixtures.with_top(fixtures.fields({"rotation_overlap_seconds": null}), {"unknown": ["rotation.overlap"]})
	count(rot_overlap.deny) == 0 with input as fixtures.input_for(tok)
	tok2 := fixtures.with_top(
		fixtures.fields({"rotation_interval_seconds": 3600, "rotation_overlap_seconds": 7200}),
		{"unknown": ["rotation.interval"]},
	)
	count(rot_overlap.deny) == 0 with input as fixtures.input_for(tok2)
}

test_cap_from_data if {
	tok := fixtures.fields({"rotation_overlap_seconds": 2 * 3600})
	r := rot_overlap.deny with input as fixtures.input_for(tok) with data.tokenguard.thresholds as {"overlap_max_hours": 1}
	fixtures.fields_of(r) == ["rotation.overlap"]
}

test_external_tokens_are_ignored if {
	tok := fixtures.as_external(fixtures.fields({"rotation_overlap_seconds": 7 * 86400}))
	count(rot_overlap.deny) == 0 with input as fixtures.input_for(tok)
}

test_unknown_overlap_with_stale_value_is_not_guessed if {
	tok := fixtures.with_top(fixtures.fields({"rotation_overlap_seconds": 7 * 86400}), {"unknown": ["rotation.overlap"]})
	count(rot_overlap.deny) == 0 with input as fixtures.input_for(tok)
}

test_zero_overlap_with_zero_interval_passes if {
	tok := fixtures.fields({"rotation_interval_seconds": 0, "rotation_overlap_seconds": 0})
	count(rot_overlap.deny) == 0 with input as fixtures.input_for(tok)
}

test_overlap_without_interval_is_only_checked_against_the_cap if {
	tok := fixtures.fields({"rotation_interval_seconds": null, "rotation_overlap_seconds": 3600})
	count(rot_overlap.deny) == 0 with input as fixtures.input_for(tok)
}

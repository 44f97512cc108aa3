package tokenguard.cpra.min_unused_test

import data.tokenguard.cpra.min_unused
import data.tokenguard.fixtures

stale := {"status": "active", "last_used_at": "2026-10-01T12:00:00Z", "unused_seconds": 57 * 86400}

test_new_token_passes if {
	count(min_unused.deny) == 0 with input as fixtures.input_for(fixtures.token)
}

test_recently_used_token_passes if {
	tok := fixtures.fields(object.union(stale, {"unused_seconds": 30 * 86400}))
	count(min_unused.deny) == 0 with input as fixtures.input_for(tok)
}

test_stale_active_token if {
	tok := fixtures.with_top(fixtures.fields(stale), {"actions": ["no-op"]})
	r := min_unused.deny with input as fixtures.input_for(tok)
	r == {{
		"msg": "active token has not been used for 57 days, above the tokenguard default threshold of 30 days (configurable, not set by law)",
		"field": "last_used_at",
	}}
}

test_stale_external_token if {
	tok := fixtures.external_fields(stale)
	r := min_unused.deny with input as fixtures.input_for(tok)
	fixtures.fields_of(r) == ["last_used_at"]
}

test_revoked_token_is_not_reported if {
	tok := fixtures.fields(object.union(stale, {"status": "revoked"}))
	count(min_unused.deny) == 0 with input as fixtures.input_for(tok)
}

test_unknown_last_use_is_not_guessed if {
	tok := fixtures.with_top(fixtures.fields(stale), {"unknown": ["last_used_at"]})
	count(min_unused.deny) == 0 with input as fixtures.input_for(tok)
}

test_threshold_from_data if {
	tok := fixtures.fields(stale)
	count(min_unused.deny) == 0 with input as fixtures.input_for(tok)
		with data.tokenguard.thresholds as {"unused_max_days": 60}
	r := min_unused.deny with input as fixtures.input_for(fixtures.fields(object.union(stale, {"unused_seconds": 8 * 86400})))
		with data.tokenguard.thresholds as {"unused_max_days": 7}
	fixtures.fields_of(r) == ["last_used_at"]
}

test_unknown_status_is_not_guessed if {
	tok := fixtures.with_top(fixtures.fields(stale), {"unknown": ["status"]})
	count(min_unused.deny) == 0 with input as fixtures.input_for(tok)
}

test_other_kinds_of_token_are_ignored if {
	tok := fixtures.with_top(fixtures.fields(stale), {"managed_by": "other"})
	count(min_unused.deny) == 0 with input as fixtures.input_for(tok)
}

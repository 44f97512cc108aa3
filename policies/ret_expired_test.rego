package tokenguard.cpra.ret_expired_test

import data.tokenguard.cpra.ret_expired
import data.tokenguard.fixtures

expired := {"expires_at": "2026-11-24T12:00:00Z", "expires_in_seconds": -3 * 86400, "status": "expired"}

test_valid_token_passes if {
	tok := fixtures.with_top(fixtures.token, {"actions": ["no-op"]})
	count(ret_expired.deny) == 0 with input as fixtures.input_for(tok)
}

test_expired_token_kept_unchanged if {
	tok := fixtures.with_top(fixtures.fields(expired), {"actions": ["no-op"]})
	r := ret_expired.deny with input as fixtures.input_for(tok)
	r == {{"msg": "token expired 3 days before the plan but the plan keeps it (no-op) instead of replacing it", "field": "expires_at"}}
}

test_expired_token_updated_in_place if {
	tok := fixtures.with_top(fixtures.fields(expired), {"actions": ["update"]})
	r := ret_expired.deny with input as fixtures.input_for(tok)
	fixtures.fields_of(r) == ["expires_at"]
}

test_expired_external_token_kept if {
	tok := fixtures.with_top(fixtures.external_fields(expired), {"actions": ["no-op"]})
	r := ret_expired.deny with input as fixtures.input_for(tok)
	fixtures.fields_of(r) == ["expires_at"]
}

test_replacement_is_fine if {
	every actions in [["delete", "create"], ["create", "delete"]] {
		tok := fixtures.with_top(fixtures.fields(expired), {"actions": actions})
		count(ret_expired.deny) == 0 with input as fixtures.input_for(tok)
	}
}

test_unknown_expiry_is_not_guessed if {
	tok := fixtures.with_top(fixtures.fields(expired), {"actions": ["update"], "unknown": ["expires_at"]})
	count(ret_expired.deny) == 0 with input as fixtures.input_for(tok)
}

test_other_kinds_of_token_are_ignored if {
	tok := fixtures.with_top(fixtures.fields(expired), {"actions": ["no-op"], "managed_by": "other"})
	count(ret_expired.deny) == 0 with input as fixtures.input_for(tok)
}

test_unknown_remaining_time_is_not_expired if {
	tok := fixtures.with_top(fixtures.fields({"expires_at": null, "expires_in_seconds": null}), {"actions": ["no-op"]})
	count(ret_expired.deny) == 0 with input as fixtures.input_for(tok)
}

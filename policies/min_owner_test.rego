package tokenguard.cpra.min_owner_test

import data.tokenguard.cpra.min_owner
import data.tokenguard.fixtures

test_owner_set_passes if {
	count(min_owner.deny) == 0 with input as fixtures.input_for(fixtures.token)
}

test_missing_owner if {
	r := min_owner.deny with input as fixtures.input_for(fixtures.fields({"owner": null}))
	fixtures.fields_of(r) == ["owner"]
}

test_blank_owner if {
	r := min_owner.deny with input as fixtures.input_for(fixtures.fields({"owner": " "}))
	fixtures.fields_of(r) == ["owner"]
}

test_unknown_owner_is_not_guessed if {
	tok := fixtures.with_top(fixtures.fields({"owner": null}), {"unknown": ["owner"]})
	count(min_owner.deny) == 0 with input as fixtures.input_for(tok)
}

# Issue 15: a sensitive value is judged like any other; fields hold it, the
# engine keeps it out of raw values and messages.
test_sensitive_owner_is_judged if {
	tok := fixtures.with_top(fixtures.fields({"owner": null}), {"sensitive": ["secret", "owner"]})
	count(min_owner.deny) == 1 with input as fixtures.input_for(tok)
}

test_sensitive_owner_that_is_set_passes if {
	tok := fixtures.with_top(fixtures.fields({"owner": "team-finance"}), {"sensitive": ["secret", "owner"]})
	count(min_owner.deny) == 0 with input as fixtures.input_for(tok)
}

test_external_tokens_are_ignored if {
	tok := fixtures.as_external(fixtures.fields({"owner": null}))
	count(min_owner.deny) == 0 with input as fixtures.input_for(tok)
}

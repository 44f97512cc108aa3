package tokenguard.cpra.min_purpose_test

import data.tokenguard.cpra.min_purpose
import data.tokenguard.fixtures

test_specific_purpose_passes if {
	count(min_purpose.deny) == 0 with input as fixtures.input_for(fixtures.token)
}

test_missing_purpose if {
	r := min_purpose.deny with input as fixtures.input_for(fixtures.fields({"purpose": null}))
	fixtures.fields_of(r) == ["purpose"]
	some f in r
	contains(f.msg, "not set")
}

test_blank_purpose if {
	r := min_purpose.deny with input as fixtures.input_for(fixtures.fields({"purpose": "   "}))
	fixtures.fields_of(r) == ["purpose"]
	some f in r
	contains(f.msg, "not set")
}

test_generic_purpose_trimmed_case_insensitive if {
	r := min_purpose.deny with input as fixtures.input_for(fixtures.fields({"purpose": "  TBD "}))
	fixtures.fields_of(r) == ["purpose"]
	some f in r
	f.msg == `purpose "tbd" is generic: it does not say which data the token reaches or why`
}

test_short_purpose if {
	r := min_purpose.deny with input as fixtures.input_for(fixtures.fields({"purpose": "billing job"}))
	fixtures.fields_of(r) == ["purpose"]
	some f in r
	contains(f.msg, "11 characters")
}

test_twelve_characters_is_enough if {
	count(min_purpose.deny) == 0 with input as fixtures.input_for(fixtures.fields({"purpose": "billing jobs"}))
}

test_unknown_purpose_is_not_guessed if {
	tok := fixtures.with_top(fixtures.fields({"purpose": null}), {"unknown": ["purpose"]})
	count(min_purpose.deny) == 0 with input as fixtures.input_for(tok)
}

test_generic_list_from_data if {
	tok := fixtures.fields({"purpose": "Quarterly revenue export"})
	count(min_purpose.deny) == 0 with input as fixtures.input_for(tok)
	r := min_purpose.deny with input as fixtures.input_for(tok)
		with data.tokenguard.generic_purposes as ["quarterly revenue export"]
	fixtures.fields_of(r) == ["purpose"]
}

test_external_tokens_are_ignored if {
	tok := fixtures.as_external(fixtures.fields({"purpose": null}))
	count(min_purpose.deny) == 0 with input as fixtures.input_for(tok)
}

test_unknown_purpose_with_stale_value_is_not_guessed if {
	every purpose in ["tbd", "billing job"] {
		tok := fixtures.with_top(fixtures.fields({"purpose": purpose}), {"unknown": ["purpose"]})
		count(min_purpose.deny) == 0 with input as fixtures.input_for(tok)
	}
}

test_external_generic_or_short_purpose_is_ignored if {
	every purpose in ["tbd", "billing job"] {
		tok := fixtures.as_external(fixtures.fields({"purpose": purpose}))
		count(min_purpose.deny) == 0 with input as fixtures.input_for(tok)
	}
}

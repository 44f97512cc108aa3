package tokenguard.cpra.min_categories_test

import data.tokenguard.cpra.min_categories
import data.tokenguard.fixtures

test_declared_categories_pass if {
	tok := fixtures.fields({"data_categories": ["identifiers", "health"]})
	count(min_categories.deny) == 0 with input as fixtures.input_for(tok)
}

test_empty_declaration_passes if {
	count(min_categories.deny) == 0 with input as fixtures.input_for(fixtures.fields({"data_categories": []}))
}

test_missing_categories if {
	r := min_categories.deny with input as fixtures.input_for(fixtures.fields({"data_categories": null}))
	fixtures.fields_of(r) == ["data_categories"]
	some f in r
	contains(f.msg, "not set")
}

test_each_unknown_category_is_a_finding if {
	tok := fixtures.fields({"data_categories": ["identifiers", "emails", "Health"]})
	r := min_categories.deny with input as fixtures.input_for(tok)
	fixtures.fields_of(r) == ["data_categories", "data_categories"]
	some f in r
	startswith(f.msg, `data category "emails" is not in the CPRA vocabulary`)
}

test_unknown_categories_are_not_guessed if {
	tok := fixtures.with_top(fixtures.fields({"data_categories": null}), {"unknown": ["data_categories"]})
	count(min_categories.deny) == 0 with input as fixtures.input_for(tok)
}

test_vocabulary_from_data if {
	tok := fixtures.fields({"data_categories": ["loyalty_points"]})
	count(min_categories.deny) == 0 with input as fixtures.input_for(tok)
		with data.tokenguard.vocabulary.personal as ["loyalty_points"]
}

test_external_tokens_are_ignored if {
	tok := fixtures.as_external(fixtures.fields({"data_categories": ["emails"]}))
	count(min_categories.deny) == 0 with input as fixtures.input_for(tok)
}

test_unknown_categories_with_stale_value_are_not_guessed if {
	tok := fixtures.with_top(fixtures.fields({"data_categories": ["emails"]}), {"unknown": ["data_categories"]})
	count(min_categories.deny) == 0 with input as fixtures.input_for(tok)
}

test_external_undeclared_categories_are_ignored if {
	tok := fixtures.as_external(fixtures.fields({"data_categories": null}))
	count(min_categories.deny) == 0 with input as fixtures.input_for(tok)
}

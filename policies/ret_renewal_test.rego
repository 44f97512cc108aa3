package tokenguard.cpra.ret_renewal_test

import data.tokenguard.cpra.ret_renewal
import data.tokenguard.fixtures

reviewed := {"reason": "Quarter close needs two more weeks of exports", "reviewed_by": "alice@example.com"}

test_no_renewal_passes if {
	count(ret_renewal.deny) == 0 with input as fixtures.input_for(fixtures.token)
}

test_reviewed_renewal_passes if {
	tok := fixtures.fields({"renewal_requested": true, "renewal": reviewed})
	count(ret_renewal.deny) == 0 with input as fixtures.input_for(tok)
}

test_renewal_without_block if {
	tok := fixtures.fields({"renewal_requested": true, "renewal": null})
	r := ret_renewal.deny with input as fixtures.input_for(tok)
	fixtures.fields_of(r) == ["renewal.reason", "renewal.reviewed_by"]
}

test_renewal_with_blank_reason if {
	tok := fixtures.fields({"renewal_requested": true, "renewal": object.union(reviewed, {"reason": " "})})
	r := ret_renewal.deny with input as fixtures.input_for(tok)
	fixtures.fields_of(r) == ["renewal.reason"]
}

test_renewal_without_reviewer if {
	tok := fixtures.fields({"renewal_requested": true, "renewal": {"reason": "Quarter close"}})
	r := ret_renewal.deny with input as fixtures.input_for(tok)
	fixtures.fields_of(r) == ["renewal.reviewed_by"]
}

test_owner_reviewing_own_renewal if {
	tok := fixtures.fields({
		"renewal_requested": true,
		"owner": "Alice@Example.com",
		"renewal": object.union(reviewed, {"reviewed_by": " alice@example.com"}),
	})
	r := ret_renewal.deny with input as fixtures.input_for(tok)
	fixtures.fields_of(r) == ["renewal.reviewed_by"]
	every f in r {
		not contains(lower(f.msg), "alice")
	}
}

test_owner_as_reviewer_flagged_even_without_extension if {
	tok := fixtures.fields({"owner": "team-finance", "renewal": object.union(reviewed, {"reviewed_by": "team-finance"})})
	r := ret_renewal.deny with input as fixtures.input_for(tok)
	fixtures.fields_of(r) == ["renewal.reviewed_by"]
}

test_unknown_renewal_is_not_guessed if {
	tok := fixtures.with_top(fixtures.fields({"renewal_requested": true, "renewal": null}), {"unknown": ["renewal"]})
	count(ret_renewal.deny) == 0 with input as fixtures.input_for(tok)
}

test_unknown_owner_is_not_compared if {
	tok := fixtures.with_top(
		fixtures.fields({"owner": "x", "renewal": object.union(reviewed, {"reviewed_by": "x"})}),
		{"unknown": ["owner"]},
	)
	count(ret_renewal.deny) == 0 with input as fixtures.input_for(tok)
}

test_external_tokens_are_ignored if {
	tok := fixtures.as_external(fixtures.fields({"renewal_requested": true}))
	count(ret_renewal.deny) == 0 with input as fixtures.input_for(tok)
}

test_unknown_reviewer_with_stale_value_is_not_compared if {
	tok := fixtures.with_top(
		fixtures.fields({"owner": "x", "renewal": object.union(reviewed, {"reviewed_by": "x"})}),
		{"unknown": ["renewal.reviewed_by"]},
	)
	count(ret_renewal.deny) == 0 with input as fixtures.input_for(tok)
}

test_external_owner_as_reviewer_is_ignored if {
	tok := fixtures.as_external(fixtures.fields({"owner": "x", "renewal": object.union(reviewed, {"reviewed_by": "x"})}))
	count(ret_renewal.deny) == 0 with input as fixtures.input_for(tok)
}

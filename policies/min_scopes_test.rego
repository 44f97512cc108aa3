package tokenguard.cpra.min_scopes_test

import data.tokenguard.cpra.min_scopes
import data.tokenguard.fixtures

test_narrow_scopes_pass if {
	tok := fixtures.fields({"scopes": ["invoices:read", "customers:read", "administration:read", "call:read"]})
	count(min_scopes.deny) == 0 with input as fixtures.input_for(tok)
}

test_missing_scopes if {
	r := min_scopes.deny with input as fixtures.input_for(fixtures.fields({"scopes": null}))
	fixtures.fields_of(r) == ["scopes"]
	some f in r
	contains(f.msg, "empty")
}

test_empty_scopes if {
	r := min_scopes.deny with input as fixtures.input_for(fixtures.fields({"scopes": []}))
	fixtures.fields_of(r) == ["scopes"]
}

test_each_wildcard_is_a_finding if {
	tok := fixtures.fields({"scopes": ["invoices:read", "*", "invoices:*", "read*"]})
	r := min_scopes.deny with input as fixtures.input_for(tok)
	fixtures.fields_of(r) == ["scopes", "scopes", "scopes"]
	{f.msg | some f in r} == {
		`scope "*" is a wildcard: name each resource and action instead`,
		`scope "invoices:*" is a wildcard: name each resource and action instead`,
		`scope "read*" is a wildcard: name each resource and action instead`,
	}
}

test_each_admin_scope_is_a_finding if {
	tok := fixtures.fields({"scopes": ["ADMIN", "billing:admin", "root", "sudo", "read:all"]})
	r := min_scopes.deny with input as fixtures.input_for(tok)
	count(r) == 5
	every f in r {
		f.field == "scopes"
		contains(f.msg, "is administrative")
	}
}

test_wildcard_admin_scope_is_reported_once if {
	r := min_scopes.deny with input as fixtures.input_for(fixtures.fields({"scopes": ["*:admin"]}))
	count(r) == 1
}

test_unknown_scopes_are_not_guessed if {
	tok := fixtures.with_top(fixtures.fields({"scopes": null}), {"unknown": ["scopes"]})
	count(min_scopes.deny) == 0 with input as fixtures.input_for(tok)
}

test_external_tokens_are_ignored if {
	tok := fixtures.as_external(fixtures.fields({"scopes": ["*"]}))
	count(min_scopes.deny) == 0 with input as fixtures.input_for(tok)
}

test_unknown_scopes_with_stale_value_are_not_guessed if {
	every scopes in [["*"], ["admin"]] {
		tok := fixtures.with_top(fixtures.fields({"scopes": scopes}), {"unknown": ["scopes"]})
		count(min_scopes.deny) == 0 with input as fixtures.input_for(tok)
	}
}

test_external_empty_or_admin_scopes_are_ignored if {
	every scopes in [[], ["admin"]] {
		tok := fixtures.as_external(fixtures.fields({"scopes": scopes}))
		count(min_scopes.deny) == 0 with input as fixtures.input_for(tok)
	}
}

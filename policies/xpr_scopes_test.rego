package tokenguard.cpra.xpr_scopes_test

import data.tokenguard.cpra.xpr_scopes
import data.tokenguard.fixtures

test_narrow_scopes_pass if {
	tok := fixtures.external_fields({"scopes": ["read_api", "read_repository", "write_registry"]})
	count(xpr_scopes.deny) == 0 with input as fixtures.input_for(tok)
}

test_unscoped_token_passes if {
	count(xpr_scopes.deny) == 0 with input as fixtures.input_for(fixtures.external_fields({"scopes": null}))
}

test_each_broad_scope_is_a_finding if {
	tok := fixtures.external_fields({"scopes": ["read_api", "api", "SUDO", "admin_mode"]})
	r := xpr_scopes.deny with input as fixtures.input_for(tok)
	fixtures.fields_of(r) == ["scopes", "scopes", "scopes"]
	{f.msg | some f in r} == {
		`gitlab_project_access_token has scope "api", which grants far more than one job needs`,
		`gitlab_project_access_token has scope "SUDO", which grants far more than one job needs`,
		`gitlab_project_access_token has scope "admin_mode", which grants far more than one job needs`,
	}
}

test_wildcard_resource_is_a_finding if {
	tok := fixtures.with_top(
		fixtures.external_fields({"scopes": ["com.cloudflare.api.account.*"]}),
		{"type": "cloudflare_api_token"},
	)
	r := xpr_scopes.deny with input as fixtures.input_for(tok)
	count(r) == 1
}

test_tokenguard_tokens_are_ignored if {
	tok := fixtures.fields({"scopes": ["api"]})
	count(xpr_scopes.deny) == 0 with input as fixtures.input_for(tok)
}

package tokenguard.cpra.sec_output_test

import data.tokenguard.cpra.sec_output
import data.tokenguard.fixtures

with_outputs(tok, outputs) := {"plan": object.union(fixtures.plan, {"outputs": outputs, "tokens": [tok]})}

id_output := {"name": "token_id", "sensitive": false, "references": ["tokenguard_api_token.billing.id", "tokenguard_api_token.billing"]}

test_no_outputs_pass if {
	count(sec_output.deny) == 0 with input as with_outputs(fixtures.token, [])
}

test_no_tokens_pass if {
	o := {"name": "billing", "references": ["tokenguard_api_token.billing"]}
	count(sec_output.deny) == 0 with input as {"plan": object.union(fixtures.plan, {"outputs": [o]})}
}

test_each_exposed_token_gets_its_own_finding if {
	a := fixtures.with_top(fixtures.token, {"address": `tokenguard_api_token.billing["a"]`})
	b := fixtures.with_top(fixtures.token, {"address": `tokenguard_api_token.billing["b"]`})
	o := {"name": "all_secrets", "sensitive": false, "references": [
		`tokenguard_api_token.billing["a"].secret`,
		`tokenguard_api_token.billing["b"].secret`,
	]}
	r := sec_output.deny with input as {"plan": object.union(fixtures.plan, {"outputs": [o], "tokens": [a, b]})}
	{f.address | some f in r} == {`tokenguard_api_token.billing["a"]`, `tokenguard_api_token.billing["b"]`}
	count(r) == 2
}

test_non_secret_attribute_output_passes if {
	count(sec_output.deny) == 0 with input as with_outputs(fixtures.token, [id_output])
}

test_sensitive_output_passes if {
	o := {"name": "secret", "sensitive": true, "references": ["tokenguard_api_token.billing.secret", "tokenguard_api_token.billing"]}
	count(sec_output.deny) == 0 with input as with_outputs(fixtures.token, [o])
}

test_clear_secret_output if {
	o := {"name": "billing_secret", "sensitive": false, "references": ["tokenguard_api_token.billing.secret", "tokenguard_api_token.billing"]}
	r := sec_output.deny with input as with_outputs(fixtures.token, [id_output, o])
	r == {{
		"msg": `output "billing_secret" exposes the token's secret without sensitive = true`,
		"field": "output.billing_secret",
		"address": "tokenguard_api_token.billing",
	}}
}

test_clear_whole_object_output if {
	o := {"name": "billing", "references": ["tokenguard_api_token.billing"]}
	r := sec_output.deny with input as with_outputs(fixtures.token, [o])
	r == {{
		"msg": `output "billing" exposes the whole token object, which holds its secret, without sensitive = true`,
		"field": "output.billing",
		"address": "tokenguard_api_token.billing",
	}}
}

test_indexed_instance_secret_and_collection if {
	tok := fixtures.with_top(fixtures.token, {"address": `tokenguard_api_token.billing["eu"]`})
	secret := {"name": "eu_secret", "sensitive": false, "references": [
		`tokenguard_api_token.billing["eu"].secret`,
		`tokenguard_api_token.billing["eu"]`,
		"tokenguard_api_token.billing",
	]}
	collection := {"name": "all_tokens", "sensitive": false, "references": ["tokenguard_api_token.billing"]}
	other_id := {"name": "us_id", "sensitive": false, "references": [
		`tokenguard_api_token.billing["us"].id`,
		`tokenguard_api_token.billing["us"]`,
		"tokenguard_api_token.billing",
	]}
	r := sec_output.deny with input as with_outputs(tok, [secret, collection, other_id])
	fixtures.fields_of(r) == ["output.all_tokens", "output.eu_secret"]
}

test_external_sensitive_attribute if {
	o := {"name": "ci_token", "sensitive": false, "references": ["gitlab_project_access_token.ci.token", "gitlab_project_access_token.ci"]}
	r := sec_output.deny with input as with_outputs(fixtures.external, [o])
	fixtures.fields_of(r) == ["output.ci_token"]
}

test_other_token_secret_is_not_this_tokens_finding if {
	o := {"name": "other", "sensitive": false, "references": ["tokenguard_api_token.billing2.secret", "tokenguard_api_token.billing2"]}
	count(sec_output.deny) == 0 with input as with_outputs(fixtures.token, [o])
}

test_module_tokens_are_not_traced if {
	tok := fixtures.with_top(fixtures.token, {"module": "module.app", "address": "module.app.tokenguard_api_token.billing"})
	o := {"name": "billing_secret", "sensitive": false, "references": ["tokenguard_api_token.billing.secret"]}
	count(sec_output.deny) == 0 with input as with_outputs(tok, [o])
}

test_other_kinds_of_token_are_ignored if {
	o := {"name": "billing", "references": ["tokenguard_api_token.billing"]}
	s := {"name": "billing_secret", "references": ["tokenguard_api_token.billing.secret", "tokenguard_api_token.billing"]}
	tok := fixtures.with_top(fixtures.token, {"managed_by": "other"})
	count(sec_output.deny) == 0 with input as with_outputs(tok, [o, s])
}

test_module_token_reached_through_a_module_output if {
	tok := fixtures.with_top(fixtures.token, {
		"address": `module.vault["a"].tokenguard_api_token.inner`,
		"module": `module.vault["a"]`, "name": "inner",
		"ref": "module.vault.tokenguard_api_token.inner",
	})
	o := {"name": "passed", "sensitive": false, "references": ["module.vault.secret", "module.vault.tokenguard_api_token.inner.secret"]}
	r := sec_output.deny with input as with_outputs(tok, [o])
	{f.address | some f in r} == {`module.vault["a"].tokenguard_api_token.inner`}
}

test_module_token_without_ref_is_not_matched_by_its_root_name if {
	tok := fixtures.with_top(fixtures.token, {"address": "module.vault.tokenguard_api_token.billing", "module": "module.vault"})
	o := {"name": "x", "sensitive": false, "references": ["tokenguard_api_token.billing.secret"]}
	count(sec_output.deny) == 0 with input as with_outputs(tok, [o])
}

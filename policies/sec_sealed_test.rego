package tokenguard.cpra.sec_sealed_test

import data.tokenguard.cpra.sec_sealed
import data.tokenguard.fixtures

recipient := "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"

test_sensitive_token_with_recipient_passes if {
	tok := fixtures.fields({"data_categories": ["health"], "recipient": recipient})
	count(sec_sealed.deny) == 0 with input as fixtures.input_for(tok)
}

test_non_sensitive_token_without_recipient_passes if {
	tok := fixtures.fields({"data_categories": ["commercial", "identifiers"], "recipient": null})
	count(sec_sealed.deny) == 0 with input as fixtures.input_for(tok)
}

test_no_personal_information_without_recipient_passes if {
	tok := fixtures.fields({"data_categories": [], "recipient": null})
	count(sec_sealed.deny) == 0 with input as fixtures.input_for(tok)
}

test_sensitive_token_without_recipient if {
	tok := fixtures.fields({"data_categories": ["health", "commercial", "account_credentials"], "recipient": null})
	r := sec_sealed.deny with input as fixtures.input_for(tok)
	r == {{
		"msg": "token reaches sensitive categories (account_credentials, health) but sets no recipient, so its secret would be stored in Terraform state in clear (marked sensitive only): set recipient to seal it",
		"field": "recipient",
	}}
}

test_blank_recipient_is_no_recipient if {
	tok := fixtures.fields({"data_categories": ["genetic"], "recipient": "  "})
	r := sec_sealed.deny with input as fixtures.input_for(tok)
	fixtures.fields_of(r) == ["recipient"]
}

test_unknown_recipient_is_not_guessed if {
	tok := fixtures.with_top(fixtures.fields({"data_categories": ["health"], "recipient": null}), {"unknown": ["recipient"]})
	count(sec_sealed.deny) == 0 with input as fixtures.input_for(tok)
}

test_unknown_categories_are_not_guessed if {
	tok := fixtures.with_top(fixtures.fields({"data_categories": null, "recipient": null}), {"unknown": ["data_categories"]})
	count(sec_sealed.deny) == 0 with input as fixtures.input_for(tok)
}

test_sensitive_vocabulary_from_data if {
	tok := fixtures.fields({"data_categories": ["geolocation"], "recipient": null})
	r := sec_sealed.deny with input as fixtures.input_for(tok)
		with data.tokenguard.vocabulary.sensitive as ["geolocation"]
	fixtures.fields_of(r) == ["recipient"]
}

test_external_tokens_are_ignored if {
	tok := fixtures.as_external(fixtures.fields({"data_categories": ["health"], "recipient": null}))
	count(sec_sealed.deny) == 0 with input as fixtures.input_for(tok)
}

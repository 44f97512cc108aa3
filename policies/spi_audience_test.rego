package tokenguard.cpra.spi_audience_test

import data.tokenguard.cpra.spi_audience
import data.tokenguard.fixtures

test_sensitive_token_with_audience_passes if {
	tok := fixtures.fields({"data_categories": ["health"], "audiences": ["claims-api"]})
	count(spi_audience.deny) == 0 with input as fixtures.input_for(tok)
}

test_non_sensitive_token_without_audience_passes if {
	tok := fixtures.fields({"data_categories": ["commercial"], "audiences": null})
	count(spi_audience.deny) == 0 with input as fixtures.input_for(tok)
}

test_sensitive_token_without_audience if {
	tok := fixtures.fields({"data_categories": ["health", "commercial", "genetic"], "audiences": null})
	r := spi_audience.deny with input as fixtures.input_for(tok)
	r == {{
		"msg": "token reaches sensitive categories (genetic, health) but audiences is empty: bind it to the systems allowed to use it",
		"field": "audiences",
	}}
}

test_sensitive_token_with_empty_audiences if {
	tok := fixtures.fields({"data_categories": ["neural"], "audiences": []})
	r := spi_audience.deny with input as fixtures.input_for(tok)
	fixtures.fields_of(r) == ["audiences"]
}

test_sensitive_token_with_blank_audience if {
	tok := fixtures.fields({"data_categories": ["neural"], "audiences": [" "]})
	r := spi_audience.deny with input as fixtures.input_for(tok)
	fixtures.fields_of(r) == ["audiences"]
}

test_unknown_audiences_are_not_guessed if {
	tok := fixtures.with_top(fixtures.fields({"data_categories": ["health"], "audiences": null}), {"unknown": ["audiences"]})
	count(spi_audience.deny) == 0 with input as fixtures.input_for(tok)
}

test_sensitive_vocabulary_from_data if {
	tok := fixtures.fields({"data_categories": ["geolocation"], "audiences": []})
	r := spi_audience.deny with input as fixtures.input_for(tok)
		with data.tokenguard.vocabulary.sensitive as ["geolocation"]
	fixtures.fields_of(r) == ["audiences"]
}

test_external_tokens_are_ignored if {
	tok := fixtures.as_external(fixtures.fields({"data_categories": ["health"], "audiences": null}))
	count(spi_audience.deny) == 0 with input as fixtures.input_for(tok)
}

test_unknown_categories_are_not_guessed if {
	tok := fixtures.with_top(fixtures.fields({"data_categories": ["health"], "audiences": null}), {"unknown": ["data_categories"]})
	count(spi_audience.deny) == 0 with input as fixtures.input_for(tok)
}

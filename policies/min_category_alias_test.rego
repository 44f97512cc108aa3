package tokenguard.cpra.min_category_alias_test

import data.tokenguard.cpra.min_categories
import data.tokenguard.cpra.min_category_alias
import data.tokenguard.cpra.spi_audience
import data.tokenguard.fixtures
import data.tokenguard.lib

old := fixtures.fields({"data_categories": ["religious_beliefs"], "audiences": []})

test_deprecated_name_warns if {
	r := min_category_alias.deny with input as fixtures.input_for(old)
	r == {{"msg": `data category "religious_beliefs" is deprecated: it is now "religious_philosophical_beliefs"`, "field": "data_categories"}}
}

test_deprecated_name_is_still_a_known_category if {
	count(min_categories.deny) == 0 with input as fixtures.input_for(old)
}

test_deprecated_name_is_still_sensitive if {
	lib.sensitive_reached(old)
	count(spi_audience.deny) == 1 with input as fixtures.input_for(old)
}

test_current_names_do_not_warn if {
	tok := fixtures.fields({"data_categories": ["religious_philosophical_beliefs", "biometric_information"]})
	count(min_category_alias.deny) == 0 with input as fixtures.input_for(tok)
	count(min_categories.deny) == 0 with input as fixtures.input_for(tok)
}

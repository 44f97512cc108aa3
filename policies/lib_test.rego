package tokenguard.lib_test

import data.tokenguard.fixtures
import data.tokenguard.lib

test_threshold_reads_data if {
	lib.threshold("ttl_max_days") == 7 with data.tokenguard.thresholds as {"ttl_max_days": 7}
}

test_threshold_falls_back_to_default if {
	lib.threshold("overlap_max_hours") == 24 with data.tokenguard.thresholds as {"ttl_max_days": 7}
}

test_threshold_defaults_match_bundled_data if {
	every name, value in lib.default_thresholds {
		data.tokenguard.thresholds[name] == value
	}
}

test_opaque_exact_path if {
	lib.opaque({"unknown": ["ttl"], "sensitive": []}, "ttl")
}

test_opaque_ancestor_path if {
	lib.opaque({"unknown": ["rotation"], "sensitive": []}, "rotation.interval")
}

test_sensitive_path_is_not_opaque if {
	not lib.opaque({"unknown": [], "sensitive": ["owner"]}, "owner")
}

test_opaque_not_for_sibling_or_prefix_word if {
	not lib.opaque({"unknown": ["rotation.overlap", "tt"], "sensitive": []}, "rotation.interval")
	not lib.opaque({"unknown": ["tt"], "sensitive": []}, "ttl")
	not lib.opaque({}, "ttl")
}

test_blank if {
	lib.blank(null)
	lib.blank("  \t")
	not lib.blank("x")
}

test_categories_of_undeclared_token_is_empty if {
	lib.categories(fixtures.fields({"data_categories": null})) == set()
}

test_sensitive_categories if {
	tok := fixtures.fields({"data_categories": ["commercial", "health", "genetic"]})
	lib.sensitive_categories(tok) == {"health", "genetic"}
	lib.sensitive_reached(tok)
	lib.sensitive_list(tok) == "genetic, health"
	not lib.sensitive_reached(fixtures.token)
}

test_caps_default_and_sensitive if {
	lib.ttl_cap(fixtures.token) == 90 * 86400
	lib.rotation_cap(fixtures.token) == 30 * 86400
	tok := fixtures.fields({"data_categories": ["health"]})
	lib.ttl_cap(tok) == 30 * 86400
	lib.rotation_cap(tok) == 7 * 86400
}

test_cap_text if {
	lib.cap_text(fixtures.token, 90 * 86400) == "the tokenguard default cap of 90 days (configurable, not set by law)"
	tok := fixtures.fields({"data_categories": ["health"]})
	lib.cap_text(tok, 30 * 86400) == "the tokenguard default cap of 30 days for tokens reaching sensitive categories (health; configurable, not set by law)"
}

test_duration_text if {
	lib.duration_text(86400) == "1 day"
	lib.duration_text(90 * 86400) == "90 days"
	lib.duration_text((45 * 86400) + 7200) == "more than 45 days"
	lib.duration_text(36 * 3600) == "more than 1 day"
	lib.duration_text(3600) == "1 hour"
	lib.duration_text(5400) == "more than 1 hour"
	lib.duration_text(90) == "90 seconds"
}

test_keeps_token if {
	lib.keeps_token({"actions": ["no-op"]})
	lib.keeps_token({"actions": ["update"]})
	not lib.keeps_token({"actions": ["delete", "create"]})
	not lib.keeps_token({"actions": ["create"]})
}

test_managed_by if {
	lib.is_tokenguard(fixtures.token)
	not lib.is_external(fixtures.token)
	lib.is_external(fixtures.external)
	not lib.is_tokenguard(fixtures.external)
}

test_validity_is_the_longer_known_lifetime if {
	lib.validity({"fields": {"ttl_seconds": 10, "expires_in_seconds": 20}}) == 20
	lib.validity({"fields": {"ttl_seconds": 30, "expires_in_seconds": null}}) == 30
	not lib.validity({"fields": {"ttl_seconds": null, "expires_in_seconds": null}})
}

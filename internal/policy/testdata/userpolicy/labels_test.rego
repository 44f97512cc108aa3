package acme.labels_test

import data.acme.labels

test_missing_label if {
	count(labels.deny) == 1 with input as {"token": {"managed_by": "tokenguard", "after": {"labels": {}}}}
}

test_bundle_data_visible if {
	data.tokenguard.thresholds.ttl_max_days == 90
}

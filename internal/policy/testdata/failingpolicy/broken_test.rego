package acme.broken_test

test_passes if {
	true
}

test_fails if {
	data.tokenguard.thresholds.ttl_max_days == 1
}

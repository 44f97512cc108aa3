package tokenguard.cpra.purpose_test

import data.tokenguard.cpra.purpose

test_generic_purpose_denied if {
	count(purpose.deny) == 1 with input as {"token": {"managed_by": "tokenguard", "unknown": [], "fields": {"purpose": "test"}}}
}

test_specific_purpose_allowed if {
	count(purpose.deny) == 0 with input as {"token": {"managed_by": "tokenguard", "unknown": [], "fields": {"purpose": "Reads invoices for the monthly report"}}}
}

package tokenguard.cpra.del_erased_subject_test

import data.tokenguard.cpra.del_erased_subject
import data.tokenguard.fixtures

subjects := ["customer:4411", "customer:5150", "customer:7001"]

test_no_erased_subject_passes if {
	tok := fixtures.fields({"data_subjects": subjects})
	count(del_erased_subject.deny) == 0 with input as fixtures.input_for(tok)
	count(del_erased_subject.deny) == 0 with input as fixtures.input_for(tok)
		with data.tokenguard.erased_subjects as ["customer:9999"]
}

test_each_erased_subject_is_a_finding if {
	tok := fixtures.fields({"data_subjects": subjects})
	r := del_erased_subject.deny with input as fixtures.input_for(tok)
		with data.tokenguard.erased_subjects as ["customer:5150", "customer:7001"]
	fixtures.fields_of(r) == ["data_subjects", "data_subjects"]
	{f.msg | some f in r} == {
		"data_subjects[1] has a pending or completed deletion request: the token must stop acting for that subject",
		"data_subjects[2] has a pending or completed deletion request: the token must stop acting for that subject",
	}
}

test_message_never_names_the_subject if {
	tok := fixtures.with_top(fixtures.fields({"data_subjects": subjects}), {"actions": ["no-op"]})
	r := del_erased_subject.deny with input as fixtures.input_for(tok)
		with data.tokenguard.erased_subjects as ["customer:4411"]
	count(r) == 1
	every f in r {
		not contains(f.msg, "4411")
	}
}

test_external_token_bound_to_erased_subject if {
	tok := fixtures.external_fields({"data_subjects": ["customer:4411"]})
	r := del_erased_subject.deny with input as fixtures.input_for(tok)
		with data.tokenguard.erased_subjects as ["customer:4411"]
	fixtures.fields_of(r) == ["data_subjects"]
}

test_unknown_subjects_are_not_guessed if {
	tok := fixtures.with_top(fixtures.fields({"data_subjects": null}), {"unknown": ["data_subjects"]})
	count(del_erased_subject.deny) == 0 with input as fixtures.input_for(tok)
		with data.tokenguard.erased_subjects as ["customer:4411"]
}

test_unknown_subjects_with_stale_value_are_not_guessed if {
	tok := fixtures.with_top(fixtures.fields({"data_subjects": ["customer:4411"]}), {"unknown": ["data_subjects"]})
	count(del_erased_subject.deny) == 0 with input as fixtures.input_for(tok)
		with data.tokenguard.erased_subjects as ["customer:4411"]
}

test_other_kinds_of_token_are_ignored if {
	tok := fixtures.with_top(fixtures.fields({"data_subjects": ["customer:4411"]}), {"managed_by": "other"})
	count(del_erased_subject.deny) == 0 with input as fixtures.input_for(tok)
		with data.tokenguard.erased_subjects as ["customer:4411"]
}

# Package main is the benchmark peer: the CPRA rules of policies/ that the generated plans
# exercise, written the way a conftest user would write them, directly over the raw JSON of
# `terraform show -json` (no normalisation step in Go). It runs unchanged under
# `conftest test` (namespace main, rule deny) and `opa eval 'data.main.deny'`.
#
# Every message starts with the rule id and the resource address, so the benchmark can count
# findings per rule and compare them with tokenguard's. Encoded rules (same semantics as the
# bundle): CPRA-MIN-001, -002, -004, -005, CPRA-RET-001, -002, CPRA-ROT-001, -002,
# CPRA-SPI-001, CPRA-XPR-001, -002, -003, -004. Not encoded, because the generated plans
# cannot trigger them (creates only, no outputs, no erased subjects, an https endpoint):
# CPRA-MIN-003, CPRA-RET-003, -004, CPRA-SEC-001, -002, CPRA-DEL-001. Leaving them out only
# makes the peer faster.
package main

import rego.v1

thresholds := data.tokenguard.thresholds if data.tokenguard.thresholds

else := {
	"ttl_max_days": 90,
	"ttl_max_days_sensitive": 30,
	"rotation_interval_max_days": 30,
	"rotation_interval_max_days_sensitive": 7,
	"overlap_max_hours": 24,
}

sensitive_vocabulary := {
	"government_id", "account_credentials", "precise_geolocation", "racial_ethnic_origin",
	"citizenship_immigration", "religious_philosophical_beliefs", "religious_beliefs", "union_membership", "communications_content",
	"genetic", "neural", "biometric_identification", "health", "sex_life_orientation",
}

vocabulary := sensitive_vocabulary | {
	"identifiers", "customer_records", "protected_classifications", "commercial",
	"internet_activity", "geolocation", "sensory", "employment", "education", "inferences", "biometric_information",
}

generic_purposes := {
	"test", "testing", "misc", "miscellaneous", "tbd", "todo", "temp", "temporary", "tmp",
	"general", "default", "dev", "debug", "access", "api", "api access", "token", "n/a", "na",
	"none", "other", "various", "placeholder", "xxx", "foo",
}

plan_time_ns := time.parse_rfc3339_ns(input.timestamp)

# evaluated is true for changes that create or keep the resource (not deletions or reads).
evaluated(actions) if {
	some a in actions
	a in {"create", "update", "no-op"}
}

# tg lists the evaluated tokenguard token changes, computed once per query. Rules iterate
# it and read each change's values directly: a keyed lookup into a partial rule
# (tg[addr]) would re-scan resource_changes for every token.
tg := [rc |
	some rc in input.resource_changes
	rc.type == "tokenguard_api_token"
	rc.mode == "managed"
	evaluated(rc.change.actions)
	is_object(rc.change.after)
]

# unknown is true when attr of the change is known only after apply.
unknown(rc, attr) if rc.change.after_unknown[attr] == true

# seconds parses a tokenguard duration: whole days ("30d") or a Go duration ("12h").
seconds(d) := to_number(trim_suffix(d, "d")) * 86400 if {
	is_string(d)
	endswith(d, "d")
} else := time.parse_duration_ns(d) / 1000000000 if is_string(d)

blank(v) if v == null

blank(v) if {
	is_string(v)
	trim_space(v) == ""
}

sensitive(after) if {
	some c in after.data_categories
	c in sensitive_vocabulary
}

ttl_cap(after) := thresholds.ttl_max_days_sensitive * 86400 if sensitive(after)

else := thresholds.ttl_max_days * 86400

rotation_cap(after) := thresholds.rotation_interval_max_days_sensitive * 86400 if sensitive(after)

else := thresholds.rotation_interval_max_days * 86400

# CPRA-MIN-001: purpose present, specific, not generic.
deny contains sprintf("CPRA-MIN-001: %s: purpose is not set", [rc.address]) if {
	some rc in tg
	blank(object.get(rc.change.after, "purpose", null))
	not unknown(rc, "purpose")
}

deny contains sprintf("CPRA-MIN-001: %s: purpose %q is generic", [rc.address, word]) if {
	some rc in tg
	word := lower(trim_space(rc.change.after.purpose))
	word in generic_purposes
}

deny contains sprintf("CPRA-MIN-001: %s: purpose is too short", [rc.address]) if {
	some rc in tg
	word := lower(trim_space(rc.change.after.purpose))
	word != ""
	count(word) < 12
	not word in generic_purposes
}

# CPRA-MIN-002: scopes non-empty, no wildcard or administrative scope.
deny contains sprintf("CPRA-MIN-002: %s: scopes is empty", [rc.address]) if {
	some rc in tg
	count(object.get(rc.change.after, "scopes", [])) == 0
	not unknown(rc, "scopes")
}

deny contains sprintf("CPRA-MIN-002: %s: scope %q is a wildcard", [rc.address, s]) if {
	some rc in tg
	some s in rc.change.after.scopes
	contains(s, "*")
}

deny contains sprintf("CPRA-MIN-002: %s: scope %q is administrative", [rc.address, s]) if {
	some rc in tg
	some s in rc.change.after.scopes
	not contains(s, "*")
	parts := split(lower(s), ":")
	parts[count(parts) - 1] in {"admin", "root", "sudo", "all"}
}

# CPRA-MIN-004: owner present.
deny contains sprintf("CPRA-MIN-004: %s: owner is not set", [rc.address]) if {
	some rc in tg
	blank(object.get(rc.change.after, "owner", null))
	not unknown(rc, "owner")
}

# CPRA-MIN-005: data categories declared, from the vocabulary.
deny contains sprintf("CPRA-MIN-005: %s: data_categories is not set", [rc.address]) if {
	some rc in tg
	object.get(rc.change.after, "data_categories", null) == null
	not unknown(rc, "data_categories")
}

deny contains sprintf("CPRA-MIN-005: %s: data category %q is unknown", [rc.address, c]) if {
	some rc in tg
	some c in rc.change.after.data_categories
	not c in vocabulary
}

# CPRA-RET-001: ttl set and positive.
deny contains sprintf("CPRA-RET-001: %s: ttl is not set", [rc.address]) if {
	some rc in tg
	object.get(rc.change.after, "ttl", null) == null
	not unknown(rc, "ttl")
}

deny contains sprintf("CPRA-RET-001: %s: ttl is not positive", [rc.address]) if {
	some rc in tg
	seconds(rc.change.after.ttl) <= 0
}

# CPRA-RET-002: ttl within the cap, tighter for sensitive categories.
deny contains sprintf("CPRA-RET-002: %s: ttl %v s is above the cap", [rc.address, t]) if {
	some rc in tg
	t := seconds(rc.change.after.ttl)
	t > ttl_cap(rc.change.after)
}

# CPRA-ROT-001: rotation interval within the cap and not longer than ttl; rotation configured
# when ttl is longer than the rotation cap.
deny contains sprintf("CPRA-ROT-001: %s: rotation.interval is above the cap", [rc.address]) if {
	some rc in tg
	seconds(rc.change.after.rotation.interval) > rotation_cap(rc.change.after)
}

deny contains sprintf("CPRA-ROT-001: %s: rotation.interval is longer than ttl", [rc.address]) if {
	some rc in tg
	seconds(rc.change.after.rotation.interval) > seconds(rc.change.after.ttl)
}

deny contains sprintf("CPRA-ROT-001: %s: no rotation and ttl above the rotation cap", [rc.address]) if {
	some rc in tg
	after := rc.change.after
	object.get(after, "rotation", null) == null
	object.get(after, "rotation_triggers", null) == null
	not unknown(rc, "rotation")
	seconds(after.ttl) > rotation_cap(after)
}

# CPRA-ROT-002: overlap within the cap and shorter than the interval.
deny contains sprintf("CPRA-ROT-002: %s: rotation.overlap is above the cap", [rc.address]) if {
	some rc in tg
	seconds(rc.change.after.rotation.overlap) > thresholds.overlap_max_hours * 3600
}

deny contains sprintf("CPRA-ROT-002: %s: rotation.overlap is not shorter than the interval", [rc.address]) if {
	some rc in tg
	o := seconds(rc.change.after.rotation.overlap)
	o > 0
	o >= seconds(rc.change.after.rotation.interval)
}

# CPRA-SPI-001: sensitive categories need an audience.
deny contains sprintf("CPRA-SPI-001: %s: sensitive categories without an audience", [rc.address]) if {
	some rc in tg
	sensitive(rc.change.after)
	count({a | some a in object.get(rc.change.after, "audiences", []); not blank(a)}) == 0
}

# External tokens: GitLab access tokens and AWS access keys.
gitlab := [rc |
	some rc in input.resource_changes
	rc.type == "gitlab_personal_access_token"
	rc.mode == "managed"
	evaluated(rc.change.actions)
	is_object(rc.change.after)
]

aws_keys := [rc |
	some rc in input.resource_changes
	rc.type == "aws_iam_access_key"
	rc.mode == "managed"
	evaluated(rc.change.actions)
	is_object(rc.change.after)
]

# validity is the seconds from the plan timestamp to a GitLab token's expiry date.
validity(after) := (time.parse_ns("2006-01-02", after.expires_at) - plan_time_ns) / 1000000000 if {
	is_string(after.expires_at)
	after.expires_at != ""
}

# CPRA-XPR-001: no expiry.
deny contains sprintf("CPRA-XPR-001: %s: never expires", [rc.address]) if some rc in aws_keys

deny contains sprintf("CPRA-XPR-001: %s: never expires", [rc.address]) if {
	some rc in gitlab
	blank(object.get(rc.change.after, "expires_at", null))
	count(object.get(rc.change.after, "rotation_configuration", [])) == 0
	not unknown(rc, "expires_at")
}

# CPRA-XPR-002: expiry within the ttl cap.
deny contains sprintf("CPRA-XPR-002: %s: valid for %v s, above the cap", [rc.address, v]) if {
	some rc in gitlab
	v := validity(rc.change.after)
	v > thresholds.ttl_max_days * 86400
}

# CPRA-XPR-003: long-lived without rotation.
deny contains sprintf("CPRA-XPR-003: %s: valid for %v s without rotation", [rc.address, v]) if {
	some rc in gitlab
	v := validity(rc.change.after)
	count(object.get(rc.change.after, "rotation_configuration", [])) == 0
	v > thresholds.rotation_interval_max_days * 86400
}

# CPRA-XPR-004: broad scopes.
deny contains sprintf("CPRA-XPR-004: %s: scope %q is too broad", [rc.address, s]) if {
	some rc in gitlab
	some s in rc.change.after.scopes
	broad(s)
}

broad(s) if contains(s, "*")

broad(s) if lower(s) in {"api", "sudo", "admin_mode", "admin", "root", "all"}

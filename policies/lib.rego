# Package lib holds the helpers shared by the CPRA rule packages: the
# thresholds (data.tokenguard.thresholds over built-in defaults), the
# category vocabulary, unknown/sensitive path checks and duration text for
# messages. It has no METADATA rule id and produces no findings.
package tokenguard.lib

# default_thresholds apply when data.tokenguard.thresholds lacks a key, so a
# partial --data file can override one threshold without restating the rest.
# They equal the thresholds of data.json (asserted by policies_test.go).
default_thresholds := {
	"ttl_max_days": 90,
	"ttl_max_days_sensitive": 30,
	"rotation_interval_max_days": 30,
	"rotation_interval_max_days_sensitive": 7,
	"overlap_max_hours": 24,
	"unused_max_days": 30,
	"purpose_min_length": 12,
}

# threshold returns the configured value of a threshold, else its default.
threshold(name) := v if {
	v := data.tokenguard.thresholds[name]
} else := default_thresholds[name]

# days and hours convert a number of days or hours to seconds.
days(n) := n * 86400

hours(n) := n * 3600

# is_tokenguard and is_external tell which normalised tokens a rule is for.
is_tokenguard(token) if token.managed_by == "tokenguard"

is_external(token) if token.managed_by == "external"

# disabled is true for a token that can no longer authenticate: revoked, or
# switched off by its provider (an aws_iam_access_key with status Inactive).
# Rules about how long a token stays usable leave it alone.
disabled(token) if field(token, "status") == "revoked"

# opaque is true when the value at a dotted attribute path, or at one of its
# ancestors, is unknown until apply. Rules never guess such values: a rule
# about the field does not fire. Values marked sensitive are judged like any
# other (the engine strips them from the raw values and withholds the
# messages of findings on a token that has them).
opaque(token, path) if path in object.get(token, "unknown", [])

opaque(token, path) if {
	some a in ancestors(path)
	a in object.get(token, "unknown", [])
}

# ancestors are the proper ancestor paths of a dotted path: "a.b.c" has
# "a" and "a.b"; a path without a dot has none. Membership tests on these
# replace a prefix scan over every unknown and sensitive path.
ancestors(path) := [concat(".", array.slice(parts, 0, n)) |
	parts := split(path, ".")
	some n in numbers.range(1, count(parts) - 1)
] if contains(path, ".")

# blank is true for null and for strings made only of white space.
blank(value) if value == null

blank(value) if {
	is_string(value)
	trim_space(value) == ""
}

# field returns a normalised field of the token, null when absent.
field(token, name) := v if {
	v := token.fields[name]
} else := null

# categories is the set of declared data categories ({} when not declared),
# each under its current name: a deprecated name of
# data.tokenguard.vocabulary.aliases counts as the category it was renamed to.
categories(token) := {canonical(c) | some c in field(token, "data_categories")}

# canonical is the current name of category c.
canonical(c) := data.tokenguard.vocabulary.aliases[c] if {
	is_string(c)
} else := c

# sensitive_categories are the declared categories that the vocabulary lists
# as sensitive personal information (Cal. Civ. Code 1798.140(ae)).
sensitive_categories(token) := {c |
	some c in categories(token)
	c in data.tokenguard.vocabulary.sensitive
}

sensitive_reached(token) if count(sensitive_categories(token)) > 0

# sensitive_list names the sensitive categories, sorted, for messages.
sensitive_list(token) := concat(", ", sort(sensitive_categories(token)))

# ttl_cap is the maximum lifetime in seconds: the sensitive cap as soon as
# one declared category is sensitive.
ttl_cap(token) := days(threshold("ttl_max_days_sensitive")) if {
	sensitive_reached(token)
} else := days(threshold("ttl_max_days"))

# rotation_cap is the maximum rotation interval in seconds, tighter when a
# sensitive category is reached.
rotation_cap(token) := days(threshold("rotation_interval_max_days_sensitive")) if {
	sensitive_reached(token)
} else := days(threshold("rotation_interval_max_days"))

# cap_text describes a cap for messages and says why the tighter cap applies.
cap_text(token, cap) := sprintf("the tokenguard default cap of %s for tokens reaching sensitive categories (%s; configurable, not set by law)", [
	duration_text(cap),
	sensitive_list(token),
]) if {
	sensitive_reached(token)
} else := sprintf("the tokenguard default cap of %s (configurable, not set by law)", [duration_text(cap)])

# validity is the longest known lifetime of a token in seconds: the longer
# of fields.ttl_seconds and fields.expires_in_seconds; undefined when
# neither is known.
validity(token) := max(known) if {
	known := {v |
		some name in ["ttl_seconds", "expires_in_seconds"]
		v := field(token, name)
		is_number(v)
	}
	count(known) > 0
}

# whole is true for numbers without a fractional part.
whole(n) if floor(n) == n

# duration_text renders seconds for people: "90 days", "36 hours",
# "more than 45 days", "90 seconds".
duration_text(s) := plural(s / 86400, "day") if {
	s >= 86400
	whole(s / 86400)
} else := sprintf("more than %s", [plural(floor(s / 86400), "day")]) if {
	s >= 86400
} else := plural(s / 3600, "hour") if {
	s >= 3600
	whole(s / 3600)
} else := sprintf("more than %s", [plural(floor(s / 3600), "hour")]) if {
	s >= 3600
} else := plural(s, "second")

plural(n, unit) := sprintf("%v %s", [n, unit]) if {
	n == 1
} else := sprintf("%v %ss", [n, unit])

# action_text renders the Terraform actions of a change, e.g. "no-op".
action_text(token) := concat(", ", object.get(token, "actions", []))

# keeps_token is true when the plan keeps the existing token object
# (no-op or in-place update), as opposed to replacing or creating it.
keeps_token(token) if token.actions == ["no-op"]

keeps_token(token) if token.actions == ["update"]

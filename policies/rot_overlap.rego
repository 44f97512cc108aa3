# METADATA
# title: Rotation overlap is within the cap
# description: >-
#   After a rotation the previous secret of a tokenguard token keeps working
#   for rotation.overlap. A finding is raised when the overlap exceeds
#   data.tokenguard.thresholds.overlap_max_hours (default 24), and when it is
#   as long as or longer than rotation.interval (two secrets would be valid at
#   all times). Values unknown until apply are not evaluated.
# custom:
#   id: CPRA-ROT-002
#   severity: error
#   provisions:
#     - cite: "Cal. Civ. Code 1798.100(e)"
#       paraphrase: "Reasonable security procedures and practices protect personal information from unauthorized access."
#     - cite: "Cal. Civ. Code 1798.81.5(b)"
#       paraphrase: "A business that owns, licenses or maintains personal information maintains reasonable security procedures and practices."
#   thresholds:
#     - name: "overlap_max_hours"
#       basis: tokenguard default
#   adds: "Caps the rotation overlap at 24 hours (tokenguard default, configurable) and below the interval."
#   remediation: "Shorten rotation.overlap to the time consumers need to pick up the new secret, within the cap and well below rotation.interval."
#   scope: token
#   applies_to: [tokenguard]
#   gates: [provider, check, service]
#   reads: [fields.rotation_overlap_seconds, fields.rotation_interval_seconds]
package tokenguard.cpra.rot_overlap

import data.tokenguard.lib

deny contains f if {
	t := input.token
	lib.is_tokenguard(t)
	overlap := lib.field(t, "rotation_overlap_seconds")
	is_number(overlap)
	cap := lib.hours(lib.threshold("overlap_max_hours"))
	overlap > cap
	not lib.opaque(t, "rotation.overlap")
	f := {
		"msg": sprintf("rotation.overlap is %s, above the tokenguard default cap of %s (configurable, not set by law): the previous secret stays valid too long", [
			lib.duration_text(overlap),
			lib.duration_text(cap),
		]),
		"field": "rotation.overlap",
	}
}

deny contains f if {
	t := input.token
	lib.is_tokenguard(t)
	overlap := lib.field(t, "rotation_overlap_seconds")
	interval := lib.field(t, "rotation_interval_seconds")
	is_number(overlap)
	is_number(interval)
	overlap > 0
	overlap >= interval
	not lib.opaque(t, "rotation.overlap")
	not lib.opaque(t, "rotation.interval")
	f := {
		"msg": sprintf("rotation.overlap (%s) is not shorter than rotation.interval (%s): two secrets would be valid at all times", [
			lib.duration_text(overlap),
			lib.duration_text(interval),
		]),
		"field": "rotation.overlap",
	}
}

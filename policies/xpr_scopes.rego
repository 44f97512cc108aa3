# METADATA
# title: External token scopes are not all-powerful
# description: >-
#   A token of another provider should carry narrow scopes. A finding is
#   raised once per normalised scope that contains a wildcard "*" (e.g. a
#   cloudflare policy over all resources) or that grants full or
#   administrative access: gitlab "api", "sudo" and "admin_mode", and
#   "admin", "root" or "all" (compared case-insensitively). Nothing is raised
#   while scopes are unknown (null in the normalised input).
# custom:
#   id: CPRA-XPR-004
#   severity: warning
#   provisions:
#     - cite: "Cal. Civ. Code 1798.100(c)"
#       paraphrase: "Collection, use and retention must be reasonably necessary and proportionate to the disclosed purposes."
#     - cite: "11 CCR 7002(d)(1)"
#       paraphrase: "The minimum personal information necessary to achieve the purpose is a factor in what is reasonably necessary and proportionate."
#     - cite: "11 CCR 7123(c)(3)"
#       paraphrase: "The cybersecurity audit assesses least-privilege access and the revoking of access no longer needed."
#   adds: "Flags another provider's credential with an owner- or admin-level scope; the list of such scopes is tokenguard's choice."
#   remediation: "Grant the narrowest scopes the job needs (e.g. gitlab read_api or read_repository instead of api; cloudflare resources named one by one)."
#   scope: token
#   applies_to: [external]
#   gates: [check]
#   reads: [fields.scopes]
package tokenguard.cpra.xpr_scopes

import data.tokenguard.lib

broad := {"api", "sudo", "admin_mode", "admin", "root", "all"}

deny contains f if {
	t := input.token
	lib.is_external(t)
	some s in lib.field(t, "scopes")
	is_string(s)
	too_broad(s)
	f := {
		"msg": sprintf("%s has scope %q, which grants far more than one job needs", [t.type, s]),
		"field": "scopes",
	}
}

too_broad(s) if contains(s, "*")

too_broad(s) if lower(s) in broad

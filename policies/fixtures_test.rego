# Package fixtures holds the inputs shared by the *_test.rego files: one
# compliant tokenguard token, one compliant external token, and helpers to
# patch them. Only tests load it; it has no rules of its own to test.
package tokenguard.fixtures

plan := {
	"timestamp": "2026-11-27T12:00:00Z",
	"outputs": [],
	"provider_endpoints": [],
}

# token is a tokenguard_api_token that every rule accepts.
token := {
	"address": "tokenguard_api_token.billing",
	"module": "",
	"type": "tokenguard_api_token",
	"name": "billing",
	"provider": "registry.terraform.io/tokenguard/tokenguard",
	"managed_by": "tokenguard",
	"actions": ["create"],
	"before": null,
	"after": {},
	"unknown": ["secret"],
	"sensitive": ["secret"],
	"fields": {
		"name": "billing",
		"purpose": "Reads invoice totals from the billing API for the monthly revenue report",
		"owner": "team-finance",
		"scopes": ["invoices:read"],
		"data_categories": ["commercial"],
		"data_subjects": [],
		"audiences": ["reporting"],
		"ttl_seconds": 2592000,
		"expires_at": "2026-12-27T12:00:00Z",
		"expires_in_seconds": 2592000,
		"never_expires": false,
		"rotation_interval_seconds": 604800,
		"rotation_overlap_seconds": 3600,
		"rotation_configured": true,
		"renewal": null,
		"renewal_requested": false,
		"status": null,
		"last_used_at": null,
		"unused_seconds": null,
		"age_seconds": null,
		"recipient": null,
	},
}

# external is a gitlab_project_access_token that every rule accepts.
external := {
	"address": "gitlab_project_access_token.ci",
	"module": "",
	"type": "gitlab_project_access_token",
	"name": "ci",
	"provider": "registry.terraform.io/gitlabhq/gitlab",
	"managed_by": "external",
	"actions": ["create"],
	"before": null,
	"after": {},
	"unknown": ["token"],
	"sensitive": ["token"],
	"fields": {
		"name": "ci",
		"purpose": null,
		"owner": null,
		"scopes": ["read_repository"],
		"data_categories": null,
		"data_subjects": null,
		"audiences": null,
		"ttl_seconds": null,
		"expires_at": "2026-12-17T00:00:00Z",
		"expires_in_seconds": 1684800,
		"never_expires": false,
		"rotation_interval_seconds": null,
		"rotation_overlap_seconds": null,
		"rotation_configured": false,
		"renewal": null,
		"renewal_requested": false,
		"status": null,
		"last_used_at": null,
		"unused_seconds": null,
		"age_seconds": null,
	},
}

# fields returns the compliant tokenguard token with some fields replaced.
fields(patch) := object.union(token, {"fields": object.union(token.fields, patch)})

# external_fields returns the compliant external token with some fields replaced.
external_fields(patch) := object.union(external, {"fields": object.union(external.fields, patch)})

# with_top replaces top-level keys (actions, unknown, ...) of a token.
with_top(tok, patch) := object.union(tok, patch)

# as_external turns a token into an external one, to prove a
# tokenguard-only rule ignores it.
as_external(tok) := object.union(tok, {"managed_by": "external", "type": "gitlab_personal_access_token"})

# input_for wraps one token into a token-scope input.
input_for(tok) := {"token": tok, "plan": plan}

# fields_of lists the field of every finding, sorted (duplicates kept).
fields_of(findings) := sort([f.field | some f in findings])

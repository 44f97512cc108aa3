package policy

import (
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/token"
)

// TokenguardType is the resource type of tokens managed by this project's provider.
const TokenguardType = "tokenguard_api_token"

// mapper maps one resource type's attributes onto the provider-independent Fields.
type mapper func(v view) Fields

// mappers knows every token-like resource type: tokenguard's own and other providers'
// tokens and keys. Each maps only what its schema states; what it cannot know stays null.
var mappers = map[string]mapper{
	TokenguardType:                      tokenguardFields,
	"gitlab_personal_access_token":      gitlabFields,
	"gitlab_project_access_token":       gitlabFields,
	"gitlab_group_access_token":         gitlabFields,
	"cloudflare_api_token":              cloudflareFields,
	"tfe_team_token":                    tfeFields,
	"tfe_organization_token":            tfeFields,
	"grafana_cloud_access_policy_token": grafanaCloudFields,
	"grafana_service_account_token":     grafanaServiceAccountFields,
	"vault_token":                       vaultFields,
	"aws_iam_access_key":                awsAccessKeyFields,
	"google_service_account_key":        googleKeyFields,
	"azuread_application_password":      azureadPasswordFields,
	"datadog_application_key":           datadogKeyFields,
}

// secretAttributes are each type's attributes that hold a secret. They are stripped even when
// a plan does not mark them sensitive (older providers, hand-written plans).
var secretAttributes = map[string][]string{
	TokenguardType:                      {"secret"},
	"gitlab_personal_access_token":      {"token"},
	"gitlab_project_access_token":       {"token"},
	"gitlab_group_access_token":         {"token"},
	"cloudflare_api_token":              {"value"},
	"tfe_team_token":                    {"token"},
	"tfe_organization_token":            {"token"},
	"grafana_cloud_access_policy_token": {"token"},
	"grafana_service_account_token":     {"key"},
	"vault_token":                       {"client_token", "wrapped_token"},
	"aws_iam_access_key":                {"secret", "ses_smtp_password_v4", "encrypted_secret", "encrypted_ses_smtp_password_v4"},
	"google_service_account_key":        {"private_key"},
	"azuread_application_password":      {"value"},
	"datadog_application_key":           {"key"},
}

// IsTokenType reports whether resources of type typ are normalised and checked.
func IsTokenType(typ string) bool {
	_, ok := mappers[typ]
	return ok
}

// TokenTypes lists the token-like resource types the checker knows, sorted.
func TokenTypes() []string {
	out := make([]string, 0, len(mappers))
	for t := range mappers {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

func tokenguardFields(v view) Fields {
	f := Fields{
		Name: v.str("name"), Purpose: v.str("purpose"), Owner: v.str("owner"),
		Scopes: v.strings("scopes"), DataCategories: v.strings("data_categories"),
		DataSubjects: v.strings("data_subjects"), Audiences: v.strings("audiences"),
		TTLSeconds: durationSeconds(v.get("ttl")),
		Status:     v.str("status"), LastUsedAt: v.time("last_used_at"),
		RotationIntervalSeconds: durationSeconds(v.get("rotation.interval")),
		RotationOverlapSeconds:  durationSeconds(v.get("rotation.overlap")),
	}
	f.ExpiresAt = v.time("expires_at")
	if f.ExpiresAt == nil && slices.Contains(v.actions, "no-op") {
		f.ExpiresAt = parseTime(v.getBefore("expires_at"))
	}
	// A rotation interval known only after apply is still a declared rotation.
	f.RotationConfigured = f.RotationIntervalSeconds != nil || v.isUnknown("rotation.interval") ||
		!v.knownUnset("rotation_triggers") && v.get("rotation_triggers") != nil
	if r, ok := v.get("renewal").(map[string]any); ok {
		f.Renewal = &Renewal{Reason: asString(r["reason"]), ReviewedBy: asString(r["reviewed_by"])}
	} else if l, ok := v.get("renewal").([]any); ok && len(l) == 1 {
		if r, ok := l[0].(map[string]any); ok {
			f.Renewal = &Renewal{Reason: asString(r["reason"]), ReviewedBy: asString(r["reviewed_by"])}
		}
	}
	if slices.Contains(v.actions, "update") && v.before != nil {
		oldTTL := durationSeconds(v.getBefore("ttl"))
		oldExp := parseTime(v.getBefore("expires_at"))
		switch {
		case oldTTL != nil && f.TTLSeconds != nil && *f.TTLSeconds > *oldTTL:
			f.RenewalRequested = true
		case oldExp != nil && f.ExpiresAt != nil && f.ExpiresAt.After(*oldExp):
			f.RenewalRequested = true
		}
	}
	f.finishExpiry(v.now)
	f.UnusedSeconds = unused(v, f.Status, f.LastUsedAt, v.time("created_at"))
	return f
}

// unused is the idle time of an existing active token: now minus the last use, else creation.
func unused(v view, status *string, lastUsed, created *time.Time) *int64 {
	if !v.existing() || v.now.IsZero() || status == nil || *status != "active" {
		return nil
	}
	from := lastUsed
	if from == nil {
		from = created
	}
	if from == nil {
		return nil
	}
	return seconds(v.now.Sub(*from))
}

// durationSeconds parses a tokenguard or Vault duration: a Go duration, whole days ("30d") or
// a bare number of seconds.
func durationSeconds(x any) *int64 {
	if n := asInt(x); n != nil {
		return n
	}
	s, ok := x.(string)
	if !ok || strings.TrimSpace(s) == "" {
		return nil
	}
	if n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil {
		return &n
	}
	d, err := token.ParseDuration(s)
	if err != nil {
		return nil
	}
	return seconds(d)
}

func gitlabFields(v view) Fields {
	f := Fields{Name: v.str("name"), Purpose: v.nonEmpty("description"), Scopes: v.strings("scopes")}
	f.ExpiresAt = v.time("expires_at")
	if days := v.number("rotation_configuration.expiration_days"); days != nil {
		f.RotationConfigured = true
		f.TTLSeconds = seconds(time.Duration(*days) * token.Day)
		if before := v.number("rotation_configuration.rotate_before_days"); before != nil && *before < *days {
			f.RotationIntervalSeconds = seconds(time.Duration(*days-*before) * token.Day)
		}
	}
	f.NeverExpires = f.ExpiresAt == nil && !f.RotationConfigured && v.knownUnset("expires_at") && v.knownUnset("rotation_configuration")
	if revoked, ok := v.boolean("revoked"); ok && revoked {
		f.Status = ptr("revoked")
	} else if active, ok := v.boolean("active"); ok {
		f.Status = ptr(map[bool]string{true: "active", false: "expired"}[active])
	}
	f.finishExpiry(v.now)
	f.UnusedSeconds = unused(v, f.Status, nil, v.time("created_at"))
	return f
}

func cloudflareFields(v view) Fields {
	f := Fields{Name: v.str("name")}
	f.Scopes = cloudflarePermissionGroups(v.get("policies"))
	if f.Scopes == nil {
		f.Scopes = cloudflarePermissionGroups(v.get("policy"))
	}
	f.ExpiresAt = v.time("expires_on")
	f.NeverExpires = v.knownUnset("expires_on")
	if s := v.nonEmpty("status"); s != nil {
		st := *s
		if st == "disabled" {
			st = "revoked"
		}
		f.Status = &st
	}
	f.LastUsedAt = v.time("last_used_on")
	f.finishExpiry(v.now)
	f.UnusedSeconds = unused(v, f.Status, f.LastUsedAt, v.time("issued_on"))
	return f
}

// cloudflarePermissionGroups collects the permission group ids of Cloudflare token policies
// (v4: policy blocks with a list of ids; v5: policies with a list of {id} objects).
func cloudflarePermissionGroups(x any) []string {
	policies, ok := x.([]any)
	if !ok {
		return nil
	}
	out := []string{}
	for _, p := range policies {
		pm, _ := p.(map[string]any)
		groups, _ := pm["permission_groups"].([]any)
		for _, g := range groups {
			switch gv := g.(type) {
			case string:
				out = append(out, gv)
			case map[string]any:
				if id, ok := gv["id"].(string); ok {
					out = append(out, id)
				}
			}
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

func tfeFields(v view) Fields {
	f := Fields{Purpose: v.nonEmpty("description")}
	f.ExpiresAt = v.time("expired_at")
	f.NeverExpires = v.knownUnset("expired_at")
	_, hasForce := v.after["force_regenerate"]
	if force, ok := v.boolean("force_regenerate"); ok && force || hasForce && v.isUnknown("force_regenerate") {
		f.RotationConfigured = true
	}
	f.finishExpiry(v.now)
	return f
}

func grafanaCloudFields(v view) Fields {
	f := Fields{Name: v.str("name")}
	if dn := v.nonEmpty("display_name"); dn != nil {
		f.Purpose = dn
	}
	f.ExpiresAt = v.time("expires_at")
	f.NeverExpires = v.knownUnset("expires_at")
	f.finishExpiry(v.now)
	return f
}

func grafanaServiceAccountFields(v view) Fields {
	f := Fields{Name: v.str("name")}
	if ttl := v.number("seconds_to_live"); ttl != nil && *ttl > 0 {
		f.TTLSeconds = ttl
	} else if !v.isUnknown("seconds_to_live") {
		// Grafana: no seconds_to_live (or 0) issues a token that never expires.
		f.NeverExpires = true
	}
	f.ExpiresAt = v.time("expiration")
	if expired, ok := v.boolean("has_expired"); ok && expired {
		f.Status = ptr("expired")
	}
	f.finishExpiry(v.now)
	return f
}

func vaultFields(v view) Fields {
	f := Fields{Name: v.nonEmpty("display_name"), Scopes: v.strings("policies")}
	maxTTL := durationSeconds(v.get("explicit_max_ttl"))
	if maxTTL != nil && *maxTTL == 0 {
		maxTTL = nil
	}
	ttl := durationSeconds(v.get("ttl"))
	period := durationSeconds(v.get("period"))
	renewable, _ := v.boolean("renewable")
	switch {
	case maxTTL != nil:
		f.TTLSeconds = maxTTL
	case period != nil && *period > 0:
		// A periodic token without an explicit maximum lives as long as it is renewed.
		f.NeverExpires = true
	case ttl != nil && *ttl > 0 && !renewable:
		f.TTLSeconds = ttl
	case ttl != nil && *ttl > 0:
		// A renewable token with only a ttl can be renewed up to the mount's max TTL: the
		// declared ttl is the first lifetime, which is what the configuration states.
		f.TTLSeconds = ttl
	}
	if started := v.time("lease_started"); started != nil {
		if d := v.number("lease_duration"); d != nil && *d > 0 {
			exp := started.Add(time.Duration(*d) * time.Second)
			f.ExpiresAt = &exp
		}
	}
	f.finishExpiry(v.now)
	return f
}

func awsAccessKeyFields(v view) Fields {
	f := Fields{Name: v.str("user"), NeverExpires: true}
	switch s := v.str("status"); {
	case s == nil:
	case strings.EqualFold(*s, "Active"):
		f.Status = ptr("active")
	case strings.EqualFold(*s, "Inactive"):
		f.Status = ptr("revoked")
	}
	return f
}

// farFuture is the year Google uses as "no expiry" for user-managed keys (9999-12-31).
const farFuture = 9999

func googleKeyFields(v view) Fields {
	f := Fields{Name: v.str("service_account_id")}
	if vb := v.time("valid_before"); vb != nil {
		if vb.Year() >= farFuture {
			f.NeverExpires = true
		} else {
			f.ExpiresAt = vb
		}
	}
	f.RotationConfigured = !v.knownUnset("keepers") && v.get("keepers") != nil
	f.finishExpiry(v.now)
	return f
}

func azureadPasswordFields(v view) Fields {
	f := Fields{Name: v.nonEmpty("display_name")}
	f.ExpiresAt = v.time("end_date")
	if rel := v.nonEmpty("end_date_relative"); rel != nil {
		f.TTLSeconds = durationSeconds(*rel)
	}
	f.RotationConfigured = !v.knownUnset("rotate_when_changed") && v.get("rotate_when_changed") != nil
	f.finishExpiry(v.now)
	return f
}

func datadogKeyFields(v view) Fields {
	return Fields{Name: v.str("name"), Scopes: v.strings("scopes"), NeverExpires: true}
}

func ptr[T any](x T) *T { return &x }

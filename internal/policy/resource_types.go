package policy

import (
	"encoding/json"
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
type mapper func(v attributeReader) Fields

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
	// Added for issue 15, each from its provider's resource documentation.
	"gitlab_deploy_token":                 gitlabDeployTokenFields,
	"azuread_service_principal_password":  azureadPasswordFields,
	"aws_iam_service_specific_credential": awsServiceCredentialFields,
	"google_apikeys_key":                  googleAPIKeyFields,
	"datadog_api_key":                     datadogAPIKeyFields,
}

// secretAttributes are each type's attributes that hold a secret. They are stripped even when
// a plan does not mark them sensitive (older providers, hand-written plans).
var secretAttributes = map[string][]string{
	TokenguardType:                        {"secret"},
	"gitlab_personal_access_token":        {"token"},
	"gitlab_project_access_token":         {"token"},
	"gitlab_group_access_token":           {"token"},
	"cloudflare_api_token":                {"value"},
	"tfe_team_token":                      {"token"},
	"tfe_organization_token":              {"token"},
	"grafana_cloud_access_policy_token":   {"token"},
	"grafana_service_account_token":       {"key"},
	"vault_token":                         {"client_token", "wrapped_token"},
	"aws_iam_access_key":                  {"secret", "ses_smtp_password_v4", "encrypted_secret", "encrypted_ses_smtp_password_v4"},
	"google_service_account_key":          {"private_key"},
	"azuread_application_password":        {"value"},
	"datadog_application_key":             {"key"},
	"gitlab_deploy_token":                 {"token"},
	"azuread_service_principal_password":  {"value"},
	"aws_iam_service_specific_credential": {"service_password", "service_credential_secret"},
	"google_apikeys_key":                  {"key_string"},
	"datadog_api_key":                     {"key"},
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

func tokenguardFields(v attributeReader) Fields {
	f := Fields{
		Name: v.str("name"), Purpose: v.str("purpose"), Owner: v.str("owner"),
		Scopes: v.strings("scopes"), DataCategories: v.strings("data_categories"),
		DataSubjects: v.strings("data_subjects"), Audiences: v.strings("audiences"),
		TTLSeconds: durationSeconds(v.get("ttl")),
		Status:     v.str("status"), LastUsedAt: v.time("last_used_at"),
		RotationIntervalSeconds: durationSeconds(v.get("rotation.interval")),
		RotationOverlapSeconds:  durationSeconds(v.get("rotation.overlap")),
		Recipient:               v.str("recipient"),
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
// Only a type whose service records every use may pass created: there, no last use means
// never used. Other providers' tokens pass nil, so that no idle time is invented from a
// creation date when the provider does not expose the last use (gitlab, for one).
func unused(v attributeReader, status *string, lastUsed, created *time.Time) *int64 {
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

func gitlabFields(v attributeReader) Fields {
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
	// The gitlab provider exposes no last use: idle time is not known.
	return f
}

func cloudflareFields(v attributeReader) Fields {
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
	f.UnusedSeconds = unused(v, f.Status, f.LastUsedAt, nil)
	return f
}

// cloudflarePermissionGroups collects the permission group ids of Cloudflare token policies
// (v4: policy blocks with a list of ids; v5: policies with a list of {id} objects) and, as
// scopes of their own, the resource patterns that cover every resource of a kind
// ("com.cloudflare.api.account.zone.*": every zone). Resources are a map in v4 and early v5,
// a JSON-encoded string (jsonencode) in later v5 releases; nested maps (the zones of one
// account) are looked through.
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
		if effect, _ := pm["effect"].(string); effect != "deny" {
			out = append(out, cloudflareWildcardResources(pm["resources"])...)
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// cloudflareWildcardResources returns the resource keys holding "*" of a policy's resources.
func cloudflareWildcardResources(x any) []string {
	if s, ok := x.(string); ok {
		var m map[string]any
		if json.Unmarshal([]byte(s), &m) != nil {
			return nil
		}
		x = m
	}
	m, ok := x.(map[string]any)
	if !ok {
		return nil
	}
	var out []string
	for k, v := range m {
		if strings.Contains(k, "*") {
			out = append(out, k)
		}
		out = append(out, cloudflareWildcardResources(v)...)
	}
	return out
}

func tfeFields(v attributeReader) Fields {
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

func grafanaCloudFields(v attributeReader) Fields {
	f := Fields{Name: v.str("name")}
	if dn := v.nonEmpty("display_name"); dn != nil {
		f.Purpose = dn
	}
	f.ExpiresAt = v.time("expires_at")
	f.NeverExpires = v.knownUnset("expires_at")
	f.finishExpiry(v.now)
	return f
}

func grafanaServiceAccountFields(v attributeReader) Fields {
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

func vaultFields(v attributeReader) Fields {
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

func awsAccessKeyFields(v attributeReader) Fields {
	f := Fields{Name: v.str("user"), NeverExpires: true}
	f.Status = awsStatus(v.str("status"))
	f.AgeSeconds = age(v, v.time("create_date"))
	return f
}

// awsStatus maps an IAM credential status (Active, Inactive, Expired) onto Fields.Status: an
// Inactive credential cannot authenticate, as a revoked token cannot.
func awsStatus(s *string) *string {
	switch {
	case s == nil:
		return nil
	case strings.EqualFold(*s, "Active"):
		return ptr("active")
	case strings.EqualFold(*s, "Inactive"):
		return ptr("revoked")
	case strings.EqualFold(*s, "Expired"):
		return ptr("expired")
	}
	return nil
}

// age is the time since creation of a token that already exists (nil for a new one).
func age(v attributeReader, created *time.Time) *int64 {
	if !v.existing() || v.now.IsZero() || created == nil {
		return nil
	}
	return seconds(v.now.Sub(*created))
}

// awsServiceCredentialFields maps aws_iam_service_specific_credential: a password for one
// service (CodeCommit, Keyspaces) or a Bedrock / CloudWatch Logs API key. It expires only
// when credential_age_days is set (Bedrock and CloudWatch Logs keys); then expiration_date
// is known once it exists.
func awsServiceCredentialFields(v attributeReader) Fields {
	f := Fields{Name: v.str("user_name")}
	if svc := v.nonEmpty("service_name"); svc != nil {
		f.Scopes = []string{*svc}
	}
	f.Status = awsStatus(v.str("status"))
	f.ExpiresAt = v.time("expiration_date")
	if days := v.number("credential_age_days"); days != nil && *days > 0 {
		f.TTLSeconds = seconds(time.Duration(*days) * token.Day)
	}
	f.NeverExpires = f.ExpiresAt == nil && f.TTLSeconds == nil && v.knownUnset("credential_age_days") &&
		(v.knownUnset("expiration_date") || v.isUnknown("expiration_date"))
	f.AgeSeconds = age(v, v.time("create_date"))
	f.finishExpiry(v.now)
	return f
}

// farFuture is the year Google uses as "no expiry" for user-managed keys (9999-12-31).
const farFuture = 9999

func googleKeyFields(v attributeReader) Fields {
	f := Fields{Name: v.str("service_account_id")}
	if vb := v.time("valid_before"); vb != nil {
		if vb.Year() >= farFuture {
			f.NeverExpires = true
		} else {
			f.ExpiresAt = vb
		}
	} else if v.isUnknown("valid_before") && v.knownUnset("public_key_data") {
		// A key Google generates is user-managed and never expires unless an organisation
		// policy (iam.serviceAccountKeyExpiryHours) says so, which the plan cannot show: the
		// documented default is known at create, before valid_before is.
		f.NeverExpires = true
	}
	f.RotationConfigured = !v.knownUnset("keepers") && v.get("keepers") != nil
	f.AgeSeconds = age(v, v.time("valid_after"))
	f.finishExpiry(v.now)
	return f
}

// azureadDefaultLifetime is the lifetime Microsoft Graph gives a password credential created
// without an end date (addPassword: endDateTime defaults to startDateTime + 2 years).
const azureadDefaultLifetime = 2 * 365 * token.Day

// azureadPasswordFields maps azuread_application_password and
// azuread_service_principal_password, which share their schema.
func azureadPasswordFields(v attributeReader) Fields {
	f := Fields{Name: v.nonEmpty("display_name")}
	f.ExpiresAt = v.time("end_date")
	if rel := v.nonEmpty("end_date_relative"); rel != nil {
		f.TTLSeconds = durationSeconds(*rel)
	}
	if f.ExpiresAt == nil && f.TTLSeconds == nil && v.isUnknown("end_date") &&
		v.knownUnset("end_date_relative") && slices.Contains(v.actions, "create") {
		// No end date configured: the provider leaves it to the Graph default.
		f.TTLSeconds = seconds(azureadDefaultLifetime)
	}
	f.RotationConfigured = !v.knownUnset("rotate_when_changed") && v.get("rotate_when_changed") != nil
	f.finishExpiry(v.now)
	return f
}

func datadogKeyFields(v attributeReader) Fields {
	return Fields{Name: v.str("name"), Scopes: v.strings("scopes"), NeverExpires: true}
}

// datadogAPIKeyFields maps datadog_api_key: an organisation-wide key without scopes or expiry.
func datadogAPIKeyFields(v attributeReader) Fields {
	return Fields{Name: v.str("name"), NeverExpires: true}
}

// gitlabDeployTokenFields maps gitlab_deploy_token: a project or group token with scopes
// and an optional expires_at; without one it never expires.
func gitlabDeployTokenFields(v attributeReader) Fields {
	f := Fields{Name: v.str("name"), Scopes: v.strings("scopes")}
	f.ExpiresAt = v.time("expires_at")
	f.NeverExpires = v.knownUnset("expires_at")
	f.finishExpiry(v.now)
	return f
}

// googleAPIKeyFields maps google_apikeys_key. API keys have no expiry. The APIs a key may
// call (restrictions.api_targets) are its scopes; a key without API targets may call every
// API enabled in its project, which is the scope "*".
func googleAPIKeyFields(v attributeReader) Fields {
	f := Fields{Name: v.nonEmpty("display_name"), NeverExpires: true}
	if f.Name == nil {
		f.Name = v.str("name")
	}
	if !v.isUnknown("restrictions") {
		targets, _ := v.get("restrictions.api_targets").([]any)
		scopes := []string{}
		for _, t := range targets {
			if m, ok := t.(map[string]any); ok {
				if svc, ok := m["service"].(string); ok {
					scopes = append(scopes, svc)
				}
			}
		}
		if len(scopes) == 0 {
			scopes = append(scopes, "*")
		}
		f.Scopes = scopes
	}
	return f
}

func ptr[T any](x T) *T { return &x }

package provider

import (
	"context"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/token"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// This file owns the token model that the resource, the ephemeral resource, the data sources
// and the list resource share: what a practitioner declares (tokenSpec) with its one create
// request, what the service reports (tokenMetadata) with its one conversion from
// wire.Token, the data sources' model around it, the object form of a listed token and the
// list filters. Schemas stay one per resource or data source, in their own files.

// tokenSpec is what a practitioner declares about a token, in the resource and the ephemeral
// resource alike (the data sources report it). The models embed it; the framework promotes
// its attributes.
type tokenSpec struct {
	Name           types.String `tfsdk:"name"`
	Owner          types.String `tfsdk:"owner"`
	Purpose        types.String `tfsdk:"purpose"`
	Scopes         types.Set    `tfsdk:"scopes"`
	DataCategories types.Set    `tfsdk:"data_categories"`
	DataSubjects   types.Set    `tfsdk:"data_subjects"`
	Audiences      types.Set    `tfsdk:"audiences"`
	Labels         types.Map    `tfsdk:"labels"`
}

// createRequest is the create request for what s declares. Data categories are never nil:
// `[]` is an explicit "reaches no personal information".
func (s tokenSpec) createRequest(ctx context.Context, diags *diag.Diagnostics) wire.CreateTokenRequest {
	return wire.CreateTokenRequest{
		Name:           s.Name.ValueString(),
		Owner:          s.Owner.ValueString(),
		Purpose:        s.Purpose.ValueString(),
		Scopes:         setStrings(ctx, s.Scopes, diags),
		DataCategories: nonNil(setStrings(ctx, s.DataCategories, diags)),
		DataSubjects:   setStrings(ctx, s.DataSubjects, diags),
		Audiences:      setStrings(ctx, s.Audiences, diags),
		Labels:         mapStrings(ctx, s.Labels, diags),
	}
}

// tokenMetadata is what the resource and the data sources alike say about a token: all but
// the secret and the settings only the resource has (ttl, rotation, renewal, triggers).
// apiTokenModel and tokenInfoModel embed it.
type tokenMetadata struct {
	tokenSpec
	ID            types.String `tfsdk:"id"`
	Fingerprint   types.String `tfsdk:"fingerprint"`
	Status        types.String `tfsdk:"status"`
	CreatedAt     types.String `tfsdk:"created_at"`
	ExpiresAt     types.String `tfsdk:"expires_at"`
	RotatedAt     types.String `tfsdk:"rotated_at"`
	LastUsedAt    types.String `tfsdk:"last_used_at"`
	SecretVersion types.Int64  `tfsdk:"secret_version"`
}

// nullMetadata is a tokenMetadata with every attribute null and typed.
func nullMetadata() tokenMetadata {
	return tokenMetadata{
		tokenSpec: tokenSpec{
			Name: types.StringNull(), Owner: types.StringNull(), Purpose: types.StringNull(),
			Scopes: types.SetNull(types.StringType), DataCategories: types.SetNull(types.StringType),
			DataSubjects: types.SetNull(types.StringType), Audiences: types.SetNull(types.StringType),
			Labels: types.MapNull(types.StringType),
		},
		ID: types.StringNull(), Fingerprint: types.StringNull(), Status: types.StringNull(),
		CreatedAt: types.StringNull(), ExpiresAt: types.StringNull(), RotatedAt: types.StringNull(),
		LastUsedAt: types.StringNull(), SecretVersion: types.Int64Null(),
	}
}

// apply copies what the service returned into m. Scopes and data categories are always sets;
// an optional collection (data subjects, audiences, labels) the service returns empty stays
// null when it was null in m, and is empty otherwise: the resource keeps the practitioner's
// null/empty choice that way, and a data source starting from empty collections never
// reports null.
func (m *tokenMetadata) apply(ctx context.Context, t wire.Token, diags *diag.Diagnostics) {
	m.ID = types.StringValue(t.ID)
	m.Name = types.StringValue(t.Name)
	m.Owner = types.StringValue(t.Owner)
	m.Purpose = types.StringValue(t.Purpose)
	m.Scopes = stringSet(ctx, t.Scopes, m.Scopes, true, diags)
	m.DataCategories = stringSet(ctx, t.DataCategories, m.DataCategories, true, diags)
	if !erasedFrom(ctx, t, m.DataSubjects) {
		m.DataSubjects = stringSet(ctx, t.DataSubjects, m.DataSubjects, false, diags)
	}
	m.Audiences = stringSet(ctx, t.Audiences, m.Audiences, false, diags)
	m.Labels = stringMap(ctx, t.Labels, m.Labels, diags)
	m.Fingerprint = types.StringValue(t.Fingerprint)
	m.Status = types.StringValue(t.Status)
	m.CreatedAt = timeValue(&t.CreatedAt)
	m.ExpiresAt = timeValue(&t.ExpiresAt)
	m.RotatedAt = timeValue(t.RotatedAt)
	m.LastUsedAt = timeValue(t.LastUsedAt)
	m.SecretVersion = types.Int64Value(int64(t.SecretVersion))
}

// tokenInfoModel is a token's metadata as data sources expose it: everything but the secret,
// the rotation settings flattened into two attributes.
type tokenInfoModel struct {
	tokenMetadata
	RotationEvery types.String `tfsdk:"rotation_interval"`
	RotationLap   types.String `tfsdk:"rotation_overlap"`
}

// tokenInfoAttrTypes are the attribute types of tokenInfoModel, for object and list values.
var tokenInfoAttrTypes = map[string]attr.Type{
	"id":                types.StringType,
	"name":              types.StringType,
	"owner":             types.StringType,
	"purpose":           types.StringType,
	"scopes":            types.SetType{ElemType: types.StringType},
	"data_categories":   types.SetType{ElemType: types.StringType},
	"data_subjects":     types.SetType{ElemType: types.StringType},
	"audiences":         types.SetType{ElemType: types.StringType},
	"labels":            types.MapType{ElemType: types.StringType},
	"rotation_interval": types.StringType,
	"rotation_overlap":  types.StringType,
	"fingerprint":       types.StringType,
	"status":            types.StringType,
	"created_at":        types.StringType,
	"expires_at":        types.StringType,
	"rotated_at":        types.StringType,
	"last_used_at":      types.StringType,
	"secret_version":    types.Int64Type,
}

// tokenInfoAttrTypesWithout is tokenInfoAttrTypes minus the named attributes.
func tokenInfoAttrTypesWithout(except ...string) map[string]attr.Type {
	out := maps.Clone(tokenInfoAttrTypes)
	for _, name := range except {
		delete(out, name)
	}
	return out
}

// tokenInfo converts an API token to the data source model. Collections are never null here
// (apply starts from empty ones): an empty set means the token has none.
func tokenInfo(ctx context.Context, t wire.Token, diags *diag.Diagnostics) tokenInfoModel {
	m := tokenInfoModel{tokenMetadata: nullMetadata(), RotationEvery: types.StringNull(), RotationLap: types.StringNull()}
	m.DataSubjects = types.SetValueMust(types.StringType, []attr.Value{})
	m.Audiences = types.SetValueMust(types.StringType, []attr.Value{})
	m.Labels = types.MapValueMust(types.StringType, map[string]attr.Value{})
	m.apply(ctx, t, diags)
	if t.Rotation != nil {
		m.RotationEvery = sameDuration(t.Rotation.Interval, types.StringNull())
		m.RotationLap = sameDuration(t.Rotation.Overlap, types.StringNull())
	}
	return m
}

// tokenInfoObject is m as an object value without the named attributes, the shape of a token
// in a nested attribute that leaves some of them out (data subjects in a listing).
func tokenInfoObject(ctx context.Context, m tokenInfoModel, diags *diag.Diagnostics, except ...string) types.Object {
	full, d := types.ObjectValueFrom(ctx, tokenInfoAttrTypes, m)
	diags.Append(d...)
	attrTypes := tokenInfoAttrTypesWithout(except...)
	if d.HasError() {
		return types.ObjectNull(attrTypes)
	}
	values := maps.Clone(full.Attributes())
	for _, name := range except {
		delete(values, name)
	}
	obj, d := types.ObjectValue(attrTypes, values)
	diags.Append(d...)
	return obj
}

// tokenFilterModel is the filters that the list resource and tokenguard_api_tokens share;
// it is the whole configuration of a `list "tokenguard_api_token"` block.
type tokenFilterModel struct {
	Owner        types.String `tfsdk:"owner"`
	Status       types.String `tfsdk:"status"`
	DataCategory types.String `tfsdk:"data_category"`
}

// options are the list options of the filters that are set.
func (f tokenFilterModel) options() wire.ListTokensOptions {
	return wire.ListTokensOptions{
		Owner:        f.Owner.ValueString(),
		Status:       f.Status.ValueString(),
		DataCategory: f.DataCategory.ValueString(),
	}
}

// derivedTTL is the ttl an import records: the token's lifetime in the largest exact unit (see token.LifetimeTTL).
func derivedTTL(created, expires time.Time) string {
	return token.LifetimeTTL(created, expires)
}

func timeValue(t *time.Time) types.String {
	if t == nil || t.IsZero() {
		return types.StringNull()
	}
	return types.StringValue(t.UTC().Format(time.RFC3339))
}

func parseTime(v types.String) (time.Time, bool) {
	if !knownString(v) {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, v.ValueString())
	return t, err == nil
}

// knownString reports whether v (a string or duration value) is neither null nor unknown.
func knownString(v interface {
	IsNull() bool
	IsUnknown() bool
}) bool {
	return !v.IsNull() && !v.IsUnknown()
}

// stringSet converts values to a set. An empty answer stays null when prior was null, unless
// the attribute is required (always a set).
// erasedFrom reports whether the service's data subjects of t are the prior ones less some
// that a deletion request erased: the service removes a subject from a token only then, and
// only from a token it revokes. The declared list is kept, so an erasure is not drift that
// reads as a change of the practitioner's (it would turn the refresh before a destroy into a
// plan the policy gate judges as changed); CPRA-DEL-001 judges the erased subject.
func erasedFrom(ctx context.Context, t wire.Token, prior types.Set) bool {
	if t.Status != "revoked" || prior.IsNull() || prior.IsUnknown() {
		return false
	}
	var declared []string
	if d := prior.ElementsAs(ctx, &declared, false); d.HasError() || len(declared) <= len(t.DataSubjects) {
		return false
	}
	for _, s := range t.DataSubjects {
		if !slices.Contains(declared, s) {
			return false
		}
	}
	return true
}

func stringSet(ctx context.Context, values []string, prior types.Set, required bool, diags *diag.Diagnostics) types.Set {
	if len(values) == 0 && !required && (prior.IsNull() || prior.IsUnknown()) {
		return types.SetNull(types.StringType)
	}
	if values == nil {
		values = []string{}
	}
	v, d := types.SetValueFrom(ctx, types.StringType, values)
	diags.Append(d...)
	return v
}

// stringMap converts values to a map; an empty answer stays null when prior was null.
func stringMap(ctx context.Context, values map[string]string, prior types.Map, diags *diag.Diagnostics) types.Map {
	if len(values) == 0 && (prior.IsNull() || prior.IsUnknown()) {
		return types.MapNull(types.StringType)
	}
	if values == nil {
		values = map[string]string{}
	}
	v, d := types.MapValueFrom(ctx, types.StringType, values)
	diags.Append(d...)
	return v
}

func setStrings(ctx context.Context, v types.Set, diags *diag.Diagnostics) []string {
	if v.IsNull() || v.IsUnknown() {
		return nil
	}
	var out []string
	diags.Append(v.ElementsAs(ctx, &out, false)...)
	slices.Sort(out)
	return out
}

func mapStrings(ctx context.Context, v types.Map, diags *diag.Diagnostics) map[string]string {
	if v.IsNull() || v.IsUnknown() {
		return nil
	}
	out := map[string]string{}
	diags.Append(v.ElementsAs(ctx, &out, false)...)
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func rotationOf(ctx context.Context, v types.Object, diags *diag.Diagnostics) (rotationModel, bool) {
	var rot rotationModel
	if v.IsNull() || v.IsUnknown() {
		return rot, false
	}
	diags.Append(v.As(ctx, &rot, defaultObjectAsOptions)...)
	return rot, true
}

func renewalOf(ctx context.Context, v types.Object, diags *diag.Diagnostics) (renewalModel, bool) {
	var ren renewalModel
	if v.IsNull() || v.IsUnknown() {
		return ren, false
	}
	diags.Append(v.As(ctx, &ren, defaultObjectAsOptions)...)
	return ren, true
}

func rotationRequest(ctx context.Context, v types.Object, diags *diag.Diagnostics) *wire.Rotation {
	rot, ok := rotationOf(ctx, v, diags)
	if !ok {
		return nil
	}
	return &wire.Rotation{Interval: rot.Interval.ValueString(), Overlap: rot.Overlap.ValueString()}
}

// rotationValue renders the service's rotation policy, keeping prior's spelling of durations
// that mean the same time span.
func rotationValue(ctx context.Context, got *wire.Rotation, prior types.Object, diags *diag.Diagnostics) types.Object {
	if got == nil || got.Interval == "" {
		return types.ObjectNull(rotationAttrTypes)
	}
	old, _ := rotationOf(ctx, prior, diags)
	m := rotationModel{
		Interval: durationFrom(sameDuration(got.Interval, old.Interval.StringValue)),
		Overlap:  durationFrom(sameDuration(got.Overlap, old.Overlap.StringValue)),
	}
	v, d := types.ObjectValueFrom(ctx, rotationAttrTypes, m)
	diags.Append(d...)
	return v
}

// sameDuration returns prior when it spells the same duration as got, else got. An empty or
// zero got is null (no overlap).
func sameDuration(got string, prior types.String) types.String {
	g, err := token.ParseDuration(got)
	if err != nil {
		if got == "" || isZeroDuration(got) {
			return types.StringNull()
		}
		return types.StringValue(got)
	}
	if knownString(prior) {
		if p, perr := token.ParseDuration(prior.ValueString()); perr == nil && p == g {
			return prior
		}
	}
	return types.StringValue(compactDuration(g))
}

// compactDuration renders d as whole days when exact, else as a Go duration without zero
// trailing units ("1h", "1h30m", "90s").
func compactDuration(d time.Duration) string {
	s := token.FormatDuration(d)
	if strings.HasSuffix(s, "d") {
		return s
	}
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func isZeroDuration(s string) bool {
	d, err := time.ParseDuration(s)
	return (err == nil && d == 0) || s == "0d"
}

var defaultObjectAsOptions = basetypes.ObjectAsOptions{}

// apiTokenModel is the state and plan shape of tokenguard_api_token.
// The attributes it shares with the data sources are in the embedded tokenMetadata.
type apiTokenModel struct {
	tokenMetadata
	NamePrefix       types.String   `tfsdk:"name_prefix"`
	TTL              durationValue  `tfsdk:"ttl"`
	ReplaceBefore    durationValue  `tfsdk:"replace_before"`
	Rotation         types.Object   `tfsdk:"rotation"`
	RotationTriggers types.Map      `tfsdk:"rotation_triggers"`
	Renewal          types.Object   `tfsdk:"renewal"`
	Secret           types.String   `tfsdk:"secret"`
	Recipient        types.String   `tfsdk:"recipient"`
	SealedSecret     types.String   `tfsdk:"sealed_secret"`
	Timeouts         timeouts.Value `tfsdk:"timeouts"`
}

// rotationModel is the rotation block.
type rotationModel struct {
	Interval durationValue `tfsdk:"interval"`
	Overlap  durationValue `tfsdk:"overlap"`
}

var rotationAttrTypes = map[string]attr.Type{
	"interval": durationType{},
	"overlap":  durationType{},
}

// renewalModel is the renewal block.
type renewalModel struct {
	Reason     types.String `tfsdk:"reason"`
	ReviewedBy types.String `tfsdk:"reviewed_by"`
}

var renewalAttrTypes = map[string]attr.Type{
	"reason":      types.StringType,
	"reviewed_by": types.StringType,
}

// apiTokenIdentityModel is the resource identity: the token id, stable across rotations.
type apiTokenIdentityModel struct {
	ID types.String `tfsdk:"id"`
}

// applyToken copies what the service returned into m, keeping the practitioner's spelling of
// durations and the null/empty distinction of optional collections.
func applyToken(ctx context.Context, m *apiTokenModel, t wire.Token, diags *diag.Diagnostics) {
	m.apply(ctx, t, diags)
	m.Rotation = rotationValue(ctx, t.Rotation, m.Rotation, diags)
	if m.Secret.IsUnknown() {
		m.Secret = types.StringNull()
	}
	if m.SealedSecret.IsUnknown() {
		m.SealedSecret = types.StringNull()
	}
	if m.RotationTriggers.IsUnknown() {
		m.RotationTriggers = types.MapNull(types.StringType)
	}
}

// setSecret records the secret of a create or rotate answer: sealed_secret (and a null secret)
// when the service sealed it, else the secret in clear (and a null sealed_secret). It refuses
// to record a clear secret when the configuration named a recipient: the secret would sit in
// state in clear, which recipient exists to prevent.
func setSecret(m *apiTokenModel, t wire.Token, diags *diag.Diagnostics) {
	switch {
	case t.SealedSecret != "":
		m.Secret, m.SealedSecret = types.StringNull(), types.StringValue(t.SealedSecret)
	case knownString(m.Recipient):
		m.Secret, m.SealedSecret = types.StringNull(), types.StringNull()
		diags.AddAttributeError(path.Root("recipient"), "Secret Not Sealed",
			"The token service answered token "+t.ID+"'s new secret in clear although recipient is set, so it was not "+
				"stored in state. Upgrade the token service to one that seals secrets (issue 21), then rotate the token.")
	default:
		m.Secret, m.SealedSecret = types.StringValue(t.Secret), types.StringNull()
	}
}

func setIdentity(ctx context.Context, identity *tfsdk.ResourceIdentity, id string, diags *diag.Diagnostics) {
	if identity == nil {
		return
	}
	diags.Append(identity.Set(ctx, apiTokenIdentityModel{ID: types.StringValue(id)})...)
}

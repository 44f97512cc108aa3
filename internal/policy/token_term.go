package policy

import (
	"encoding/json"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// The member names of input.token, made once: ast.InternedTerm makes a new term for every
// string OPA has not interned itself, and terms are never modified once built.
var (
	keyReason                  = ast.StringTerm("reason")
	keyReviewedBy              = ast.StringTerm("reviewed_by")
	keyName                    = ast.StringTerm("name")
	keyPurpose                 = ast.StringTerm("purpose")
	keyOwner                   = ast.StringTerm("owner")
	keyScopes                  = ast.StringTerm("scopes")
	keyDataCategories          = ast.StringTerm("data_categories")
	keyDataSubjects            = ast.StringTerm("data_subjects")
	keyAudiences               = ast.StringTerm("audiences")
	keyTTLSeconds              = ast.StringTerm("ttl_seconds")
	keyExpiresAt               = ast.StringTerm("expires_at")
	keyExpiresInSeconds        = ast.StringTerm("expires_in_seconds")
	keyNeverExpires            = ast.StringTerm("never_expires")
	keyRotationIntervalSeconds = ast.StringTerm("rotation_interval_seconds")
	keyRotationOverlapSeconds  = ast.StringTerm("rotation_overlap_seconds")
	keyRotationConfigured      = ast.StringTerm("rotation_configured")
	keyRenewal                 = ast.StringTerm("renewal")
	keyRenewalRequested        = ast.StringTerm("renewal_requested")
	keyStatus                  = ast.StringTerm("status")
	keyLastUsedAt              = ast.StringTerm("last_used_at")
	keyUnusedSeconds           = ast.StringTerm("unused_seconds")
	keyAgeSeconds              = ast.StringTerm("age_seconds")
	keyRecipient               = ast.StringTerm("recipient")
	keyAddress                 = ast.StringTerm("address")
	keyModule                  = ast.StringTerm("module")
	keyType                    = ast.StringTerm("type")
	keyProvider                = ast.StringTerm("provider")
	keyManagedBy               = ast.StringTerm("managed_by")
	keyActions                 = ast.StringTerm("actions")
	keyBefore                  = ast.StringTerm("before")
	keyAfter                   = ast.StringTerm("after")
	keyUnknown                 = ast.StringTerm("unknown")
	keySensitive               = ast.StringTerm("sensitive")
	keyFields                  = ast.StringTerm("fields")
)

// term is the one representation of a token as policies see it: the OPA value of
// input.token, built directly from the Go fields (no intermediate Go maps). Its JSON form
// (MarshalJSON) is derived from it. Before and After hold plan values of any shape and go
// through ast.InterfaceToValue.
func (t Token) term() (*ast.Term, error) { return t.termWith(true) }

// termWith is term, with before and after left out unless raw: converting the raw planned
// values is most of the cost of the input, and rules that declare their reads rarely need them.
func (t Token) termWith(raw bool) (*ast.Term, error) {
	before, after := ast.InternedNullTerm, ast.InternedNullTerm
	if raw {
		var err error
		if before, err = anyTerm(mapValue(t.Before)); err != nil {
			return nil, err
		}
		if after, err = anyTerm(mapValue(t.After)); err != nil {
			return nil, err
		}
	}
	kvs := [][2]*ast.Term{
		{keyAddress, ast.StringTerm(t.Address)},
		{keyModule, ast.StringTerm(t.Module)},
		{keyType, ast.StringTerm(t.Type)},
		{keyName, ast.StringTerm(t.Name)},
		{keyProvider, ast.StringTerm(t.Provider)},
		{keyManagedBy, ast.StringTerm(t.ManagedBy)},
		{keyActions, stringsTerm(t.Actions)},
		{keyUnknown, stringsTerm(t.Unknown)},
		{keySensitive, stringsTerm(t.Sensitive)},
		{keyFields, t.Fields.term()},
	}
	if raw {
		kvs = append(kvs, [2]*ast.Term{keyBefore, before}, [2]*ast.Term{keyAfter, after})
	}
	return ast.ObjectTerm(kvs...), nil
}

// term is the OPA value of input.token.fields.
func (f Fields) term() *ast.Term {
	renewal := ast.InternedNullTerm
	if f.Renewal != nil {
		renewal = ast.ObjectTerm(
			[2]*ast.Term{keyReason, strTerm(f.Renewal.Reason)},
			[2]*ast.Term{keyReviewedBy, strTerm(f.Renewal.ReviewedBy)},
		)
	}
	return ast.ObjectTerm(
		[2]*ast.Term{keyName, strTerm(f.Name)},
		[2]*ast.Term{keyPurpose, strTerm(f.Purpose)},
		[2]*ast.Term{keyOwner, strTerm(f.Owner)},
		[2]*ast.Term{keyScopes, stringsTerm(f.Scopes)},
		[2]*ast.Term{keyDataCategories, stringsTerm(f.DataCategories)},
		[2]*ast.Term{keyDataSubjects, stringsTerm(f.DataSubjects)},
		[2]*ast.Term{keyAudiences, stringsTerm(f.Audiences)},
		[2]*ast.Term{keyTTLSeconds, intTerm(f.TTLSeconds)},
		[2]*ast.Term{keyExpiresAt, timeTerm(f.ExpiresAt)},
		[2]*ast.Term{keyExpiresInSeconds, intTerm(f.ExpiresInSeconds)},
		[2]*ast.Term{keyNeverExpires, ast.InternedTerm(f.NeverExpires)},
		[2]*ast.Term{keyRotationIntervalSeconds, intTerm(f.RotationIntervalSeconds)},
		[2]*ast.Term{keyRotationOverlapSeconds, intTerm(f.RotationOverlapSeconds)},
		[2]*ast.Term{keyRotationConfigured, ast.InternedTerm(f.RotationConfigured)},
		[2]*ast.Term{keyRenewal, renewal},
		[2]*ast.Term{keyRenewalRequested, ast.InternedTerm(f.RenewalRequested)},
		[2]*ast.Term{keyStatus, strTerm(f.Status)},
		[2]*ast.Term{keyLastUsedAt, timeTerm(f.LastUsedAt)},
		[2]*ast.Term{keyUnusedSeconds, intTerm(f.UnusedSeconds)},
		[2]*ast.Term{keyAgeSeconds, intTerm(f.AgeSeconds)},
		[2]*ast.Term{keyRecipient, strTerm(f.Recipient)},
	)
}

func anyTerm(v any) (*ast.Term, error) {
	if v == nil {
		return ast.InternedNullTerm, nil
	}
	x, err := ast.InterfaceToValue(v)
	if err != nil {
		return nil, err
	}
	return ast.NewTerm(x), nil
}

func strTerm(s *string) *ast.Term {
	if s == nil {
		return ast.InternedNullTerm
	}
	return ast.StringTerm(*s)
}

func intTerm(i *int64) *ast.Term {
	if i == nil {
		return ast.InternedNullTerm
	}
	return ast.InternedTerm(*i) // shared for small numbers, a new term otherwise
}

func timeTerm(t *time.Time) *ast.Term {
	if t == nil {
		return ast.InternedNullTerm
	}
	return ast.StringTerm(t.UTC().Format(time.RFC3339))
}

// stringsTerm keeps the nil/empty distinction: nil is null, an empty slice is [].
func stringsTerm(s []string) *ast.Term {
	if s == nil {
		return ast.InternedNullTerm
	}
	terms := make([]*ast.Term, len(s))
	backing := make([]ast.Term, len(s)) // one allocation for all element terms
	for i, e := range s {
		backing[i].Value = ast.String(e)
		terms[i] = &backing[i]
	}
	return ast.ArrayTerm(terms...)
}

// MarshalJSON renders the token exactly as policies see it in input.token: the JSON form of
// its term.
func (t Token) MarshalJSON() ([]byte, error) {
	term, err := t.term()
	if err != nil {
		return nil, err
	}
	v, err := ast.JSON(term.Value)
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

func mapValue(m map[string]any) any {
	if m == nil {
		return nil
	}
	return m
}

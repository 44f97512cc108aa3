// Checking the fields of a token request: what the service accepts and the words it refuses with.

package server

import (
	"slices"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/token"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// tokenSpec is a validated create request.
type tokenSpec struct {
	name, owner, purpose   string
	scopes, categories     []string
	subjects, audiences    []string
	labels                 map[string]string
	ttl, interval, overlap time.Duration
}

func (s *Server) validateCreate(req wire.CreateTokenRequest) (tokenSpec, error) {
	var sp tokenSpec
	var err error
	if sp.name, err = requiredText("name", req.Name, maxNameLength, "give the token a name, unique per owner"); err != nil {
		return sp, err
	}
	if err := checkIdentifier("name", sp.name); err != nil {
		return sp, err
	}
	if sp.owner, err = requiredText("owner", req.Owner, maxOwnerLength, "name the accountable team or person"); err != nil {
		return sp, err
	}
	if err := checkIdentifier("owner", sp.owner); err != nil {
		return sp, err
	}
	if sp.purpose, err = checkPurpose(req.Purpose); err != nil {
		return sp, err
	}
	if sp.scopes, err = checkScopes(req.Scopes); err != nil {
		return sp, err
	}
	if sp.categories, err = checkCategories(req.DataCategories); err != nil {
		return sp, err
	}
	if sp.subjects, err = checkSet("data_subjects", req.DataSubjects); err != nil {
		return sp, err
	}
	for _, subj := range sp.subjects {
		if err := checkIdentifier("data_subjects", subj); err != nil {
			return sp, err
		}
	}
	if sp.audiences, err = checkSet("audiences", req.Audiences); err != nil {
		return sp, err
	}
	if sp.labels, err = checkLabels(req.Labels); err != nil {
		return sp, err
	}
	if sp.ttl, err = s.checkTTL(req.TTL); err != nil {
		return sp, err
	}
	if req.Rotation != nil {
		if sp.interval, sp.overlap, err = checkRotation(*req.Rotation); err != nil {
			return sp, err
		}
	}
	return sp, nil
}

func requiredText(field, v string, maxLen int, hint string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", invalid(field, "%s is required: %s", field, hint)
	}
	if len(v) > maxLen {
		return "", invalid(field, "%s is longer than %d characters", field, maxLen)
	}
	if problem := textProblem(v); problem != "" {
		return "", invalid(field, "%s contains %s", field, problem)
	}
	return v, nil
}

// textProblem names what makes v unfit for a stored text field, or returns "". Control
// characters (NUL, escape sequences, line breaks) corrupt logs and terminals; bidirectional
// controls make text display differently from what it is ("Trojan Source"); U+FFFD is what
// JSON decoding makes of invalid UTF-8 and unpaired surrogate escapes, so it marks input that
// did not say what it meant.
func textProblem(v string) string {
	switch {
	case strings.ContainsFunc(v, unicode.IsControl):
		return "control characters"
	case strings.ContainsFunc(v, isBidiControl):
		return "bidirectional control characters (U+202A-U+202E, U+2066-U+2069)"
	case strings.ContainsRune(v, unicode.ReplacementChar):
		return "U+FFFD (invalid UTF-8 or an unpaired surrogate escape)"
	}
	return ""
}

// checkIdentifier refuses, with 400 naming field, a name, owner, reviewer or data subject
// that holds an invisible or format character: Unicode format characters (Cf: zero-width
// space and joiners U+200B-U+200D, the marks U+200E/U+200F and U+061C, U+FEFF, the soft
// hyphen U+00AD, the bidirectional embeddings, overrides and isolates U+202A-U+202E and
// U+2066-U+2069, ...), the other default-ignorable code points (Hangul fillers U+115F,
// U+1160, U+3164, ...) and variation selectors. Such a value looks the same as another
// without being equal to it: a look-alike token name, or "team@example.com\u200b" passing as a
// reviewer who is not the owner "team@example.com".
func checkIdentifier(field, v string) error {
	for i, r := range v {
		if unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) || unicode.Is(unicode.Variation_Selector, r) {
			return invalid(field, "%s contains the invisible or format character U+%04X at byte %d: remove it (names, owners, reviewers and data subjects must be visible text)", field, r, i)
		}
	}
	return nil
}

// sameIdentity reports whether two identities (an owner and a reviewer) are the same person
// after Unicode compatibility normalisation (NFKC: fullwidth and other compatibility forms
// become their plain letters) and case folding.
func sameIdentity(a, b string) bool {
	return foldIdentity(a) == foldIdentity(b)
}

func foldIdentity(v string) string {
	return cases.Fold().String(norm.NFKC.String(strings.TrimSpace(v)))
}

func isBidiControl(r rune) bool {
	return r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069
}

func checkPurpose(p string) (string, error) {
	if problem := token.PurposeProblem(p); problem != "" {
		return "", invalid("purpose", "%s", problem)
	}
	return requiredText("purpose", p, maxPurposeLength, "state what the token is for")
}

func checkScopes(scopes []string) ([]string, error) {
	if len(scopes) == 0 {
		return nil, invalid("scopes", "scopes is required: list at least one scope the token needs")
	}
	out, err := checkSet("scopes", scopes)
	if err != nil {
		return nil, err
	}
	for _, sc := range out {
		if strings.ContainsFunc(sc, unicode.IsSpace) {
			return nil, invalid("scopes", "scope %q contains a space: scopes are single words such as \"orders:read\"", sc)
		}
	}
	return out, nil
}

func checkCategories(cats []string) ([]string, error) {
	if cats == nil {
		return nil, invalid("data_categories", "data_categories is required: list the CPRA categories of personal information the token reaches, or [] when it reaches none")
	}
	out, err := checkSet("data_categories", cats)
	if err != nil {
		return nil, err
	}
	for _, c := range out {
		if !token.IsCategory(c) {
			return nil, invalid("data_categories", "%q is not a CPRA data category; use one of: %s, %s",
				c, strings.Join(token.PersonalCategories, ", "), strings.Join(token.SensitiveCategories, ", "))
		}
	}
	return out, nil
}

// checkSet checks a set of strings: no empty, overlong or duplicate entries. It returns a
// non-nil slice, so an explicit empty set stays distinguishable in the response.
func checkSet(field string, vals []string) ([]string, error) {
	if len(vals) > maxItems {
		return nil, invalid(field, "%s has more than %d entries", field, maxItems)
	}
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		v = strings.TrimSpace(v)
		switch {
		case v == "":
			return nil, invalid(field, "%s has an empty entry", field)
		case len(v) > maxItemLength:
			return nil, invalid(field, "%s has an entry longer than %d characters", field, maxItemLength)
		case textProblem(v) != "":
			return nil, invalid(field, "%s has an entry with %s", field, textProblem(v))
		case slices.Contains(out, v):
			return nil, invalid(field, "%s lists %q twice", field, v)
		}
		out = append(out, v)
	}
	return out, nil
}

func checkLabels(labels map[string]string) (map[string]string, error) {
	if len(labels) > maxItems {
		return nil, invalid("labels", "labels has more than %d entries", maxItems)
	}
	out := make(map[string]string, len(labels))
	for k, v := range labels {
		if strings.TrimSpace(k) == "" || len(k) > maxItemLength || len(v) > maxItemLength || textProblem(k+v) != "" {
			return nil, invalid("labels", "label %q: keys must be non-empty and keys and values at most %d characters without control, bidirectional-control or U+FFFD characters", k, maxItemLength)
		}
		out[k] = v
	}
	return out, nil
}

// checkTTL parses a ttl; empty means the default. A ttl over the maximum is refused with 422.
func (s *Server) checkTTL(v string) (time.Duration, error) {
	if strings.TrimSpace(v) == "" {
		return s.defaultTTL, nil
	}
	d, err := token.ParseDuration(v)
	if err != nil {
		return 0, invalid("ttl", "ttl: %v", err)
	}
	if d > s.maxTTL {
		return 0, unprocessable(wire.CodeTTLExceedsMax, "ttl", "ttl %s is longer than this service's maximum of %s: ask for at most %s",
			token.FormatDuration(d), token.FormatDuration(s.maxTTL), token.FormatDuration(s.maxTTL))
	}
	return d, nil
}

func checkRotation(r wire.Rotation) (interval, overlap time.Duration, err error) {
	if strings.TrimSpace(r.Interval) != "" {
		if interval, err = token.ParseDuration(r.Interval); err != nil {
			return 0, 0, invalid("rotation.interval", "rotation.interval: %v", err)
		}
	}
	if strings.TrimSpace(r.Overlap) != "" {
		if overlap, err = token.ParseDuration(r.Overlap); err != nil {
			return 0, 0, invalid("rotation.overlap", "rotation.overlap: %v", err)
		}
	}
	return interval, overlap, nil
}

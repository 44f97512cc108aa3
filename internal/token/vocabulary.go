package token

import (
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The vocabulary's one source is the bundle's data (policies/data.json,
// data.tokenguard.vocabulary); TestVocabulary_matchesTheBundleData fails when these lists
// differ from it.

// PersonalCategories are the CPRA categories of personal information (Cal. Civ. Code 1798.140(v)(1)).
var PersonalCategories = []string{
	"identifiers", "customer_records", "protected_classifications", "commercial",
	"internet_activity", "geolocation", "sensory", "employment", "education", "inferences",
	"biometric_information",
}

// SensitiveCategories are the CPRA categories of sensitive personal information (1798.140(ae)).
var SensitiveCategories = []string{
	"government_id", "account_credentials", "precise_geolocation", "racial_ethnic_origin",
	"citizenship_immigration", "religious_philosophical_beliefs", "union_membership", "communications_content",
	"genetic", "neural", "biometric_identification", "health", "sex_life_orientation",
}

// CategoryAliases map deprecated category names to their current names. A deprecated name is
// still accepted (existing configurations keep planning) and counts as its current name; the
// policy rule CPRA-MIN-006 warns on it.
var CategoryAliases = map[string]string{
	"religious_beliefs": "religious_philosophical_beliefs",
}

// CanonicalCategory returns the current name of category c (c itself unless deprecated).
func CanonicalCategory(c string) string {
	if current, ok := CategoryAliases[c]; ok {
		return current
	}
	return c
}

// IsCategory reports whether c is a category of the CPRA vocabulary, or a deprecated name of one.
func IsCategory(c string) bool {
	c = CanonicalCategory(c)
	return slices.Contains(PersonalCategories, c) || slices.Contains(SensitiveCategories, c)
}

// IsSensitiveCategory reports whether c (or the category a deprecated name stands for) is a
// sensitive personal information category.
func IsSensitiveCategory(c string) bool {
	return slices.Contains(SensitiveCategories, CanonicalCategory(c))
}

// genericPurposes are words that do not state a purpose on their own.
var genericPurposes = []string{
	"test", "testing", "tests", "misc", "miscellaneous", "tbd", "todo", "temp", "temporary", "tmp",
	"general", "stuff", "various", "n/a", "na", "none", "other", "default", "placeholder",
	"access", "api", "token", "api token", "dev", "prod", "x", "-", "?",
}

// MinPurposeLength is the shortest purpose accepted as a specific sentence.
const MinPurposeLength = 12

// PurposeProblem returns why purpose is not a specific statement of purpose, or "" when it is.
func PurposeProblem(purpose string) string {
	p := strings.ToLower(strings.TrimSpace(purpose))
	switch {
	case p == "":
		return "purpose is required: state in one sentence what the token is for"
	case slices.Contains(genericPurposes, p):
		return "purpose \"" + purpose + "\" is generic: state what data is used, by which system, for what"
	case utf8.RuneCountInString(p) < MinPurposeLength: // characters, not bytes
		return "purpose is too short to be specific: write at least " + strconv.Itoa(MinPurposeLength) + " characters saying what the token is for"
	}
	return ""
}

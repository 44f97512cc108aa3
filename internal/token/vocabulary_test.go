package token

import (
	"encoding/json"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/tokenguard/terraform-provider-tokenguard/policies"
)

func TestVocabulary_hasTheCPRACategoriesOnceEach(t *testing.T) {
	if len(PersonalCategories) != 11 {
		t.Errorf("PersonalCategories has %d entries, want 11 (1798.140(v), biometric information of (v)(1)(E) included)", len(PersonalCategories))
	}
	if len(SensitiveCategories) != 13 {
		t.Errorf("SensitiveCategories has %d entries, want the 13 of 1798.140(ae)", len(SensitiveCategories))
	}
	seen := map[string]bool{}
	for _, c := range slices.Concat(PersonalCategories, SensitiveCategories) {
		if seen[c] {
			t.Errorf("category %q is listed twice", c)
		}
		seen[c] = true
	}
}

func TestIsCategory_andIsSensitiveCategory(t *testing.T) {
	cases := []struct {
		c                   string
		category, sensitive bool
	}{
		{"identifiers", true, false},
		{"inferences", true, false},
		{"geolocation", true, false},
		{"precise_geolocation", true, true},
		{"health", true, true},
		{"sex_life_orientation", true, true},
		{"government_id", true, true},
		{"Health", false, false},
		{" health", false, false},
		{"pii", false, false},
		{"", false, false},
	}
	for _, c := range cases {
		if got := IsCategory(c.c); got != c.category {
			t.Errorf("IsCategory(%q) = %v, want %v", c.c, got, c.category)
		}
		if got := IsSensitiveCategory(c.c); got != c.sensitive {
			t.Errorf("IsSensitiveCategory(%q) = %v, want %v", c.c, got, c.sensitive)
		}
	}
	for _, c := range PersonalCategories {
		if !IsCategory(c) || IsSensitiveCategory(c) {
			t.Errorf("personal category %q: IsCategory %v, IsSensitiveCategory %v; want true, false", c, IsCategory(c), IsSensitiveCategory(c))
		}
	}
	for _, c := range SensitiveCategories {
		if !IsCategory(c) || !IsSensitiveCategory(c) {
			t.Errorf("sensitive category %q: IsCategory %v, IsSensitiveCategory %v; want true, true", c, IsCategory(c), IsSensitiveCategory(c))
		}
	}
}

func TestPurposeProblem(t *testing.T) {
	cases := []struct {
		name, purpose, wantInProblem string // "" wantInProblem: no problem
	}{
		{"empty", "", "purpose is required"},
		{"blank", "  \t ", "purpose is required"},
		{"generic word", "test", "is generic"},
		{"generic word in capitals with spaces", "  TBD ", "is generic"},
		{"generic phrase", "API token", "is generic"},
		{"generic placeholder", "n/a", "is generic"},
		{"short", "billing job", "too short"},
		{"eleven characters", "abcdefghijk", "too short"},
		{"short with a non-ASCII letter", "übertrag", "too short"},
		{"twelve bytes but six characters", "éééééé", "too short"},
		{"twelve non-ASCII characters", "éééééééééééé", ""},
		{"twelve characters", "abcdefghijkl", ""},
		{"specific", "Nightly export of invoices to the billing warehouse", ""},
		{"specific with a generic word inside", "Test harness for the payments sandbox reads orders", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := PurposeProblem(c.purpose)
			switch {
			case c.wantInProblem == "" && got != "":
				t.Errorf("PurposeProblem(%q) = %q, want no problem", c.purpose, got)
			case c.wantInProblem != "" && !strings.Contains(got, c.wantInProblem):
				t.Errorf("PurposeProblem(%q) = %q, want it to contain %q", c.purpose, got, c.wantInProblem)
			}
		})
	}
}

// TestVocabulary_matchesTheBundleData: the Go vocabulary is the bundle's
// (data.tokenguard.vocabulary of policies/data.json), lists and aliases alike, and a
// deprecated name still counts as its current category.
func TestVocabulary_matchesTheBundleData(t *testing.T) {
	src, err := fs.ReadFile(policies.FS, "data.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tokenguard struct {
			Vocabulary struct {
				Personal, Sensitive []string
				Aliases             map[string]string
			}
		}
	}
	if err := json.Unmarshal(src, &doc); err != nil {
		t.Fatal(err)
	}
	v := doc.Tokenguard.Vocabulary
	if !slices.Equal(v.Personal, PersonalCategories) || !slices.Equal(v.Sensitive, SensitiveCategories) || !maps.Equal(v.Aliases, CategoryAliases) {
		t.Fatalf("Go vocabulary differs from policies/data.json:\n go %v %v %v\ndata %v %v %v",
			PersonalCategories, SensitiveCategories, CategoryAliases, v.Personal, v.Sensitive, v.Aliases)
	}
	if !IsCategory("religious_beliefs") || !IsSensitiveCategory("religious_beliefs") || !IsCategory("biometric_information") || IsSensitiveCategory("biometric_information") {
		t.Error("religious_beliefs must stay a (sensitive) category; biometric_information is personal, not sensitive")
	}
}

// TestVocabulary_aliasIsExact: only the exact deprecated name is an alias; folded,
// look-alike or invisible-character spellings are not categories (they are refused as
// unknown, as any other misspelling).
func TestVocabulary_aliasIsExact(t *testing.T) {
	for _, c := range []string{
		"Religious_Beliefs", "religious_beliefs ", " religious_beliefs", "religious_beliefs\u200b",
		"religious\u00adbeliefs", "ｒeligious_beliefs", "religious-beliefs", "religious_belief",
		"Biometric_Information", "biometric_information\u200d", "religious_philosophical_beliefs\u200b",
	} {
		if IsCategory(c) || IsSensitiveCategory(c) {
			t.Errorf("%q is accepted as a category", c)
		}
	}
}

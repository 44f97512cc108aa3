package token

import (
	"slices"
	"strings"
	"testing"
)

func TestVocabulary_hasTheCPRACategoriesOnceEach(t *testing.T) {
	if len(PersonalCategories) != 10 {
		t.Errorf("PersonalCategories has %d entries, want the 10 of 1798.140(v)", len(PersonalCategories))
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

package token

import (
	"strings"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// ReviewKey is the normalised form of a renewal's review (its reason and reviewer), the same
// for every spelling of one review: Unicode compatibility normalisation (NFKC: fullwidth and
// other compatibility forms become their plain letters), invisible and format characters
// (Unicode Cf such as U+200B, other default-ignorable code points, variation selectors)
// removed, case folding and runs of white space collapsed to one space. A review approves one renewal: the service refuses a second
// renewal of a token under a review with the same key, and the provider refuses it at plan.
func ReviewKey(reason, reviewedBy string) string {
	visible := func(r rune) rune {
		if unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) || unicode.Is(unicode.Variation_Selector, r) {
			return -1
		}
		return r
	}
	fold := func(v string) string {
		return strings.Join(strings.Fields(cases.Fold().String(norm.NFKC.String(strings.Map(visible, v)))), " ")
	}
	return fold(reason) + "\x00" + fold(reviewedBy)
}

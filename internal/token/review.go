package token

import (
	"strings"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// ReviewKey is the normalised form of a renewal's review (its reason and reviewer), the same
// for every spelling of one review: Unicode compatibility normalisation (NFKC: fullwidth and
// other compatibility forms become their plain letters), case folding and runs of white
// space collapsed to one space. A review approves one renewal: the service refuses a second
// renewal of a token under a review with the same key, and the provider refuses it at plan.
func ReviewKey(reason, reviewedBy string) string {
	fold := func(v string) string {
		return strings.Join(strings.Fields(cases.Fold().String(norm.NFKC.String(v))), " ")
	}
	return fold(reason) + "\x00" + fold(reviewedBy)
}

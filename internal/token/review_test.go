package token

import "testing"

func TestReviewKeyFoldsSpellingsOfOneReview(t *testing.T) {
	base := ReviewKey("Quarter-end close needs two more weeks", "security@example.com")
	same := []struct{ reason, reviewer string }{
		{"quarter-end close needs two more weeks", "security@example.com"},
		{"  Quarter-end   close needs two more weeks ", "SECURITY@example.com"},
		{"Quarter-end close needs two more weeks", "ｓｅｃｕｒｉｔｙ@example.com"}, // fullwidth
		{"QUARTER-END CLOSE NEEDS\ttwo more weeks", " Security@Example.com"},
		{"Quarter-end\u200b close needs two\u00ad more weeks\ufe0f", "security@example.com"}, // invisible characters
		{"Quarter-end close needs two more weeks", "security@example.com\u2060"},             // word joiner
	}
	for _, c := range same {
		if got := ReviewKey(c.reason, c.reviewer); got != base {
			t.Errorf("ReviewKey(%q, %q) = %q, want the key of the same review %q", c.reason, c.reviewer, got, base)
		}
	}
	differ := []struct{ reason, reviewer string }{
		{"Quarter-end close needs three more weeks", "security@example.com"},
		{"Quarter-end close needs two more weeks", "security2@example.com"},
		{"Quarter-end close needs two more weekssecurity@example.com", ""},
	}
	for _, c := range differ {
		if got := ReviewKey(c.reason, c.reviewer); got == base {
			t.Errorf("ReviewKey(%q, %q) equals the key of another review", c.reason, c.reviewer)
		}
	}
}

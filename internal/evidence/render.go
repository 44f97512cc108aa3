package evidence

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Report formats.
const (
	FormatMarkdown = "markdown"
	FormatJSON     = "json"
	FormatHTML     = "html"
)

// renderers maps each format to its renderer; every renderer presents the same Report.
var renderers = map[string]func(io.Writer, Report) error{
	FormatMarkdown: renderMarkdown,
	FormatJSON:     renderJSON,
	FormatHTML:     renderHTML,
}

// Formats lists the formats Render accepts, for flag help and error messages.
func Formats() []string { return []string{FormatMarkdown, FormatJSON, FormatHTML} }

// Render writes rep to w in format (one of Formats).
func Render(w io.Writer, rep Report, format string) error {
	r, ok := renderers[format]
	if !ok {
		return fmt.Errorf("unknown report format %q: use one of %s", format, strings.Join(Formats(), ", "))
	}
	return r(w, rep)
}

// stamp renders an instant for people, in UTC to the second.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// chainSentence is the verification result in one sentence, the first thing every format says.
func chainSentence(c Chain) string {
	if c.Verified {
		return fmt.Sprintf("Audit chain verified: %d records, each chained to the one before, none missing or altered.", c.Records)
	}
	return fmt.Sprintf("Audit chain BROKEN: %d records verified before the break (%s). The rotations below rest on an audit log that does not verify.",
		c.Records, c.Problem)
}

// summarySentence counts the tokens by verdict.
func summarySentence(s Summary) string {
	return fmt.Sprintf("%d tokens: %d on schedule, %d late, %d with no schedule declared.", s.Tokens, s.OnSchedule, s.Late, s.NoSchedule)
}

// windowSentence says which rotations the report covers.
func windowSentence(rep Report) string {
	if rep.Since == nil {
		return "Generated " + stamp(rep.GeneratedAt) + "; covers every rotation in the audit log."
	}
	return "Generated " + stamp(rep.GeneratedAt) + "; covers rotations since " + stamp(*rep.Since) + "."
}

// gapResult is the people-facing verdict of one gap.
func gapResult(hasInterval, late, open bool) string {
	switch {
	case !hasInterval:
		return "no schedule"
	case late && open:
		return "LATE (overdue)"
	case late:
		return "LATE"
	case open:
		return "within interval so far"
	default:
		return "on time"
	}
}

// untilLabel names the end of an open period.
func untilLabel(p OpenPeriod) string {
	switch p.UntilReason {
	case EndRevoked:
		return "revoked"
	case EndExpired:
		return "expired"
	default:
		return "report time"
	}
}

// dueText renders a due instant, "-" when there is none.
func dueText(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return stamp(*t)
}

package evidence

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// renderMarkdown writes the report as GitHub-flavoured markdown: the chain result first, a
// summary table, then one section per token with every gap.
func renderMarkdown(w io.Writer, rep Report) error {
	b := bufio.NewWriter(w)
	// bufio.Writer keeps the first write error and Flush returns it, so each print need not.
	p := func(format string, a ...any) { _, _ = fmt.Fprintf(b, format, a...) }
	p("# Token rotation evidence\n\n")
	p("**%s**\n\n", chainSentence(rep.AuditChain))
	p("%s\n\n", windowSentence(rep))
	p("%s\n\n", summarySentence(rep.Summary))
	if len(rep.Tokens) > 0 {
		p("| Token | Name | Owner | Status | Interval | Overlap | Rotations | Late gaps | Schedule |\n")
		p("|---|---|---|---|---|---|---|---|---|\n")
		for _, t := range rep.Tokens {
			p("| `%s` | %s | %s | %s | %s | %s | %d | %d | %s |\n", mdCode(t.ID), md(t.Name), md(t.Owner), md(t.Status),
				orDash(t.Interval), md(orDash(t.Overlap)), len(t.Rotations), t.LateGaps, mdVerdict(t.Schedule))
		}
		p("\n")
	}
	for _, t := range rep.Tokens {
		p("## %s (`%s`)\n\n", md(t.Name), mdCode(t.ID))
		p("Owner %s, status %s, created %s. ", md(t.Owner), md(t.Status), stamp(t.CreatedAt))
		if t.Interval == "" {
			p("No rotation interval declared: lateness cannot be judged.\n\n")
		} else {
			p("Declared interval %s, overlap %s. Verdict: %s", t.Interval, md(orDash(t.Overlap)), mdVerdict(t.Schedule))
			if t.LateGaps > 0 {
				p(": %d gap(s) longer than the interval", t.LateGaps)
			}
			p(".\n\n")
		}
		if t.Discrepancy != "" {
			p("> **Discrepancy:** %s.\n\n", md(t.Discrepancy))
		}
		p("| # | From | To | Elapsed | Due by | Result |\n")
		p("|---|---|---|---|---|---|\n")
		for i, r := range t.Rotations {
			p("| %d | %s | %s (audit #%d%s, by `%s`) | %s | %s | %s |\n", i+1, stamp(r.Previous), stamp(r.At), r.Seq,
				versionSuffix(r.SecretVersion), mdCode(r.Actor), r.SincePrevious, dueText(r.DueAt), mdResult(t.Interval != "", r.Late, false))
		}
		o := t.Open
		p("| open | %s | %s (%s) | %s | %s | %s |\n\n", stamp(o.From), stamp(o.Until), untilLabel(o), o.Elapsed, dueText(o.DueAt),
			mdResult(t.Interval != "", o.Late, true))
	}
	return b.Flush()
}

func versionSuffix(v int) string {
	if v == 0 {
		return ""
	}
	return fmt.Sprintf(", v%d", v)
}

func mdVerdict(schedule string) string {
	if schedule == ScheduleLate {
		return "**LATE**"
	}
	return Verdict(schedule)
}

func mdResult(hasInterval, late, open bool) string {
	r := gapResult(hasInterval, late, open)
	if late {
		return "**" + r + "**"
	}
	return r
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// mdReplacer escapes text that comes from the service (names, owners) so it cannot break a
// table or inject markup.
var mdReplacer = strings.NewReplacer(
	`\`, `\\`, "|", `\|`, "*", `\*`, "_", `\_`, "`", "\\`", "[", `\[`, "]", `\]`, "<", "&lt;", ">", "&gt;",
	"#", `\#`, "\r", " ", "\n", " ",
)

func md(s string) string { return mdReplacer.Replace(s) }

// mdCode makes s safe inside a code span: no backticks, pipes or line breaks.
func mdCode(s string) string {
	return strings.NewReplacer("`", "'", "|", "¦", "\r", " ", "\n", " ").Replace(s)
}

package accessreport

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// mdReplacer escapes text from the service so it cannot break a table or inject markup.
var mdReplacer = strings.NewReplacer(
	`\`, `\\`, "|", `\|`, "*", `\*`, "_", `\_`, "`", "\\`", "[", `\[`, "]", `\]`, "<", "&lt;", ">", "&gt;",
	"#", `\#`, "\r", " ", "\n", " ",
)

func md(s string) string { return mdReplacer.Replace(s) }

// mdCode makes s safe inside a code span: no backticks, pipes or line breaks.
func mdCode(s string) string {
	return strings.NewReplacer("`", "'", "|", "¦", "\r", " ", "\n", " ").Replace(s)
}

func renderMarkdown(w io.Writer, a wire.AccessAnswer) error {
	b := bufio.NewWriter(w)
	p := func(format string, args ...any) { _, _ = fmt.Fprintf(b, format, args...) }
	p("# Access request: %s\n\n", md(a.Subject))
	p("Answered %s (audit record %d). Cal. Civ. Code 1798.110 and 1798.115: the personal information the token service collected for this subject, its purposes, and to whom it was disclosed.\n\n",
		stamp(&a.AnsweredAt), a.AuditSeq)
	if a.Erased != nil {
		p("%s\n", md(erasureSentence(a.Erased)))
		return b.Flush()
	}
	p("%s\n", summarySentence(a))
	for _, t := range a.Tokens {
		p("\n## %s (`%s`)\n\n", md(t.Name), mdCode(t.ID))
		p("| | |\n|---|---|\n")
		p("| Purpose | %s |\n", md(t.Purpose))
		p("| Owner | %s |\n", md(t.Owner))
		p("| Status | %s |\n", t.Status)
		p("| Data categories | %s |\n", md(list(t.DataCategories)))
		p("| Disclosed to (audiences) | %s |\n", md(list(t.Audiences)))
		p("| Scopes | %s |\n", md(list(t.Scopes)))
		p("| Bound to | %s |\n", othersText(t.OtherSubjects))
		p("| Created | %s |\n", stamp(&t.CreatedAt))
		p("| Expires | %s |\n", stamp(&t.ExpiresAt))
		p("| Last rotated | %s |\n", stamp(t.RotatedAt))
		p("| Revoked | %s |\n", stamp(t.RevokedAt))
		p("| Last used | %s |\n", stamp(t.LastUsedAt))
		p("\n### History\n\n| When | Event | Particulars | Audit record |\n|---|---|---|---|\n")
		for _, e := range t.History {
			at := e.At
			p("| %s | %s | %s | %d `%s` |\n", stamp(&at), e.Event, md(eventText(e)), e.AuditSeq, mdCode(shortHash(e.AuditHash)))
		}
		active, inactive := totalUses(t.Usage)
		p("\n### Use\n\n%d verifications answered active, %d refused.\n", active, inactive)
		if len(t.Usage) > 0 {
			p("\n| Day (UTC) | Active | Refused |\n|---|---|---|\n")
			for _, d := range t.Usage {
				p("| %s | %d | %d |\n", d.Day, d.Active, d.Inactive)
			}
		}
	}
	return b.Flush()
}

// shortHash is the first 16 hex digits of an audit hash, enough for people to find it.
func shortHash(h string) string {
	if len(h) > 16 {
		return h[:16]
	}
	return h
}

// Package accessreport presents the answer to a consumer's access request (Cal. Civ. Code
// 1798.110 and 1798.115) for people: markdown, json or one self-contained html page. It only
// presents what the service answered (wire.AccessAnswer); it decides nothing, so every
// format says the same.
package accessreport

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// Formats of Render.
const (
	FormatMarkdown = "markdown"
	FormatJSON     = "json"
	FormatHTML     = "html"
)

// Formats lists the formats Render accepts, for flag help and error messages.
func Formats() []string { return []string{FormatMarkdown, FormatJSON, FormatHTML} }

// Render writes a to w in format (one of Formats).
func Render(w io.Writer, a wire.AccessAnswer, format string) error {
	switch format {
	case FormatMarkdown:
		return renderMarkdown(w, a)
	case FormatJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(a)
	case FormatHTML:
		return htmlTemplate.Execute(w, view(a))
	}
	return fmt.Errorf("unknown format %q: use one of %s", format, strings.Join(Formats(), ", "))
}

// stamp renders an instant for people, in UTC to the second; "-" for none.
func stamp(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// erasureSentence is the whole answer after a completed deletion request.
func erasureSentence(e *wire.AccessErasure) string {
	return fmt.Sprintf("This data subject's personal information was erased on %s (deletion request %s). "+
		"The token service holds nothing else about it: no token is bound to it any more.",
		e.ErasedAt.UTC().Format(time.DateOnly), e.DeletionRequestID)
}

// summarySentence counts the tokens of an answer.
func summarySentence(a wire.AccessAnswer) string {
	if len(a.Tokens) == 0 {
		return "No token of this service was ever bound to this data subject."
	}
	n := map[string]int{}
	for _, t := range a.Tokens {
		n[t.Status]++
	}
	return fmt.Sprintf("%d tokens were bound to this data subject (%d active, %d expired, %d revoked).",
		len(a.Tokens), n["active"], n["expired"], n["revoked"])
}

// othersText says how many other subjects share a token, never who.
func othersText(n int) string {
	switch n {
	case 0:
		return "this subject only"
	case 1:
		return "this subject and 1 other subject"
	}
	return "this subject and " + strconv.Itoa(n) + " other subjects"
}

// list joins a set for people; "none" when empty.
func list(v []string) string {
	if len(v) == 0 {
		return "none"
	}
	return strings.Join(v, ", ")
}

// eventText is one history entry's particulars for people.
func eventText(e wire.AccessEvent) string {
	var parts []string
	switch e.Event {
	case wire.AccessRotated:
		if e.SecretVersion > 0 {
			parts = append(parts, fmt.Sprintf("secret version %d", e.SecretVersion))
		}
	case wire.AccessRenewed:
		if e.ExpiresAt != nil {
			parts = append(parts, "now expires "+stamp(e.ExpiresAt))
		}
		if e.Reviewer != "" {
			parts = append(parts, "reviewed by "+e.Reviewer)
		}
	case wire.AccessUpdated:
		if len(e.Changed) > 0 {
			parts = append(parts, "changed "+strings.Join(e.Changed, ", "))
		}
	}
	if e.Reason != "" {
		parts = append(parts, "reason: "+e.Reason)
	}
	return strings.Join(parts, "; ")
}

// totalUses sums a token's verifications.
func totalUses(u []wire.AccessUsageDay) (active, inactive int64) {
	for _, d := range u {
		active += d.Active
		inactive += d.Inactive
	}
	return active, inactive
}

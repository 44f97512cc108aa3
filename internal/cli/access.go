package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/accessreport"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

type accessOptions struct {
	subject, format, output string
	connect                 connectFunc
}

// newAccessCommand is `tokenguard access`: a consumer's access request (Cal. Civ. Code
// 1798.110 and 1798.115) answered by a running service.
func newAccessCommand(s *streams) *cobra.Command {
	var (
		cf clientFlags
		o  accessOptions
	)
	cmd := &cobra.Command{
		Use:   "access --subject SUBJECT [--format markdown|json|html] [--output FILE]",
		Short: "Answer a consumer's access request: every token bound to the subject, its purpose, recipients, history and use",
		Long: `Ask the token service what it holds about one data subject (Cal. Civ. Code 1798.110 and
1798.115): every token ever bound to the subject, revoked and expired ones included, with its
purpose, owner, data categories, audiences (to whom the data was disclosed), scopes, its
history from the audit log (created, rotated, renewed with reason and reviewer, revoked) and
its verifications per day. No secret and no fingerprint is ever answered; of other subjects a
token is bound to only their number. After a completed deletion request for the subject the
answer is the erasure notice and nothing else.

The service audits every access request with the subject's keyed blind index (never the
subject). A reader credential is enough (an admin one works too); one restricted to an
owner is refused, as the answer is about every owner.

The answer holds personal data: --output writes it with mode 0600.

Exit codes: 0 answered, 1 service or network failure, 2 usage error or request refused.`,
		Example: `  tokenguard access --subject customer:4411
  tokenguard access --subject customer:4411 --format html --output dsar-4411.html`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.connect = cf.connector(cmd)
			return runAccess(cmd.Context(), s, o)
		},
	}
	cf.register(cmd)
	f := cmd.Flags()
	f.StringVar(&o.subject, "subject", "", "the data subject who asked, as in data_subjects, e.g. customer:4411")
	f.StringVar(&o.format, "format", accessreport.FormatMarkdown, "answer format: "+strings.Join(accessreport.Formats(), ", "))
	f.StringVarP(&o.output, "output", "o", "", "write the answer to this file (mode 0600) instead of standard output")
	return cmd
}

// runAccess sends the access request and writes the answer.
func runAccess(ctx context.Context, s *streams, o accessOptions) error {
	if strings.TrimSpace(o.subject) == "" {
		return withCode(ExitUsage, errors.New("give --subject SUBJECT: the data subject as in data_subjects, e.g. customer:4411"))
	}
	if !slices.Contains(accessreport.Formats(), o.format) {
		return withCode(ExitUsage, fmt.Errorf("--format %q: use one of %s", o.format, strings.Join(accessreport.Formats(), ", ")))
	}
	c, err := o.connect()
	if err != nil {
		return err
	}
	answer, err := c.CreateAccessRequest(ctx, wire.AccessRequest{Subject: o.subject})
	if err != nil {
		return apiFailure(err)
	}
	var buf bytes.Buffer
	if err := accessreport.Render(&buf, answer, o.format); err != nil {
		return err
	}
	if o.output == "" {
		_, err := s.out.Write(buf.Bytes())
		return err
	}
	if err := os.WriteFile(o.output, buf.Bytes(), 0o600); err != nil {
		return withCode(ExitUsage, fmt.Errorf("--output: %w", err))
	}
	// The answer is written; a failed notice must not read as a failed answer.
	_, _ = fmt.Fprintf(s.err, "wrote the access answer (%s, %d tokens) to %s\n", o.format, len(answer.Tokens), o.output)
	return nil
}

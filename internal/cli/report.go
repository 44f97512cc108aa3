package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/evidence"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

func newReportCommand(s *streams) *cobra.Command {
	return newReportCommandWithClock(s, time.Now)
}

// newReportCommandWithClock is newReportCommand with the clock that decides "now" (the end of
// every open period), so tests can pin it.
func newReportCommandWithClock(s *streams, now func() time.Time) *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Evidence reports for auditors, read from a running service",
	}
	cf.register(cmd)
	cmd.AddCommand(newReportRotationCommand(s, &cf, now))
	cmd.AddCommand(newReportEvidenceCommand(s, &cf, now))
	cmd.AddCommand(newReportVerifyCommand(s, &cf))
	return cmd
}

func newReportRotationCommand(s *streams, cf *clientFlags, now func() time.Time) *cobra.Command {
	o := reportRotationOptions{now: now}
	cmd := &cobra.Command{
		Use:   "rotation",
		Short: "Show, per token, the declared rotation schedule, every rotation in the audit log and which gaps were late",
		Long: `Build the rotation evidence report: the audit-chain verification result first, then for
each token its declared interval and overlap, every rotation the audit log records, and each
gap measured against the interval. A gap longer than the interval is marked late; so is the
open period since the last rotation when it already runs longer. Tokens without an interval are
listed as "no schedule declared". Revoked and expired tokens end their timeline at revocation
or expiry. Lateness is measured against the interval each token declares now: the audit log
records that a rotation policy changed, not its earlier values.

The whole audit chain is read and verified through the API (admin credential needed); its
records are HMACs under the audit key, so the key file is needed to verify them (--key-file).
The report is written even when the chain does not verify, and says so at the top; the exit
code is then 1. With --fail-on-late the exit code is also 1 when any rotation
was late, so a scheduled CI job fails on it.

Formats: markdown (default), json, html (one self-contained file with a timeline per token).`,
		Example: `  tokenguard report rotation --since 2030-01-01 --format html --output rotation.html`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyEnv(cmd, map[string]string{"key-file": "TOKENGUARD_KEY_FILE"}); err != nil {
				return err
			}
			o.connect = cf.connector(cmd)
			return runReportRotation(cmd.Context(), s, o)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.failOnLate, "fail-on-late", false, "exit 1 when any rotation was late")
	f.StringVar(&o.sinceText, "since", "", "only rotations from this date on: YYYY-MM-DD (UTC midnight) or RFC 3339")
	f.StringVar(&o.format, "format", evidence.FormatMarkdown, "report format: "+strings.Join(evidence.Formats(), ", "))
	f.StringVarP(&o.output, "output", "o", "", "write the report to this file instead of standard output")
	f.StringVar(&o.keyFile, "key-file", "", "key file of the service, to verify the audit chain's HMACs (env TOKENGUARD_KEY_FILE)")
	return cmd
}

type reportRotationOptions struct {
	sinceText, format, output, keyFile string
	failOnLate                         bool
	now                                func() time.Time // the end of every open period
	connect                            connectFunc
}

// runReportRotation reads and verifies the audit chain and the tokens, and writes the
// rotation report.
func runReportRotation(ctx context.Context, s *streams, o reportRotationOptions) error {
	if !validFormat(o.format) {
		return withCode(ExitUsage, fmt.Errorf("--format %q: use one of %s", o.format, strings.Join(evidence.Formats(), ", ")))
	}
	var since time.Time
	if o.sinceText != "" {
		var err error
		if since, err = parseSince(o.sinceText); err != nil {
			return withCode(ExitUsage, err)
		}
		if since.After(o.now()) {
			return withCode(ExitUsage, fmt.Errorf("--since %s is in the future: nothing to report", o.sinceText))
		}
	}
	v, err := newReportVerifier(o.keyFile)
	if err != nil {
		return err
	}
	c, err := o.connect()
	if err != nil {
		return err
	}
	records, chain, err := readAuditChain(ctx, c, v)
	if err != nil {
		return err
	}
	tokens, err := listAllTokens(ctx, c, wire.ListTokensOptions{})
	if err != nil {
		return err
	}
	rep, err := evidence.Build(evidence.Input{Tokens: tokens, Records: records, Chain: chain, Since: since, Now: o.now})
	if err != nil {
		return withCode(ExitFindings, err)
	}
	var buf bytes.Buffer
	if err := evidence.Render(&buf, rep, o.format); err != nil {
		return withCode(ExitFindings, err)
	}
	if o.output == "" {
		if _, err := s.out.Write(buf.Bytes()); err != nil {
			return err
		}
	} else {
		if err := os.WriteFile(o.output, buf.Bytes(), 0o644); err != nil { //nolint:gosec // the report holds no secret; auditors read it
			return withCode(ExitUsage, fmt.Errorf("--output: %w", err))
		}
		// A note on stderr about a file already written: if stderr fails there is nowhere to say so.
		_, _ = fmt.Fprintf(s.err, "wrote the rotation report (%s, %d tokens, %d late) to %s\n", o.format, rep.Summary.Tokens, rep.Summary.Late, o.output)
	}
	if !chain.Verified {
		return withCode(ExitFindings, fmt.Errorf("the audit chain does not verify: %s", chain.Problem))
	}
	if o.failOnLate && rep.Summary.Late > 0 {
		return withCode(ExitFindings, fmt.Errorf("--fail-on-late: %d rotation(s) late (the report lists them)", rep.Summary.Late))
	}
	return nil
}

func validFormat(f string) bool {
	for _, v := range evidence.Formats() {
		if f == v {
			return true
		}
	}
	return false
}

// parseSince reads --since: a date (UTC midnight) or an RFC 3339 instant.
func parseSince(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("--since %q: use a date such as 2030-01-31 or an RFC 3339 instant such as 2030-01-31T09:00:00Z", s)
}

// readAuditChain reads the whole audit log through the API, verifying every record in order
// with v as tokenguard audit verify does, and keeps the rotation records. A broken chain (or
// one v cannot check without the key file) is not an error here: it is reported in the
// Chain result, and reading goes on so the report still shows what the log says.
func readAuditChain(ctx context.Context, c *client.Client, v *audit.Verifier) ([]audit.Record, evidence.Chain, error) {
	var rotations []audit.Record
	chain, err := walkVerifiedChain(ctx, c, v, -1, func(rec audit.Record) error {
		if rec.Action == audit.ActionRotate {
			rotations = append(rotations, rec)
		}
		return nil
	})
	return rotations, chain, err
}

// newReportVerifier is the audit-chain verifier of the report commands: with the key file
// keyFile when one is given ("": none), else one that can check only unkeyed records (the
// report then says the chain was not verified, and why).
func newReportVerifier(keyFile string) (*audit.Verifier, error) {
	keys, err := auditKeyFile(keyFile, "", false)
	if err != nil || keys == nil {
		return &audit.Verifier{}, err
	}
	return audit.NewVerifier(keys), nil
}

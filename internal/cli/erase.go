package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// erasedSubjectsData is the policy data document of the erased subjects, the shape
// `tokenguard check --data` and the provider's policy data file merge over the bundle's
// data: {"tokenguard": {"erased_subjects": [...]}}.
type erasedSubjectsData struct {
	Tokenguard struct {
		ErasedSubjects []string `json:"erased_subjects"`
	} `json:"tokenguard"`
}

type eraseOptions struct {
	subject, reference, export, idemKey string
	categories                          []string
	dryRun, asJSON, yes                 bool
	connect                             connectFunc
}

// newEraseCommand is `tokenguard erase`: a consumer's deletion request (Cal. Civ. Code
// 1798.105) on a running service, and the export of the erased subjects for the policy gates.
func newEraseCommand(s *streams) *cobra.Command {
	var (
		cf clientFlags
		o  eraseOptions
	)
	cmd := &cobra.Command{
		Use:   "erase --subject SUBJECT [--categories a,b] [--dry-run] [--export FILE]",
		Short: "Act on a consumer's deletion request: revoke every token bound to the subject and list the holders to notify",
		Long: `Send a deletion request (Cal. Civ. Code 1798.105) to the token service. In one transaction
the service revokes every token bound to the subject (introspection answers inactive at
once), lists every other live token whose data categories reach the request's categories
(their holders must be told to delete the subject's data), and stores the request and its
result as an evidence record, kept for the service's retention (default 24 months).

--dry-run shows what would happen and changes nothing; it names the tokens that are bound to
other subjects too, whom revoking them cuts off.

An erasure is permanent, so a subject that matches no token and no earlier deletion request
(a typo, most likely) is refused unless --yes confirms it.

--export FILE writes every erased subject as policy data, {"tokenguard": {"erased_subjects":
[...]}}, for "tokenguard check --data FILE" and the provider's policy data: CPRA-DEL-001 then
blocks a plan that re-issues a token for an erased subject. The file holds personal data and
is written with mode 0600. --export may be given without --subject.

Exit codes: 0 done, 1 service or network failure, 2 usage error or request refused.`,
		Example: `  tokenguard erase --subject customer:4411 --dry-run
  tokenguard erase --subject customer:4411 --categories commercial,identifiers --reference DSR-2026-0042
  tokenguard erase --export erased.json && tokenguard check --data erased.json plan.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.connect = cf.connector(cmd)
			return runErase(cmd.Context(), s, o)
		},
	}
	cf.register(cmd)
	f := cmd.Flags()
	f.StringVar(&o.subject, "subject", "", "the data subject who asked for deletion, as in data_subjects, e.g. customer:4411")
	f.StringSliceVar(&o.categories, "categories", nil, "CPRA data categories to delete, comma-separated (default: every category)")
	f.BoolVar(&o.dryRun, "dry-run", false, "show what the request would revoke and whom to notify; change nothing")
	f.StringVar(&o.reference, "reference", "", "your reference for the request, e.g. a ticket number (never personal data)")
	f.StringVar(&o.export, "export", "", "write every erased subject as policy data to FILE (mode 0600)")
	f.StringVar(&o.idemKey, "idempotency-key", "", "Idempotency-Key to send (default: a new random key)")
	f.BoolVar(&o.asJSON, "json", false, "print JSON instead of tables")
	f.BoolVar(&o.yes, "yes", false, "confirm a deletion request for a subject that matches no token and no earlier request")
	return cmd
}

// runErase sends the deletion request of o.subject and prints its result, then writes the
// --export file.
func runErase(ctx context.Context, s *streams, o eraseOptions) error {
	if strings.TrimSpace(o.subject) == "" && o.export == "" {
		return withCode(ExitUsage, errors.New("give --subject SUBJECT to send a deletion request, or --export FILE to export the erased subjects"))
	}
	if o.subject == "" && (o.dryRun || len(o.categories) > 0 || o.reference != "") {
		return withCode(ExitUsage, errors.New("--dry-run, --categories and --reference need --subject"))
	}
	c, err := o.connect()
	if err != nil {
		return err
	}
	if o.subject != "" && !o.dryRun && !o.yes {
		if err := confirmUnknownSubject(ctx, c, o); err != nil {
			return err
		}
	}
	if o.subject != "" {
		res, err := c.CreateDeletionRequest(ctx, wire.DeletionRequest{
			Subject: o.subject, Categories: o.categories, DryRun: o.dryRun, Reference: o.reference,
		}, o.idemKey)
		if err != nil {
			return apiFailure(err)
		}
		if o.asJSON {
			err = writeJSONOut(s.out, res)
		} else {
			err = printDeletion(s.out, res)
		}
		if err != nil {
			return err
		}
	}
	if o.export == "" {
		return nil
	}
	// After a request, a failed export must not read as a failed request.
	done := ""
	if o.subject != "" && !o.dryRun {
		done = "the deletion request was recorded, but the export failed: "
	}
	subjects, err := c.ErasedSubjects(ctx)
	if err != nil {
		return apiFailure(fmt.Errorf("%s%w", done, err))
	}
	if err := writeErasedSubjects(o.export, subjects); err != nil {
		return withCode(ExitUsage, fmt.Errorf("%s%w", done, err))
	}
	if !o.asJSON {
		// The export is written; a failed notice must not read as a failed export.
		_, _ = fmt.Fprintf(s.out, "exported %d erased subject(s) to %s: use it with tokenguard check --data %s\n", len(subjects), o.export, o.export)
	}
	return nil
}

// confirmUnknownSubject refuses a deletion request for a subject that matches no token and
// no earlier request: the request is recorded for 24 months and blocks the subject at every
// gate, so a typo must not become one silently. A dry run tells whether any token matches.
func confirmUnknownSubject(ctx context.Context, c *client.Client, o eraseOptions) error {
	dry, err := c.CreateDeletionRequest(ctx, wire.DeletionRequest{Subject: o.subject, Categories: o.categories, DryRun: true}, "")
	if err != nil {
		return apiFailure(err)
	}
	if len(dry.Revoked) > 0 {
		return nil
	}
	erased, err := c.ErasedSubjects(ctx)
	if err != nil {
		return apiFailure(err)
	}
	if slices.Contains(erased, o.subject) {
		return nil
	}
	return withCode(ExitUsage, fmt.Errorf("subject %q matches no token and no earlier deletion request: an erasure is permanent, "+
		"so check the spelling (tokenguard token list --subject), then repeat with --yes if it is right", o.subject))
}

// printDeletion prints a deletion result as two tables: the tokens revoked, and the token
// holders to notify.
func printDeletion(w io.Writer, res wire.DeletionResult) error {
	// Built in memory (printing into a bytes.Buffer cannot fail) and written once.
	var out, revoked, notify bytes.Buffer
	cats := strings.Join(res.Categories, ", ")
	if res.DryRun {
		fmt.Fprintf(&out, "Dry run: nothing was changed. Categories: %s\n\n", cats)
		fmt.Fprintf(&out, "Would revoke %d token(s) bound to the subject:\n", len(res.Revoked))
	} else {
		fmt.Fprintf(&out, "Deletion request %s %s at %s; evidence kept until %s. Categories: %s\n\n",
			res.ID, res.Status, fmtTime(&res.RequestedAt), fmtTime(res.RetainUntil), cats)
		fmt.Fprintf(&out, "Revoked %d token(s) bound to the subject:\n", len(res.Revoked))
	}
	fmt.Fprintln(&revoked, "TOKEN\tNAME\tFINGERPRINT\tOTHER SUBJECTS")
	shared := 0
	for _, r := range res.Revoked {
		fmt.Fprintf(&revoked, "%s\t%s\t%s\t%d\n", r.TokenID, r.Name, r.Fingerprint, r.OtherSubjects)
		if r.OtherSubjects > 0 {
			shared++
		}
	}
	if err := writeTable(&out, &revoked); err != nil {
		return err
	}
	if shared > 0 {
		verb := "cuts"
		if res.DryRun {
			verb = "would cut"
		}
		fmt.Fprintf(&out, "%d of these token(s) are bound to other subjects too: revoking them %s those subjects off as well.\n", shared, verb)
	}
	fmt.Fprintf(&out, "\nNotify the holders of %d token(s) reaching these categories (their systems may hold the subject's data):\n", len(res.Notify))
	fmt.Fprintln(&notify, "TOKEN\tNAME\tOWNER\tDATA CATEGORIES\tAUDIENCES")
	for _, n := range res.Notify {
		fmt.Fprintf(&notify, "%s\t%s\t%s\t%s\t%s\n", n.TokenID, n.Name, n.Owner, joinOrDash(n.DataCategories), joinOrDash(n.Audiences))
	}
	if err := writeTable(&out, &notify); err != nil {
		return err
	}
	_, err := w.Write(out.Bytes())
	return err
}

// writeErasedSubjects writes subjects as policy data to path, mode 0600, atomically: a
// temporary file in the same directory, synced, then renamed over path, so a reader never
// sees a partial file and a failure leaves an existing file as it was.
func writeErasedSubjects(path string, subjects []string) (err error) {
	var doc erasedSubjectsData
	doc.Tokenguard.ErasedSubjects = subjects
	if doc.Tokenguard.ErasedSubjects == nil {
		doc.Tokenguard.ErasedSubjects = []string{}
	}
	body, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("--export: encoding: %w", err)
	}
	body = append(body, '\n')
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("--export %s: %w", path, unwrapPath(err))
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	// CreateTemp makes the file with mode 0600 already; say so for readers of this code.
	if err = tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("--export %s: %w", path, unwrapPath(err))
	}
	if _, err = tmp.Write(body); err != nil {
		return fmt.Errorf("--export %s: %w", path, unwrapPath(err))
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("--export %s: %w", path, unwrapPath(err))
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("--export %s: %w", path, unwrapPath(err))
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("--export %s: %w", path, unwrapPath(err))
	}
	return nil
}

// erasedSubjectsDataFile fetches the erased subjects from the service connect reaches (for
// `tokenguard check --service`) and writes them as policy data to a new temporary file of mode 0600. The
// caller passes the file to the policy engine and calls cleanup, which removes it, when the
// engine has read it.
func erasedSubjectsDataFile(ctx context.Context, connect connectFunc) (path string, cleanup func(), err error) {
	c, err := connect()
	if err != nil {
		return "", nil, err
	}
	subjects, err := c.ErasedSubjects(ctx)
	if err != nil {
		return "", nil, apiFailure(fmt.Errorf("--service: reading the erased subjects: %w", err))
	}
	dir, err := os.MkdirTemp("", "tokenguard-erased-")
	if err != nil {
		return "", nil, withCode(ExitUsage, fmt.Errorf("--service: %w", err))
	}
	cleanup = func() { _ = os.RemoveAll(dir) }
	path = filepath.Join(dir, "erased-subjects.json")
	if err := writeErasedSubjects(path, subjects); err != nil {
		cleanup()
		return "", nil, withCode(ExitUsage, err)
	}
	return path, cleanup, nil
}

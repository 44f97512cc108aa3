package cli

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// auditPageSize is how many records audit verify reads per request.
const auditPageSize = 1000

func newAuditCommand(s *streams) *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Work with the hash-chained audit log",
	}
	cf.register(cmd)
	cmd.AddCommand(newAuditVerifyCommand(s, &cf))
	return cmd
}

func newAuditVerifyCommand(s *streams, cf *clientFlags) *cobra.Command {
	var dbPath string
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Verify the audit chain of a running service, or of a database file with --db",
		Long: `Verify every record of the audit chain, in order: sequence numbers without gaps, each
record chained to the hash of the one before, each hash matching its content.

Without --db the records are read from the service at --endpoint (admin credential needed).
With --db FILE the SQLite database is read directly, e.g. from a backup.

Exit 0 with the number of records when the chain verifies, 1 naming the first broken record.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var v audit.Verifier
			var err error
			if dbPath != "" {
				err = verifyDatabase(cmd.Context(), dbPath, &v)
			} else {
				var c *client.Client
				if c, err = cf.newClient(cmd); err != nil {
					return err
				}
				err = verifyService(cmd.Context(), c, &v)
			}
			if errors.Is(err, audit.ErrBroken) {
				// Exit 1 and the error on stderr carry the verdict even if this line cannot be written.
				_, _ = fmt.Fprintf(s.out, "audit chain BROKEN after %d good records\n", v.Count())
				return withCode(ExitFindings, err)
			}
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(s.out, "audit chain verified: %d records\n", v.Count())
			return err
		},
	}
	cmd.Flags().StringVar(&dbPath, "db", "", "verify this database (a SQLite file or a postgres:// URL) instead of asking a service")
	return cmd
}

// verifyService verifies the audit chain of the service at c, record by record in sequence
// order, stopping at the first broken record (audit.ErrBroken).
func verifyService(ctx context.Context, c *client.Client, v *audit.Verifier) error {
	return eachAuditRecord(ctx, c, auditPageSize, v.Add)
}

// eachAuditRecord reads the whole audit log of the service at c through GET /v1/audit,
// pageSize records a request, and calls fn on every record in sequence order. It stops at
// the first error: fn's, returned as it is, or the API's, with its exit code. Callers decide
// what a broken chain means: audit verify stops at it, the rotation report notes it and
// reads on.
func eachAuditRecord(ctx context.Context, c *client.Client, pageSize int, fn func(audit.Record) error) error {
	var after int64
	for {
		page, err := c.ListAudit(ctx, after, pageSize)
		if err != nil {
			return apiFailure(err)
		}
		for _, r := range page.Records {
			if err := fn(r.Record()); err != nil {
				return err
			}
			after = r.Seq
		}
		if len(page.Records) == 0 || page.NextPageToken == "" {
			return nil
		}
	}
}

func verifyDatabase(ctx context.Context, path string, v *audit.Verifier) error {
	if !isPostgresURL(path) {
		if _, err := os.Stat(path); err != nil {
			return withCode(ExitUsage, fmt.Errorf("--db: %w", err))
		}
	}
	st, err := openDatabase(ctx, path)
	if err != nil {
		return withCode(ExitUsage, err)
	}
	// Only read: the verdict is settled by View, and closing cannot change it.
	defer func() { _ = st.Close() }()
	return st.View(ctx, func(r store.Reader) error {
		var after int64
		for {
			recs, err := r.ListAudit(ctx, after, auditPageSize)
			if err != nil {
				return withCode(ExitFindings, fmt.Errorf("reading the audit log: %w", err))
			}
			for _, rec := range recs {
				if err := v.Add(rec); err != nil {
					return err
				}
				after = rec.Seq
			}
			if len(recs) < auditPageSize {
				return nil
			}
		}
	})
}

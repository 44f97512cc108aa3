package cli

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/keyring"
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
	cmd.AddCommand(newAuditVerifyCommand(s, &cf), newAuditCheckpointCommand(s, &cf))
	return cmd
}

func newAuditVerifyCommand(s *streams, cf *clientFlags) *cobra.Command {
	var o auditVerifyOptions
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Verify the audit chain of a running service, or of a database with --db",
		Long: `Verify every record of the audit chain, in order: sequence numbers without gaps, each
record chained to the hash of the one before, each hash matching its content. Records are
HMACs under the audit key of the key file (--key-file), so the key file is needed; records
written before the chain was keyed (plain SHA-256) are accepted only before the first keyed
one.

Without --db the records are read from the service at --endpoint (admin credential needed).
With --db the database is read directly (a SQLite file, e.g. a backup, or a postgres:// URL);
the key file defaults to <db>.key beside a SQLite file.

--checkpoint FILE (repeatable) names files of signed checkpoints, one per line, as
tokenguard serve --audit-checkpoint and tokenguard audit checkpoint write them. Every
signature is checked (a forged checkpoint is refused), and the chain must extend every
checkpoint: a chain that ends before one, or whose record differs from one, was truncated,
rolled back or rewritten.

Exit 0 printing the head verified (sequence number and hash) when the chain verifies, 1
naming the first bad record, 2 when the key file or a checkpoint file cannot be used.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyEnv(cmd, map[string]string{"key-file": "TOKENGUARD_KEY_FILE"}); err != nil {
				return err
			}
			o.connect = cf.connector(cmd)
			return runAuditVerify(cmd.Context(), s, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dbPath, "db", "", "verify this database (a SQLite file or a postgres:// URL) instead of asking a service")
	f.StringVar(&o.keyFile, "key-file", "", "key file of the service (default <db>.key beside a SQLite --db; env TOKENGUARD_KEY_FILE)")
	f.StringArrayVar(&o.checkpoints, "checkpoint", nil, "file of signed checkpoints the chain must extend (repeatable)")
	return cmd
}

func newAuditCheckpointCommand(s *streams, cf *clientFlags) *cobra.Command {
	var o auditCheckpointOptions
	cmd := &cobra.Command{
		Use:   "checkpoint",
		Short: "Print a signed checkpoint of the audit chain's head, to keep where the database is not",
		Long: `Print one signed checkpoint of the audit chain's head (sequence number, hash, time and
first keyed record, signed with the Ed25519 checkpoint key of the key file), as one line of a
checkpoint file. Append it to a file kept away from the database; tokenguard audit verify
--checkpoint FILE then fails unless the chain extends it.

Without --db the running service at --endpoint signs it (admin credential needed), after
committing its pending verification records. With --db the head is read from the database
and signed here with --key-file (default <db>.key beside a SQLite file).

--public-key prints instead the public checkpoint key of every key set of --key-file, one
"KEY_ID BASE64" line each: publish them, so that auditors check the checkpoints of evidence
packs with a key they did not take from the pack (tokenguard report verify --checkpoint-key).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyEnv(cmd, map[string]string{"key-file": "TOKENGUARD_KEY_FILE"}); err != nil {
				return err
			}
			o.connect = cf.connector(cmd)
			return runAuditCheckpoint(cmd.Context(), s, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dbPath, "db", "", "sign the head of this database (a SQLite file or a postgres:// URL) instead of asking a service")
	f.StringVar(&o.keyFile, "key-file", "", "key file of the service, with --db or --public-key (default <db>.key beside a SQLite --db; env TOKENGUARD_KEY_FILE)")
	f.BoolVar(&o.publicKey, "public-key", false, "print the public checkpoint key of each key set of --key-file instead")
	return cmd
}

type auditVerifyOptions struct {
	dbPath, keyFile string
	checkpoints     []string
	connect         connectFunc
}

// runAuditVerify verifies the audit chain of the service, or of the database o.dbPath, and
// that it extends every checkpoint of o.checkpoints.
func runAuditVerify(ctx context.Context, s *streams, o auditVerifyOptions) error {
	keys, err := auditKeyFile(o.keyFile, o.dbPath, len(o.checkpoints) > 0)
	if err != nil {
		return err
	}
	v := &audit.Verifier{}
	if keys != nil {
		v = audit.NewVerifier(keys)
	}
	var cps []audit.Checkpoint
	for _, path := range o.checkpoints {
		read, err := readCheckpointFile(path)
		if err != nil {
			return err
		}
		cps = append(cps, read...)
	}
	if len(o.checkpoints) > 0 {
		if err := v.Expect(cps, keys); err != nil {
			return withCode(ExitFindings, err)
		}
	}
	if o.dbPath != "" {
		err = verifyDatabase(ctx, o.dbPath, v)
	} else {
		var c *client.Client
		if c, err = o.connect(); err != nil {
			return err
		}
		err = verifyService(ctx, c, v)
	}
	if err == nil {
		err = v.Finish()
	}
	if errors.Is(err, audit.ErrBroken) {
		// Exit 1 and the error on stderr carry the verdict even if this line cannot be written.
		_, _ = fmt.Fprintf(s.out, "audit chain BROKEN after %d good records\n", v.Count())
		return withCode(ExitFindings, err)
	}
	if errors.Is(err, audit.ErrNoKey) {
		return withCode(ExitUsage, fmt.Errorf("%w (--key-file or TOKENGUARD_KEY_FILE)", err))
	}
	if err != nil {
		return err
	}
	head := v.Head()
	if head.Seq == 0 {
		head.Hash = audit.GenesisHash
	}
	_, err = fmt.Fprintf(s.out, "audit chain verified: %d records\nhead: record %d, hash %s\n", v.Count(), head.Seq, head.Hash)
	if err == nil && len(o.checkpoints) > 0 {
		_, err = fmt.Fprintf(s.out, "extends all %d signed checkpoints\n", len(cps))
	}
	return err
}

type auditCheckpointOptions struct {
	dbPath, keyFile string
	publicKey       bool
	connect         connectFunc
}

// runAuditCheckpoint prints a signed checkpoint of the audit head: the service's, or one
// signed here for the database o.dbPath.
func runAuditCheckpoint(ctx context.Context, s *streams, o auditCheckpointOptions) error {
	if o.publicKey {
		return printCheckpointKeys(s, o.keyFile, o.dbPath)
	}
	var cp audit.Checkpoint
	if o.dbPath == "" {
		c, err := o.connect()
		if err != nil {
			return err
		}
		if cp, err = c.AuditCheckpoint(ctx); err != nil {
			return apiFailure(err)
		}
	} else {
		keys, err := auditKeyFile(o.keyFile, o.dbPath, true)
		if err != nil {
			return err
		}
		if cp, err = signDatabaseCheckpoint(ctx, o.dbPath, keys); err != nil {
			return err
		}
	}
	_, err := s.out.Write(cp.MarshalLine())
	return err
}

// printCheckpointKeys prints the public checkpoint key of every key set of the key file.
func printCheckpointKeys(s *streams, keyFile, dbPath string) error {
	keys, err := auditKeyFile(keyFile, dbPath, true)
	if err != nil {
		return err
	}
	for _, id := range keys.KeyIDs() {
		pub, _ := keys.CheckpointKey(id)
		if _, err := fmt.Fprintf(s.out, "%s %s\n", id, base64.StdEncoding.EncodeToString(pub)); err != nil {
			return err
		}
	}
	return nil
}

// auditKeyFile loads the key file for audit verification: keyFile, or the default key file
// of a SQLite db. Without one it returns nil (records then need no key or fail with
// audit.ErrNoKey), unless required.
func auditKeyFile(keyFile, db string, required bool) (*keyring.Keyring, error) {
	if keyFile == "" && db != "" && !isPostgresURL(db) {
		if def, _ := defaultKeyFile(db); required || fileExists(def) {
			keyFile = def
		}
	}
	if keyFile == "" {
		if required {
			return nil, withCode(ExitUsage, errors.New("signed checkpoints need the key file: give --key-file (or TOKENGUARD_KEY_FILE)"))
		}
		return nil, nil
	}
	keys, err := keyring.Load(keyFile)
	if err != nil {
		return nil, withCode(ExitUsage, err)
	}
	return keys, nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

// readCheckpointFile reads every checkpoint line of path.
func readCheckpointFile(path string) ([]audit.Checkpoint, error) {
	f, err := os.Open(path) //nolint:gosec // G304: the operator names the checkpoint file
	if err != nil {
		return nil, withCode(ExitUsage, fmt.Errorf("--checkpoint: %w", err))
	}
	// Only read: closing cannot lose anything.
	defer func() { _ = f.Close() }()
	cps, err := audit.ReadCheckpoints(f, path)
	if err != nil {
		return nil, withCode(ExitUsage, err)
	}
	return cps, nil
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
	return eachAuditRecordAfter(ctx, c, 0, pageSize, fn)
}

// eachAuditRecordAfter is eachAuditRecord from the record after sequence number after on.
func eachAuditRecordAfter(ctx context.Context, c *client.Client, after int64, pageSize int, fn func(audit.Record) error) error {
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

// openAuditDatabase opens the database at path for reading its audit log.
func openAuditDatabase(ctx context.Context, path string) (store.Store, error) {
	if !isPostgresURL(path) {
		if _, err := os.Stat(path); err != nil {
			return nil, withCode(ExitUsage, fmt.Errorf("--db: %w", err))
		}
	}
	st, err := openDatabase(ctx, path)
	if err != nil {
		return nil, withCode(ExitUsage, err)
	}
	return st, nil
}

func verifyDatabase(ctx context.Context, path string, v *audit.Verifier) error {
	st, err := openAuditDatabase(ctx, path)
	if err != nil {
		return err
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

// signDatabaseCheckpoint signs the audit head of the database at path with keys.
func signDatabaseCheckpoint(ctx context.Context, path string, keys *keyring.Keyring) (audit.Checkpoint, error) {
	st, err := openAuditDatabase(ctx, path)
	if err != nil {
		return audit.Checkpoint{}, err
	}
	// Only read: the head is read by View, and closing cannot change it.
	defer func() { _ = st.Close() }()
	var (
		head      audit.Record
		keyedFrom int64
	)
	err = st.View(ctx, func(r store.Reader) error {
		var err error
		head, keyedFrom, err = r.AuditHead(ctx)
		return err
	})
	if err != nil {
		return audit.Checkpoint{}, withCode(ExitFindings, fmt.Errorf("reading the audit head: %w", err))
	}
	return keys.SignCheckpoint(head, keyedFrom, time.Now()), nil
}

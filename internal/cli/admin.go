package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/keyring"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store/postgres"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store/sqlite"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/token"
)

// newAdminCommand is "tokenguard admin": maintenance of the service's own database and keys,
// run on the machine that holds them (not through the API).
func newAdminCommand(s *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Maintain the token service's database and keys (run where the files are)",
	}
	cmd.AddCommand(newAdminRekeyCommand(s))
	cmd.AddCommand(newAdminPurgeCommand(s))
	return cmd
}

func newAdminPurgeCommand(s *streams) *cobra.Command {
	var db, keyFile, olderThan string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "purge",
		Short: "Delete tokens revoked or expired longer ago than --older-than (audit log and evidence stay)",
		Long: `Delete, in one transaction, every token revoked or expired more than --older-than ago
(default 90d, the default of serve --token-retention), with its data-subject blind indexes,
and append one tokens.purge audit record with the count and the cutoff. The audit log and
the evidence of deletion requests are never touched: the history of a purged token stays in
tokenguard audit, but the token no longer appears in listings, inventory or reports.

A running service does the same every hour with its --token-retention; this command is for a
purge now, or with another age. --dry-run counts the tokens without deleting anything.

--db is the SQLite database file or the postgres:// URL the service uses (the URL may also
come from TOKENGUARD_DB); with PostgreSQL, --key-file is required (the audit record is
chained under its audit key).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyEnv(cmd, map[string]string{"db": "TOKENGUARD_DB", "key-file": "TOKENGUARD_KEY_FILE"}); err != nil {
				return err
			}
			return runAdminPurge(cmd.Context(), s, adminPurgeOptions{db: db, keyFile: keyFile, olderThan: olderThan, dryRun: dryRun})
		},
	}
	f := cmd.Flags()
	f.StringVar(&db, "db", "", "SQLite database file or postgres:// URL of the service (required; env TOKENGUARD_DB)")
	f.StringVar(&keyFile, "key-file", "", "key file (default <db>.key beside a SQLite database; required with PostgreSQL; env TOKENGUARD_KEY_FILE)")
	f.StringVar(&olderThan, "older-than", "90d", "purge tokens revoked or expired longer ago than this, e.g. 90d or 2160h")
	f.BoolVar(&dryRun, "dry-run", false, "count the tokens that would be purged; delete nothing")
	return cmd
}

type adminPurgeOptions struct {
	db        string
	keyFile   string
	olderThan string
	dryRun    bool
}

// runAdminPurge deletes the tokens retired longer ago than o.olderThan from the database o.db.
func runAdminPurge(ctx context.Context, s *streams, o adminPurgeOptions) error {
	usage := func(format string, args ...any) error { return withCode(ExitUsage, fmt.Errorf(format, args...)) }
	retention, err := token.ParseDuration(o.olderThan)
	if err != nil {
		return usage("--older-than: %v", err)
	}
	if retention <= 0 {
		return usage("--older-than %s: give a positive duration, e.g. 90d", o.olderThan)
	}
	o.keyFile, err = adminKeyFile(s, o.db, o.keyFile)
	if err != nil {
		return err
	}
	keys, err := keyring.Load(o.keyFile)
	if err != nil {
		return withCode(ExitFindings, err)
	}
	st, err := openDatabase(ctx, o.db)
	if err != nil {
		return withCode(ExitFindings, err)
	}
	// For the early return; the success path closes the store and checks the error.
	defer func() { _ = st.Close() }()
	st.SetAuditKey(keys.CurrentAuditKey())
	res, err := server.PurgeRetiredTokens(ctx, st, retention, time.Now(), "admin-cli", true, o.dryRun)
	if err != nil {
		return withCode(ExitFindings, err)
	}
	if err := st.Close(); err != nil {
		return withCode(ExitFindings, fmt.Errorf("closing the database: %w", err))
	}
	verb := "purged"
	if o.dryRun {
		verb = "dry run, nothing deleted: would purge"
	}
	_, _ = fmt.Fprintf(s.out, "tokenguard: %s %d tokens revoked or expired before %s (older than %s)\n",
		verb, res.Purged, res.Cutoff.Format(time.RFC3339), token.FormatDuration(retention))
	return nil
}

// adminKeyFile checks --db and returns the key file of an admin command: --key-file, or the
// default beside a SQLite database (with a warning on stderr for the pre-0.3 name).
func adminKeyFile(s *streams, db, keyFile string) (string, error) {
	usage := func(format string, args ...any) error { return withCode(ExitUsage, fmt.Errorf(format, args...)) }
	if strings.TrimSpace(db) == "" {
		return "", usage("--db is required: give the path of the SQLite database file or the postgres:// URL the service uses")
	}
	if isPostgresURL(db) {
		if keyFile == "" {
			// The URL is not echoed: it may hold a password.
			return "", usage("--key-file is required with a PostgreSQL --db: give the key file the services use")
		}
		return keyFile, nil
	}
	if _, err := os.Stat(db); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", usage("--db %s does not exist: give the database the service uses", db)
		}
		return "", withCode(ExitFindings, err)
	}
	if keyFile == "" {
		var legacy bool
		if keyFile, legacy = defaultKeyFile(db); legacy {
			// A warning before the work; if stderr fails there is nowhere to say so.
			_, _ = fmt.Fprintf(s.err, "warning: using %s, the default key file before 0.3: rename it to %s.key\n", keyFile, db)
		}
	}
	return keyFile, nil
}

func newAdminRekeyCommand(s *streams) *cobra.Command {
	var db, keyFile string
	var newKey, force bool
	cmd := &cobra.Command{
		Use:   "rekey",
		Short: "Re-encrypt personal fields and stored responses under the current key (--new-key adds one first)",
		Long: `Re-encrypt, in one transaction, every value sealed under an older key: each token's
owner and data subjects, the stored idempotent responses (they hold the secrets minted then),
the data subject of each deletion-request evidence record and the owner of each
owner-restricted credential. With --new-key, first add a new key set to the key file and
make it current.

--db is the SQLite database file or the postgres:// URL the service uses (the URL may also
come from TOKENGUARD_DB); with PostgreSQL, --key-file is required.

Stop every service on the database first. A running service keeps the keyring it started
with and cannot read values sealed under a key it does not hold, so rekey refuses while one
holds the database (a SQLite service holds a lock on <db>.lock; a PostgreSQL instance holds
an advisory lock on a session of its own) and says so; nothing is changed. Services started
while rekey runs wait for it (PostgreSQL) or refuse to start (SQLite). --force rekeys anyway:
then restart every running service at once, and copy the key file to every instance first.

Older key sets stay in the key file: secret hashes cannot be recomputed without the secrets,
so live tokens and credentials keep verifying under the key their hash was made with until
their next rotation (rotate them before removing an older key set). Blind indexes and fingerprints keep their key (it is carried over), so lookups by
owner or data subject and audit references stay valid.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyEnv(cmd, map[string]string{"db": "TOKENGUARD_DB", "key-file": "TOKENGUARD_KEY_FILE"}); err != nil {
				return err
			}
			return runAdminRekey(cmd.Context(), s, adminRekeyOptions{db: db, keyFile: keyFile, newKey: newKey, force: force})
		},
	}
	f := cmd.Flags()
	f.StringVar(&db, "db", "", "SQLite database file or postgres:// URL of the service (required; env TOKENGUARD_DB)")
	f.StringVar(&keyFile, "key-file", "", "key file (default <db>.key beside a SQLite database; required with PostgreSQL; env TOKENGUARD_KEY_FILE)")
	f.BoolVar(&newKey, "new-key", false, "add a new key set to the key file and make it current before re-encrypting")
	f.BoolVar(&force, "force", false, "rekey even while a service holds the database; restart every service right after")
	return cmd
}

type adminRekeyOptions struct {
	db      string
	keyFile string
	newKey  bool
	force   bool
}

// runAdminRekey re-encrypts the values of the database o.db sealed under an older key (after adding a key with o.newKey).
func runAdminRekey(ctx context.Context, s *streams, o adminRekeyOptions) error {
	var err error
	o.keyFile, err = adminKeyFile(s, o.db, o.keyFile)
	if err != nil {
		return err
	}
	// The lock comes before the database is opened and the key file touched: a refusal
	// changes nothing.
	release := func() {}
	if !isPostgresURL(o.db) {
		lock, err := sqlite.HoldForMaintenance(o.db)
		switch {
		case errors.Is(err, store.ErrServiceRunning) && o.force:
			_, _ = fmt.Fprintf(s.err, "warning: --force: %v; rekeying anyway: restart it afterwards\n", err)
		case errors.Is(err, store.ErrServiceRunning):
			return withCode(ExitFindings, fmt.Errorf("admin rekey: %w: stop the service, run rekey, then start it again (or pass --force and restart the service right after)", err))
		case err != nil:
			return withCode(ExitFindings, err)
		default:
			release = func() { _ = lock.Release() }
		}
	}
	defer func() { release() }()
	var st store.Store
	if isPostgresURL(o.db) {
		pg, err := postgres.Open(ctx, o.db)
		if err != nil {
			return withCode(ExitFindings, err)
		}
		st = pg
		// For the early return; the success path closes the store and checks the error.
		defer func() { _ = pg.Close() }()
		lock, err := pg.HoldForMaintenance(ctx)
		switch {
		case errors.Is(err, store.ErrServiceRunning) && o.force:
			_, _ = fmt.Fprintf(s.err, "warning: --force: %v; rekeying anyway: restart them afterwards\n", err)
		case errors.Is(err, store.ErrServiceRunning):
			return withCode(ExitFindings, fmt.Errorf("admin rekey: %w: stop every instance, run rekey, copy the key file to every instance and start them again (or pass --force and restart every instance right after)", err))
		case err != nil:
			return withCode(ExitFindings, err)
		default:
			release = func() { _ = lock.Release() }
		}
	}
	if o.newKey {
		id, err := keyring.AddKey(o.keyFile, time.Now())
		if err != nil {
			return withCode(ExitFindings, err)
		}
		// The key is added; failing the command now would invite a retry that adds another.
		_, _ = fmt.Fprintf(s.out, "tokenguard: added key %s to %s and made it current\n", id, o.keyFile)
	}
	keys, err := keyring.Load(o.keyFile)
	if err != nil {
		return withCode(ExitFindings, err)
	}
	if st == nil { // SQLite: opened once the key file is known to be good
		if st, err = sqlite.Open(ctx, o.db); err != nil {
			return withCode(ExitFindings, err)
		}
		defer func() { _ = st.Close() }()
	}
	res, err := server.Rekey(ctx, st, keys, time.Now())
	if err != nil {
		return withCode(ExitFindings, err)
	}
	if err := st.Close(); err != nil {
		return withCode(ExitFindings, fmt.Errorf("closing the database: %w", err))
	}
	_, _ = fmt.Fprintf(s.out, "tokenguard: re-encrypted under key %s: %d tokens read, %d personal-field values re-encrypted, "+
		"%d stored responses re-encrypted, %d deletion-request subjects re-encrypted, "+
		"%d credentials read, %d credential owners re-encrypted\n",
		res.KeyID, res.TokensSeen, res.EnvelopesResealed, res.ResponsesResealed, res.SubjectsResealed,
		res.CredentialsSeen, res.OwnersResealed)
	if o.force {
		_, _ = fmt.Fprintln(s.out, "tokenguard: --force: restart running services now so they load the key file")
	} else if o.newKey {
		_, _ = fmt.Fprintln(s.out, "tokenguard: no service held the database; services started from now on load the new key (copy the key file to every instance first)")
	}
	return nil
}

// isPostgresURL reports whether db names a PostgreSQL database (a postgres:// or
// postgresql:// URL) rather than a SQLite file.
func isPostgresURL(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// openDatabase opens the service database db: PostgreSQL for a postgres:// URL, else the
// SQLite file at that path (created if missing). Errors never show a password.
func openDatabase(ctx context.Context, db string) (store.Store, error) {
	if isPostgresURL(db) {
		return postgres.Open(ctx, db)
	}
	return sqlite.Open(ctx, db)
}

// databaseLabel names db for logs and messages: a SQLite path as it is, a PostgreSQL URL
// as scheme, host and database only (its user info and parameters may hold a password).
func databaseLabel(db string) string {
	if !isPostgresURL(db) {
		return db
	}
	u, err := url.Parse(db)
	if err != nil {
		return "the PostgreSQL database (URL not shown)"
	}
	return u.Scheme + "://" + u.Host + u.EscapedPath()
}

package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/keyring"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store/sqlite"
)

// newAdminCommand is "tokenguard admin": maintenance of the service's own database and keys,
// run on the machine that holds them (not through the API).
func newAdminCommand(s *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Maintain the token service's database and keys (run where the files are)",
	}
	cmd.AddCommand(newAdminRekeyCommand(s))
	return cmd
}

func newAdminRekeyCommand(s *streams) *cobra.Command {
	var db, keyFile string
	var newKey bool
	cmd := &cobra.Command{
		Use:   "rekey",
		Short: "Re-encrypt personal fields and stored responses under the current key (--new-key adds one first)",
		Long: `Re-encrypt, in one transaction, every value sealed under an older key: each token's
owner and data subjects, and the stored idempotent responses (when the database backend
supports it). With --new-key, first add a new key set to the key file and make it current.

Older key sets stay in the key file: secret hashes cannot be recomputed without the secrets,
so live tokens keep verifying under the key their hash was made with until their next
rotation. Blind indexes and fingerprints keep their key (it is carried over), so lookups by
owner or data subject and audit references stay valid.

Restart running services after adding a key: a service keeps the keyring it started with and
cannot read values sealed under a key it does not hold.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			usage := func(format string, args ...any) error { return withCode(ExitUsage, fmt.Errorf(format, args...)) }
			if strings.TrimSpace(db) == "" {
				return usage("--db is required: give the path of the SQLite database file")
			}
			if strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://") {
				// The URL is not echoed: it may hold a password.
				return usage("--db: PostgreSQL is not supported by rekey yet: give the path of a SQLite database file")
			}
			if _, err := os.Stat(db); err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return usage("--db %s does not exist: give the database the service uses", db)
				}
				return withCode(ExitFindings, err)
			}
			if keyFile == "" {
				keyFile = filepath.Join(filepath.Dir(db), "tokenguard.key")
			}
			if newKey {
				id, err := keyring.AddKey(keyFile, time.Now())
				if err != nil {
					return withCode(ExitFindings, err)
				}
				fmt.Fprintf(s.out, "tokenguard: added key %s to %s and made it current\n", id, keyFile)
			}
			keys, err := keyring.Load(keyFile)
			if err != nil {
				return withCode(ExitFindings, err)
			}
			st, err := sqlite.Open(cmd.Context(), db)
			if err != nil {
				return withCode(ExitFindings, err)
			}
			defer st.Close()
			res, err := server.Rekey(cmd.Context(), st, keys, time.Now())
			if err != nil {
				return withCode(ExitFindings, err)
			}
			if err := st.Close(); err != nil {
				return withCode(ExitFindings, fmt.Errorf("closing the database: %w", err))
			}
			fmt.Fprintf(s.out, "tokenguard: re-encrypted under key %s: %d tokens read, %d personal-field values re-encrypted",
				res.KeyID, res.TokensSeen, res.EnvelopesResealed)
			if res.ResponsesSupported {
				fmt.Fprintf(s.out, ", %d stored responses re-encrypted\n", res.ResponsesResealed)
			} else {
				fmt.Fprintln(s.out, "; stored idempotent responses stay under their old key (this database backend cannot list them yet)")
			}
			if newKey {
				fmt.Fprintln(s.out, "tokenguard: restart running services so they load the new key")
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&db, "db", "", "SQLite database file of the service (required)")
	f.StringVar(&keyFile, "key-file", "", "key file (default tokenguard.key next to the database)")
	f.BoolVar(&newKey, "new-key", false, "add a new key set to the key file and make it current before re-encrypting")
	return cmd
}

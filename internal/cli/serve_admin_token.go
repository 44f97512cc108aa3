package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/server"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// bootstrapAdmin installs the first admin credential when the database has none: the value of
// TOKENGUARD_ADMIN_TOKEN, or a generated secret written once to <db>.admin-token (mode 0600),
// where db is the SQLite path (or the key file's path for PostgreSQL).
func bootstrapAdmin(ctx context.Context, s *streams, log *slog.Logger, st store.Store, srv *server.Server, db string) error {
	n, err := countCredentials(ctx, st)
	if err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	if secret, ok := os.LookupEnv(envAdminToken); ok && secret != "" {
		created, err := srv.Bootstrap(ctx, secret)
		if err != nil {
			return fmt.Errorf("%s: %w", envAdminToken, err)
		}
		if created {
			log.Info("installed the admin credential from " + envAdminToken)
		}
		return nil
	}
	path := db + ".admin-token"
	secret, err := adminTokenFile(path)
	if err != nil {
		return err
	}
	created, err := srv.Bootstrap(ctx, secret)
	if err != nil {
		return err
	}
	if created {
		// The credential is committed either way; the log line below names the file too.
		_, _ = fmt.Fprintf(s.out, "tokenguard: admin credential written to %s (mode 0600): read it, store it safely, then delete the file\n", path)
		log.Info("admin credential written", "path", path)
	}
	return nil
}

// adminTokenFile returns the secret in path, creating the file with a new secret if missing.
// An existing file is reused: it is what a previous start wrote before it could commit, or
// what another instance starting at the same moment wrote first.
//
// A new file appears whole or not at all: the secret is written to a temporary file (mode
// 0600) in the same directory and synced, then hard-linked to path, which fails if path
// exists, so another writer's file is never overwritten. On any failure the temporary file is
// removed and path is never created: a failed start (a full disk, a file size limit) leaves
// nothing behind that would stop the next start, which writes a fresh secret.
func adminTokenFile(path string) (string, error) {
	if secret, err := readAdminTokenFile(path); !errors.Is(err, fs.ErrNotExist) {
		return secret, err
	}
	secret, err := server.NewCredentialSecret()
	if err != nil {
		return "", err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".tokenguard-admin-token-*") // mode 0600
	if err != nil {
		return "", fmt.Errorf("writing the admin credential file in %s: %w", dir, err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) //nolint:errcheck // best effort: after a link path keeps the content, after a failure nothing is left to keep
	// After a failed write or sync the write error is the one to report; Close adds nothing.
	if _, err := tmp.WriteString(secret + "\n"); err != nil {
		_ = tmp.Close()
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) { // another instance wrote it first: use theirs
			return readAdminTokenFile(path)
		}
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil { //nolint:gosec // G304: the directory of the operator's --db or key file
		// Best effort: the file is complete and linked; this makes the link survive a power loss.
		_ = d.Sync()
		_ = d.Close() // a read-only directory handle: closing it cannot lose data
	}
	return secret, nil
}

// readAdminTokenFile returns the secret held in the admin credential file at path, or an
// error wrapping fs.ErrNotExist when there is no such file.
//
// The file is adopted only when the service user owns it and its mode gives group and others
// no access (checkPrivateFile): checked on the open file, so it cannot be swapped in between.
func readAdminTokenFile(path string) (string, error) {
	link, err := os.Lstat(path) //nolint:gosec // G703: path derives from the operator's --db
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	if link.Mode()&fs.ModeSymlink != 0 {
		return "", fmt.Errorf("%s is a symbolic link: the admin credential file is adopted only as a file of its own; replace the link with the file, or delete it and start again", path)
	}
	f, err := os.Open(path) //nolint:gosec // G304: path derives from the operator's --db
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	defer f.Close() //nolint:errcheck // read-only
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	if !os.SameFile(link, fi) {
		return "", fmt.Errorf("%s changed while it was read: start again", path)
	}
	if !fi.IsDir() { // a directory fails the read below, naming it
		if err := checkPrivateFile(path, fi); err != nil {
			return "", err
		}
	}
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	if existing := strings.TrimSpace(string(b)); existing != "" {
		return existing, nil
	}
	return "", fmt.Errorf("%s exists but is empty: delete it and start again", path)
}

func countCredentials(ctx context.Context, st store.Store) (int, error) {
	var n int
	err := st.View(ctx, func(r store.Reader) error {
		var err error
		n, err = r.CountCredentials(ctx)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("reading credentials: %w", err)
	}
	return n, nil
}

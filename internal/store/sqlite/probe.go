package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// probeBytes is the room ProbeWrite asks the file system for: more than one group commit of
// verification records takes in the WAL (256 records of a few hundred bytes), so a probe that
// passes means the next batch has room.
const probeBytes = 256 << 10

// errProbed ends ProbeWrite's write transaction: nothing is kept.
var errProbed = errors.New("sqlite: write probe done")

// ProbeWrite (store.Store) takes the write lock (a write transaction, rolled back: SQLite
// writes nothing for it) and then writes and syncs probeBytes to a temporary file beside the
// database, removed at once. SQLite grows the WAL and the database file in that directory, so
// a full disk fails the probe with store.ErrStorageFull, a read-only file system with
// store.ErrUnavailable, and a write lock held by another process past ctx's deadline with
// store.ErrBusy.
func (s *Store) ProbeWrite(ctx context.Context) error {
	err := s.Update(ctx, func(store.Tx) error { return errProbed })
	if !errors.Is(err, errProbed) {
		if err == nil {
			err = errors.New("sqlite: write probe: the transaction committed")
		}
		return err
	}
	return probeRoom(filepath.Dir(s.path))
}

// probeRoom writes and syncs probeBytes to a new temporary file in dir and removes it.
func probeRoom(dir string) (err error) {
	f, err := os.CreateTemp(dir, ".tokenguard-write-probe-*")
	if err != nil {
		return classifyFileError(fmt.Errorf("sqlite: write probe in %s: %w", dir, err))
	}
	defer func() {
		_ = f.Close()
		if rmErr := os.Remove(f.Name()); rmErr != nil && err == nil {
			err = fmt.Errorf("sqlite: removing the write probe %s: %w", f.Name(), rmErr)
		}
	}()
	if _, err := f.Write(make([]byte, probeBytes)); err != nil {
		return classifyFileError(fmt.Errorf("sqlite: write probe in %s: %w", dir, err))
	}
	if err := f.Sync(); err != nil {
		return classifyFileError(fmt.Errorf("sqlite: write probe in %s: %w", dir, err))
	}
	return nil
}

// classifyFileError marks an error of the file system under the database: no space (ENOSPC,
// EDQUOT) is storage full; a read-only file system (EROFS) or an I/O error (EIO) is
// unavailable.
func classifyFileError(err error) error {
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return store.Fault(store.ErrStorageFull, err)
	case errors.Is(err, syscall.EROFS), errors.Is(err, syscall.EIO):
		return store.Fault(store.ErrUnavailable, err)
	}
	return err
}

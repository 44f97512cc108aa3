package sqlite

import (
	"fmt"

	"github.com/gofrs/flock"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// ServiceLockPath is the lock file beside the database at path: a running service holds a
// shared lock on it (flock on Unix, LockFileEx on Windows) for as long as it runs, and
// admin rekey an exclusive one. The file stays empty and is never removed: removing a lock
// file while another process has it open would let two processes lock two different files.
func ServiceLockPath(path string) string { return path + ".lock" }

// ServiceLock is a held lock on a database's ServiceLockPath.
type ServiceLock struct{ f *flock.Flock }

// Release releases the lock. The operating system releases it too when the process ends,
// however it ends.
func (l *ServiceLock) Release() error { return l.f.Close() }

// HoldAsService takes the shared lock a running service holds on the database at path.
// Several services may hold it at once; it fails, without waiting, while an admin command
// holds the exclusive lock.
func HoldAsService(path string) (*ServiceLock, error) {
	f := flock.New(ServiceLockPath(path))
	ok, err := f.TryRLock()
	if err != nil {
		return nil, lockFileError(path, err)
	}
	if !ok {
		return nil, fmt.Errorf("sqlite: %s is locked by an admin command (admin rekey) changing the keys of %s: start the service again when it has finished", ServiceLockPath(path), path)
	}
	return &ServiceLock{f: f}, nil
}

// HoldForMaintenance takes the exclusive lock on the database at path, for a command that
// must not run beside a service. While a service holds its shared lock it fails at once with
// an error that is store.ErrServiceRunning. While the exclusive lock is held, no service can
// start on the database.
func HoldForMaintenance(path string) (*ServiceLock, error) {
	f := flock.New(ServiceLockPath(path))
	ok, err := f.TryLock()
	if err != nil {
		return nil, lockFileError(path, err)
	}
	if !ok {
		return nil, fmt.Errorf("%w: a tokenguard serve process (or another admin command) holds the lock on %s", store.ErrServiceRunning, ServiceLockPath(path))
	}
	return &ServiceLock{f: f}, nil
}

// lockFileError says what to do when the lock file cannot be opened or locked.
func lockFileError(path string, err error) error {
	return fmt.Errorf("sqlite: cannot lock %s (%w): it must be a regular file tokenguard can create and write beside the database; remove whatever is in its place",
		ServiceLockPath(path), err)
}
